import StrataDiagnostics
import Yams

/// YAML text → `SpecNode` tree. The only place that talks to Yams.
///
/// Hostile input ends quickly with a located error: files over `maximumBytes` are refused, text that
/// is not UTF-8 is reported at its first bad byte, aliases are refused before Yams composes (an alias
/// bomb would otherwise expand exponentially when Yams hashes mapping keys), and libyaml itself stops
/// nesting deeper than 1000 levels.
public enum YAMLReader {
    /// Specs are a few kilobytes; a megabyte is already absurd.
    public static let maximumBytes = 1 << 20

    /// Decodes `bytes` (the file's content) as UTF-8 and parses it.
    public static func parse(bytes: [UInt8], file: String) throws(DiagnosticError) -> (text: String, root: SpecNode) {
        if bytes.count > maximumBytes {
            throw DiagnosticError(.error(
                "spec is \(bytes.count) bytes; specs larger than \(maximumBytes) bytes are refused",
                at: SourceLocation(file: file, line: 1, column: 1)))
        }
        if let bad = firstInvalidUTF8(bytes) {
            throw DiagnosticError(.error(
                "spec is not UTF-8 text: invalid byte 0x\(String(bytes[bad], radix: 16, uppercase: true))",
                at: location(ofByte: bad, in: bytes, file: file)))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return (text, try parse(text: text, file: file))
    }

    /// Parses YAML text into a node tree; an empty document is an empty mapping.
    public static func parse(text: String, file: String) throws(DiagnosticError) -> SpecNode {
        if let (line, column) = AliasScanner.firstAlias(in: text) {
            throw DiagnosticError(.error(
                "YAML aliases are not allowed in a spec",
                at: SourceLocation(file: file, line: line, column: column),
                notes: [.note("to reuse a network, write a variant with 'base:'")]))
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw DiagnosticError(diagnostic(for: error, text: text, file: file))
        } catch {
            throw DiagnosticError(.error("invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1)))
        }
        guard let node else {
            return SpecNode(.mapping([]), at: SourceLocation(file: file, line: 1, column: 1))
        }
        var bag = DiagnosticBag()
        let root = convert(node, file: file, bag: &bag)
        try bag.throwIfErrors()
        return root
    }

    private static func loc(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private static func convert(_ node: Node, file: String, bag: inout DiagnosticBag) -> SpecNode {
        switch node {
        case .scalar(let s):
            return SpecNode(.scalar(s.string, plain: s.style == .plain && (s.tag.rawValue.isEmpty || s.tag.rawValue == "!" || s.tag.rawValue == "?")), at: loc(s.mark, file))
        case .sequence(let s):
            return SpecNode(.sequence(s.map { convert($0, file: file, bag: &bag) }), at: loc(s.mark, file))
        case .mapping(let m):
            var entries: [SpecEntry] = []
            for (k, v) in m {
                guard case .scalar(let key) = k else {
                    bag.error("mapping keys must be names, not \(k.isMapping ? "mappings" : "lists")", at: loc(k.mark, file))
                    continue
                }
                entries.append(SpecEntry(key: key.string, keyLocation: loc(key.mark, file), value: convert(v, file: file, bag: &bag)))
            }
            return SpecNode(.mapping(entries), at: loc(m.mark, file))
        case .alias(let a):
            // Never reached: the scanner refuses aliases first. Kept as an error rather than a trap.
            bag.error("YAML aliases are not allowed in a spec", at: loc(a.mark, file))
            return SpecNode(.scalar("", plain: true), at: loc(a.mark, file))
        }
    }

    private static func diagnostic(for error: YamlError, text: String, file: String) -> Diagnostic {
        func notes(_ context: YamlError.Context?) -> [Diagnostic] {
            guard let context else { return [] }
            return [.note(context.text, at: loc(context.mark, file))]
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            return .error("invalid YAML: \(problem)", at: loc(mark, file), notes: notes(context))
        case let .reader(problem, offset, _, _):
            let bytes = Array(text.utf8)
            let at = offset.map { location(ofByte: min($0, max(bytes.count - 1, 0)), in: bytes, file: file) }
            return .error("invalid YAML: \(problem)", at: at ?? SourceLocation(file: file, line: 1, column: 1))
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return .error("duplicate key \(keys) in a mapping; each key may appear once", at: loc(context.mark, file))
        default:
            return .error("invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            let length: Int
            if b < 0x80 { i += 1; continue }
            else if b & 0xE0 == 0xC0, b >= 0xC2 { length = 2 }
            else if b & 0xF0 == 0xE0 { length = 3 }
            else if b & 0xF8 == 0xF0, b <= 0xF4 { length = 4 }
            else { return i }
            guard i + length <= n else { return i }
            for k in 1..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            // Overlong encodings and surrogates.
            if length == 3 {
                let c = bytes[i + 1]
                if (b == 0xE0 && c < 0xA0) || (b == 0xED && c >= 0xA0) { return i }
            } else if length == 4 {
                let c = bytes[i + 1]
                if (b == 0xF0 && c < 0x90) || (b == 0xF4 && c >= 0x90) { return i }
            }
            i += length
        }
        return nil
    }

    /// The line and column (in scalars) of a byte offset.
    static func location(ofByte offset: Int, in bytes: [UInt8], file: String) -> SourceLocation {
        var line = 1, column = 1
        var i = 0
        while i < offset && i < bytes.count {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}

private extension Node {
    var isMapping: Bool { if case .mapping = self { return true }; return false }
}
