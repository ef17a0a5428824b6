import Foundation
import Testing

/// Random damage to the shipped specs. Every mutant must end with exit 0 or 1, never a crash or a
/// hang; every exit 1 must start with a located `FILE:LINE:COL: error:` line. The kinds of damage
/// that always make a spec wrong (renamed, duplicated or deleted required keys, mistyped values,
/// bytes that are not text) must exit 1; truncation may leave a valid spec (cut between layers).
@Suite("Mutations of the shipped specs")
struct MutationTests {
    enum Kind: String, CaseIterable {
        case renameKey, duplicateKey, deleteRequiredKey, mistypeValue, insertBadBytes, truncate
        var alwaysWrong: Bool { self != .truncate }
    }

    /// A copy of networks/ in a temporary folder, so mutants sit beside the bases they name.
    static func scratchCopy() throws -> String {
        let directory = NSTemporaryDirectory() + "strata-mutants-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: packageRoot + "/networks", toPath: directory)
        return directory
    }

    static func specs(in directory: String) throws -> [String] {
        let top = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.map { "\(directory)/\($0)" }
        let variants = try FileManager.default.contentsOfDirectory(atPath: directory + "/variants").filter { $0.hasSuffix(".yaml") }
            .map { "\(directory)/variants/\($0)" }
        return (top + variants).sorted()
    }

    @Test func twoThousandMutantsEndWithALocatedErrorOrAValidSpec() throws {
        let directory = try Self.scratchCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let originals = try Self.specs(in: directory).map { ($0, try Data(contentsOf: URL(fileURLWithPath: $0))) }
        var generator = SplitMix64(seed: 2026)
        var counts: [Kind: (errors: Int, valid: Int)] = [:]
        var subprocessChecks = 0
        for index in 0..<2000 {
            let (path, original) = originals[Int(generator.next() % UInt64(originals.count))]
            let kind = Kind.allCases[index % Kind.allCases.count]
            guard let mutant = Mutator.mutate(Array(original), kind: kind, using: &generator) else {
                Issue.record("\(kind) found nothing to mutate in \(path)")
                continue
            }
            let mutantPath = (path as NSString).deletingLastPathComponent + "/mutant.yaml"
            try Data(mutant).write(to: URL(fileURLWithPath: mutantPath))
            // Every 40th mutant also goes through the real executable, where a crash would show as a signal.
            let run = index % 40 == 0 ? try strataProcess(["check", mutantPath]) : strata("check", mutantPath)
            if index % 40 == 0 { subprocessChecks += 1 }
            let context = Comment(rawValue: "mutant #\(index) (\(kind)) of \(path):\n\(String(decoding: mutant.prefix(3000), as: UTF8.self))\n---\n\(run.errors)")
            #expect(run.status == 0 || run.status == 1, context)
            if run.status == 1 {
                #expect(isLocatedError(run.errors.split(separator: "\n").first ?? ""), context)
                counts[kind, default: (0, 0)].errors += 1
            } else {
                #expect(!kind.alwaysWrong, context)
                counts[kind, default: (0, 0)].valid += 1
            }
        }
        print("mutants by kind (exit 1 / exit 0): " + Kind.allCases.map { "\($0): \(counts[$0]?.errors ?? 0)/\(counts[$0]?.valid ?? 0)" }.joined(separator: ", "))
        #expect(counts.values.reduce(0) { $0 + $1.errors + $1.valid } == 2000)
        #expect(subprocessChecks == 50)
        // Most truncations cut a line in half; a cut between whole layers leaves a valid spec.
        #expect((counts[.truncate]?.errors ?? 0) > (counts[.truncate]?.valid ?? 0))
    }
}

/// Textual damage to a spec, aimed at its keys and values (comments are left alone).
enum Mutator {
    static let requiredFlowKeys: Set<String> = ["name", "op", "filters", "kernel", "units", "channels", "height", "width"]

    /// A key occurrence: where the key starts and ends, and whether it sits in a flow mapping.
    struct KeySite {
        var line: Int
        var start: Int
        var end: Int
        var key: String
        var inFlow: Bool
    }

    static func keySites(_ lines: [[UInt8]]) -> [KeySite] {
        var sites: [KeySite] = []
        for (n, line) in lines.enumerated() {
            // Only the part before a comment.
            var limit = line.count
            for i in line.indices where line[i] == UInt8(ascii: "#") && (i == 0 || line[i - 1] == UInt8(ascii: " ")) {
                limit = i
                break
            }
            var i = 0
            while i < limit {
                let c = line[i]
                let startsWord = i == 0 || [UInt8(ascii: " "), UInt8(ascii: "{"), UInt8(ascii: ",")].contains(line[i - 1])
                if startsWord && isKeyCharacter(c) && !(c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
                    var j = i
                    while j < limit && isKeyCharacter(line[j]) { j += 1 }
                    if j < limit && line[j] == UInt8(ascii: ":") && (j + 1 == limit || line[j + 1] == UInt8(ascii: " ")) {
                        let inFlow = line[..<i].contains(UInt8(ascii: "{"))
                        sites.append(KeySite(line: n, start: i, end: j, key: String(decoding: line[i..<j], as: UTF8.self), inFlow: inFlow))
                    }
                    i = j
                } else {
                    i += 1
                }
            }
        }
        return sites
    }

    static func isKeyCharacter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
    }

    /// The end of a flow value starting at `start`: the first ',' or '}' outside brackets.
    static func valueEnd(_ line: [UInt8], from start: Int) -> Int {
        var depth = 0
        var i = start
        while i < line.count {
            switch line[i] {
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "}"): if depth == 0 { return i }; depth -= 1
            case UInt8(ascii: ","): if depth == 0 { return i }
            case UInt8(ascii: "#") where line[i - 1] == UInt8(ascii: " "): return i
            default: break
            }
            i += 1
        }
        return i
    }

    static func pick<T>(_ items: [T], _ g: inout SplitMix64) -> T? {
        items.isEmpty ? nil : items[Int(g.next() % UInt64(items.count))]
    }

    static func mutate(_ bytes: [UInt8], kind: MutationTests.Kind, using g: inout SplitMix64) -> [UInt8]? {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        let sites = keySites(lines)
        func joined() -> [UInt8] { Array(lines.joined(separator: [UInt8(ascii: "\n")])) }
        switch kind {
        case .renameKey:
            guard let s = pick(sites, &g) else { return nil }
            lines[s.line].replaceSubrange(s.start..<s.end, with: Array("zq\(s.key)x".utf8))
            return joined()
        case .duplicateKey:
            guard let s = pick(sites, &g) else { return nil }
            if s.inFlow {
                let end = valueEnd(lines[s.line], from: s.end + 1)
                let pair = Array(lines[s.line][s.start..<end])
                lines[s.line].insert(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")] + pair, at: end)
            } else {
                lines.insert(lines[s.line], at: s.line + 1)
            }
            return joined()
        case .deleteRequiredKey:
            // Keys that a layer (a line with `op:`) or the input mapping cannot do without; a variant that
            // only changes its base has none, and gets a renamed key instead.
            let required = sites.filter { site in
                let text = String(decoding: lines[site.line], as: UTF8.self)
                return site.inFlow && requiredFlowKeys.contains(site.key) && (text.contains(" op: ") || text.hasPrefix("input:"))
            }
            guard let s = pick(required, &g) else { return mutate(bytes, kind: .renameKey, using: &g) }
            var end = valueEnd(lines[s.line], from: s.end + 1)
            if end < lines[s.line].count && lines[s.line][end] == UInt8(ascii: ",") { end += 1 }
            lines[s.line].removeSubrange(s.start..<end)
            return joined()
        case .mistypeValue:
            guard let s = pick(sites, &g) else { return nil }
            let end = s.inFlow ? valueEnd(lines[s.line], from: s.end + 1) : lines[s.line].count
            lines[s.line].replaceSubrange((s.end + 1)..<end, with: Array(" [[]]".utf8))
            return joined()
        case .insertBadBytes:
            // Bytes that are never valid in a spec: C0 controls (not tab or newline), DEL, and bytes that do not start UTF-8 text.
            let bad: [UInt8] = Array(0x00...0x08) + [0x0B, 0x0C] + Array(0x0E...0x1F) + [0x7F] + Array(0x80...0xBF) + [0xC0, 0xC1, 0xF5, 0xFF]
            var out = bytes
            for _ in 0..<(1 + Int(g.next() % 3)) {
                out.insert(bad[Int(g.next() % UInt64(bad.count))], at: Int(g.next() % UInt64(out.count + 1)))
            }
            return out
        case .truncate:
            return Array(bytes.prefix(Int(g.next() % UInt64(bytes.count))))
        }
    }
}
