import Foundation
import StrataDiagnostics
import StrataSpec

/// A sweep file: the network, weights, images, layers and a list of `{transform, amounts}` for
/// several transforms at once, read with every problem located in the file:
///
///     spec: ../networks/zfnet-mini.yaml
///     weights: ../runs/mini/checkpoints/latest.safetensors
///     data: /usr/share/datasets/fashion-mnist     # or input: X.npy and labels: Y.npy
///     limit: 200
///     layers: [conv1, conv5, fc7]
///     out: sweep
///     transforms:
///       - {transform: translate-y, amounts: [-6, -3, 0, 3, 6]}
///       - {transform: rotate}                      # the default amounts
///
/// Paths (spec, weights, data, input, labels, a mean file, out) are resolved against the file's
/// folder. The fields are what the file says; what they mean together (input or data, a split
/// that exists) is the caller's to check, as it checks the same options given another way.
public struct SweepFile: Sendable {
    /// The network spec.
    public var spec: String
    public var weights: String?
    /// `none`, `train`, or a mean image's path.
    public var mean: String?
    /// A data folder, or an image array or folder and its labels.
    public var data: String?
    public var input: String?
    public var labels: String?
    /// The split of `data`, as written (not checked here).
    public var split: String?
    /// The first so many images, and the images per run.
    public var limit: Int?
    public var batch: Int?
    /// The layers whose outputs are compared, in file order.
    public var layers: [String]?
    /// The output folder.
    public var out: String?
    /// The noise transform's seed.
    public var seed: UInt64?
    public var fill: Fill?
    public var interpolation: Interpolation?
    /// Each transform once, with its amounts (nil: the defaults, `Transform.defaultAmounts`).
    public var transforms: [(transform: Transform, amounts: [Double]?)]

    /// The keys a sweep file may have.
    public static let keys = ["spec", "weights", "mean", "data", "input", "labels", "split", "limit", "batch", "layers", "out", "seed",
                              "fill", "interpolation", "transforms"]

    /// Whether `path` is a YAML file with a `transforms:` key (a sweep file, not a network spec).
    public static func isSweepFile(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.utf8.count < YAMLReader.maximumBytes,
              let root = try? YAMLReader.parse(text: text, file: path) else { return false }
        return root.mapping?.contains { $0.key == "transforms" } == true
    }

    /// Whether `path` reads as YAML (a file that does not goes to the spec loader, which says where it breaks).
    public static func parses(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return true }
        return text.utf8.count >= YAMLReader.maximumBytes || (try? YAMLReader.parse(text: text, file: path)) != nil
    }

    /// Reads the sweep file at `path`. `maximumBatch`: the most images per run the caller takes.
    /// Throws `DiagnosticError` with every problem found, each at its place in the file.
    public static func load(_ path: String, maximumBatch: Int) throws -> SweepFile {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let root = try YAMLReader.parse(text: text, file: path)
        let folder = (path as NSString).deletingLastPathComponent
        /// A path relative to the sweep file's folder (an absolute one as it is).
        func resolve(_ p: String) -> String { p.hasPrefix("/") || folder.isEmpty ? p : "\(folder)/\(p)" }
        var reader = Reader(entries: root.mapping ?? [])
        reader.checkKeys()
        guard let spec = reader.scalar("spec") else {
            throw DiagnosticError(reader.problems + [.error("a sweep file names its network: 'spec: PATH'", at: root.location)])
        }
        let paths = ["weights", "data", "input", "labels"].map { reader.scalar($0).map(resolve) }
        let split = reader.scalar("split")
        let limit = reader.number("limit", in: 1...100_000_000), batch = reader.number("batch", in: 1...maximumBatch)
        // A mean is a path unless it is one of the words.
        let mean = reader.scalar("mean").map { ["none", "train"].contains($0) ? $0 : resolve($0) }
        let fill = reader.choice("fill", Fill.self), interpolation = reader.choice("interpolation", Interpolation.self)
        let out = reader.scalar("out").map(resolve)
        let layers = reader.layers()
        if !reader.entries.contains(where: { $0.key == "transforms" }) {
            reader.problems.append(.error("a sweep file lists its transforms: 'transforms: [{transform: NAME, amounts: [...]}]'", at: root.location))
        }
        let transforms = reader.transforms()
        if !reader.problems.isEmpty { throw DiagnosticError(reader.problems) }
        let seed = reader.seed()
        if !reader.problems.isEmpty { throw DiagnosticError(reader.problems) }
        return SweepFile(spec: resolve(spec), weights: paths[0], mean: mean, data: paths[1], input: paths[2], labels: paths[3], split: split,
                         limit: limit, batch: batch, layers: layers, out: out, seed: seed, fill: fill, interpolation: interpolation, transforms: transforms)
    }

    /// A sweep file's top-level entries as they are read, and the problems found so far.
    struct Reader {
        let entries: [SpecEntry]
        var problems: [Diagnostic] = []

        func location(_ key: String) -> SourceLocation { entries.first { $0.key == key }!.value.location }

        static func hint(_ name: String, among names: [String]) -> String {
            Spelling.suggestion(for: name, among: names).map { "; did you mean '\($0)'?" } ?? ""
        }

        mutating func checkKeys() {
            for e in entries where !SweepFile.keys.contains(e.key) {
                problems.append(.error("unknown key '\(e.key)' in a sweep file\(Self.hint(e.key, among: SweepFile.keys)) (keys: \(SweepFile.keys.joined(separator: ", ")))",
                                       at: e.keyLocation))
            }
        }

        /// The single value of `key`, if the file has it.
        mutating func scalar(_ key: String) -> String? {
            guard let e = entries.first(where: { $0.key == key }) else { return nil }
            guard let v = e.value.scalar else { problems.append(.error("'\(key)' must be a single value", at: e.value.location)); return nil }
            return v
        }

        /// A whole number of `key` in `range`.
        mutating func number(_ key: String, in range: ClosedRange<Int>) -> Int? {
            guard let v = scalar(key) else { return nil }
            guard let n = Int(v), range.contains(n) else {
                problems.append(.error("'\(key)' must be a whole number between \(range.lowerBound) and \(range.upperBound), got '\(v)'", at: location(key)))
                return nil
            }
            return n
        }

        /// One of the named cases of `type`.
        mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) -> T? where T.RawValue == String {
            guard let v = scalar(key) else { return nil }
            guard let value = T(rawValue: v) else {
                let names = T.allCases.map(\.rawValue)
                problems.append(.error("'\(key)' is one of \(names.joined(separator: ", ")), not '\(v)'\(Self.hint(v, among: names))", at: location(key)))
                return nil
            }
            return value
        }

        /// `layers:` as one name or a list of names.
        mutating func layers() -> [String]? {
            guard let e = entries.first(where: { $0.key == "layers" }) else { return nil }
            if let list = e.value.sequence, list.allSatisfy({ $0.scalar != nil }) { return list.compactMap(\.scalar) }
            if let one = e.value.scalar { return [one] }
            problems.append(.error("'layers' must be a layer name or a list of layer names", at: e.value.location))
            return nil
        }

        mutating func seed() -> UInt64? {
            guard let v = scalar("seed") else { return nil }
            guard let seed = UInt64(v) else { problems.append(.error("'seed' must be a whole number ≥ 0", at: location("seed"))); return nil }
            return seed
        }

        /// `transforms:`, each `{transform: NAME, amounts: [...]}` once.
        mutating func transforms() -> [(transform: Transform, amounts: [Double]?)] {
            guard let e = entries.first(where: { $0.key == "transforms" }) else { return [] }
            guard let list = e.value.sequence, !list.isEmpty else {
                problems.append(.error("'transforms' must be a list of {transform: NAME, amounts: [...]}", at: e.value.location))
                return []
            }
            var transforms: [(transform: Transform, amounts: [Double]?)] = []
            for item in list {
                guard let entry = transform(item) else { continue }
                let (t, amounts) = entry
                if transforms.contains(where: { $0.transform == t }) {
                    problems.append(.error("transform '\(t.rawValue)' is listed twice; list each transform once, with all its amounts", at: item.location))
                    continue
                }
                if let amounts, let twice = Sweep.repeated(amounts) {
                    problems.append(.error("'amounts' of \(t.rawValue) gives \(twice) twice; each amount once",
                                           at: item.mapping!.first { $0.key == "amounts" }!.value.location))
                    continue
                }
                transforms.append((t, amounts))
            }
            return transforms
        }

        /// One entry of `transforms:`, or nil (with the problem noted).
        mutating func transform(_ item: SpecNode) -> (Transform, [Double]?)? {
            guard let m = item.mapping, let name = m.first(where: { $0.key == "transform" })?.value.scalar else {
                problems.append(.error("expected {transform: NAME, amounts: [...]}", at: item.location))
                return nil
            }
            for entry in m where !["transform", "amounts"].contains(entry.key) {
                problems.append(.error("unknown key '\(entry.key)' in a transform\(Self.hint(entry.key, among: ["transform", "amounts"])) "
                                       + "(a transform takes 'transform' and 'amounts')", at: entry.keyLocation))
            }
            let names = Transform.allCases.map(\.rawValue)
            guard let t = Transform(rawValue: name) else {
                problems.append(.error("unknown transform '\(name)'\(Self.hint(name, among: names)) (transforms: \(names.joined(separator: ", ")))", at: item.location))
                return nil
            }
            guard let a = m.first(where: { $0.key == "amounts" }) else { return (t, nil) }
            let values = a.value.sequence?.compactMap { $0.scalar.flatMap(Double.init) } ?? []
            guard let count = a.value.sequence?.count, values.count == count, !values.isEmpty, values.allSatisfy(t.accepts) else {
                problems.append(.error("'amounts' of \(name) must be a list of numbers it accepts\(t == .scale || t == .contrast ? " (positive)" : "")",
                                       at: a.value.location))
                return nil
            }
            return (t, values)
        }
    }
}
