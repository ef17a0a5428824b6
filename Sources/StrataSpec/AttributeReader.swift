import StrataDiagnostics

/// Reads typed values out of one YAML mapping, reporting every wrong, missing or unknown key with its
/// location into a `DiagnosticBag`. Each layer definition and each section of the spec reads its keys
/// through one of these, so the wording of type and range errors is the same everywhere.
///
///     var r = AttributeReader(entries, at: location, owner: "conv layer 'conv1'", bag: bag)
///     let filters = r.int("filters", in: 1...1_048_576)       // required
///     let stride = r.pair("stride", default: 1, in: 1...65_536) // int or [h, w]
///     r.finish()                                                // unknown keys → "did you mean"
public struct AttributeReader {
    public let entries: [SpecEntry]
    /// Where the mapping starts: the place for "missing key" errors.
    public let location: SourceLocation
    /// How messages name the mapping's owner: `conv layer 'conv1'`, `'training'`.
    public let owner: String
    public private(set) var bag: DiagnosticBag
    /// Keys this reader has asked for (known keys), in the order asked.
    public private(set) var known: [String]

    public init(_ entries: [SpecEntry], at location: SourceLocation, owner: String, ignoring: [String] = []) {
        self.entries = entries
        self.location = location
        self.owner = owner
        self.bag = DiagnosticBag()
        self.known = ignoring
    }

    /// Reads a mapping node; a non-mapping is reported and read as empty.
    public init(node: SpecNode, owner: String, ignoring: [String] = []) {
        self.init(node.mapping ?? [], at: node.location, owner: owner, ignoring: ignoring)
        if node.mapping == nil && !node.isNull {
            bag.error("\(owner) must be a mapping of keys to values, got \(node.shortDescription)", at: node.location)
        }
    }

    public func location(of key: String) -> SourceLocation {
        entries[key: key]?.value.location ?? location
    }

    public func keyLocation(of key: String) -> SourceLocation {
        entries[key: key]?.keyLocation ?? location
    }

    public func has(_ key: String) -> Bool { entries[key: key].map { !$0.value.isNull } ?? false }

    public mutating func report(_ message: String, at location: SourceLocation, notes: [Diagnostic] = []) {
        bag.error(message, at: location, notes: notes)
    }

    /// The raw node of a key (marking it known), or nil when absent or null.
    public mutating func node(_ key: String) -> SpecNode? {
        if !known.contains(key) { known.append(key) }
        guard let entry = entries[key: key], !entry.value.isNull else { return nil }
        return entry.value
    }

    private mutating func missing(_ key: String, _ expected: String) {
        bag.error("\(owner) needs '\(key)' (\(expected))", at: location)
    }

    // MARK: scalars

    /// An integer in `range`. Returns `default` when absent; reports and returns nil when absent without
    /// a default, or when wrong.
    public mutating func int(_ key: String, default def: Int? = nil, in range: ClosedRange<Int>) -> Int? {
        guard let node = node(key) else {
            if def == nil { missing(key, "an integer") }
            return def
        }
        return checkedInt(node, key, range)
    }

    private mutating func checkedInt(_ node: SpecNode, _ key: String, _ range: ClosedRange<Int>, what: String = "an integer") -> Int? {
        guard let value = ScalarValue.int(node) else {
            bag.error("'\(key)' of \(owner) must be \(what), got \(node.shortDescription)", at: node.location)
            return nil
        }
        guard range.contains(value) else {
            bag.error("'\(key)' of \(owner) must be \(describe(range)), got \(value)", at: node.location)
            return nil
        }
        return value
    }

    /// A finite number in `range`; with `openUpper` the upper bound is excluded (`[0, 1)`).
    public mutating func double(_ key: String, default def: Double? = nil, in range: ClosedRange<Double>, openUpper: Bool = false) -> Double? {
        guard let node = node(key) else {
            if def == nil { missing(key, "a number") }
            return def
        }
        guard let value = ScalarValue.double(node) else {
            bag.error("'\(key)' of \(owner) must be a number, got \(node.shortDescription)", at: node.location)
            return nil
        }
        guard range.contains(value), !(openUpper && value == range.upperBound) else {
            let interval = "[\(format(range.lowerBound)), \(format(range.upperBound))\(openUpper ? ")" : "]")"
            bag.error("'\(key)' of \(owner) must be in \(interval), got \(format(value))", at: node.location)
            return nil
        }
        return value
    }

    public mutating func bool(_ key: String, default def: Bool? = nil) -> Bool? {
        guard let node = node(key) else {
            if def == nil { missing(key, "true or false") }
            return def
        }
        guard let value = ScalarValue.bool(node) else {
            bag.error("'\(key)' of \(owner) must be true or false, got \(node.shortDescription)", at: node.location)
            return nil
        }
        return value
    }

    /// A string; with `oneOf`, one of those words (a misspelling gets "did you mean").
    public mutating func string(_ key: String, default def: String? = nil, oneOf choices: [String]? = nil) -> Located<String>? {
        guard let node = node(key) else {
            if def == nil { missing(key, choices.map { "one of " + $0.map { "'\($0)'" }.joined(separator: ", ") } ?? "a name") }
            return def.map { Located($0, at: location) }
        }
        guard case .scalar(let s, _) = node.kind else {
            bag.error("'\(key)' of \(owner) must be a string, got \(node.shortDescription)", at: node.location)
            return nil
        }
        if let choices, !choices.contains(s) {
            bag.error("'\(key)' of \(owner) must be one of \(choices.map { "'\($0)'" }.joined(separator: ", ")), got '\(s)'",
                      at: node.location, notes: Spelling.note(for: s, among: choices, at: node.location))
            return nil
        }
        return Located(s, at: node.location)
    }

    // MARK: compound values

    /// A size or step along both spatial axes: an integer for both, or `[height, width]`.
    public mutating func pair(_ key: String, default def: Int? = nil, in range: ClosedRange<Int>) -> (Int, Int)? {
        guard let node = node(key) else {
            if def == nil { missing(key, "an integer or [height, width]") }
            return def.map { ($0, $0) }
        }
        if let items = node.sequence {
            guard items.count == 2 else {
                bag.error("'\(key)' of \(owner) must be an integer or a list [height, width], got a list of \(items.count)", at: node.location)
                return nil
            }
            let h = checkedInt(items[0], key, range), w = checkedInt(items[1], key, range)
            guard let h, let w else { return nil }
            return (h, w)
        }
        guard ScalarValue.int(node) != nil else {
            bag.error("'\(key)' of \(owner) must be an integer or a list [height, width], got \(node.shortDescription)", at: node.location)
            return nil
        }
        return checkedInt(node, key, range).map { ($0, $0) }
    }

    /// A list of integers (a single integer is a list of one).
    public mutating func intList(_ key: String, default def: [Int]? = nil, in range: ClosedRange<Int>) -> [Int]? {
        guard let node = node(key) else {
            if def == nil { missing(key, "a list of integers") }
            return def
        }
        let items = node.sequence ?? [node]
        var values: [Int] = []
        for item in items {
            guard let v = checkedInt(item, key, range, what: "a list of integers") else { return nil }
            values.append(v)
        }
        return values
    }

    /// A list of layer names (a single name is a list of one), each with its place; nil when `key` is
    /// absent. An item that is not a name is reported and left out.
    public mutating func layerNames(_ key: String) -> [Located<String>]? {
        guard let node = node(key) else { return nil }
        var names: [Located<String>] = []
        for item in node.sequence ?? [node] {
            guard case .scalar(let name, _) = item.kind, !item.isNull else {
                report("'\(key)' of \(owner) must list layer names, got \(item.shortDescription)", at: item.location)
                continue
            }
            names.append(Located(name, at: item.location))
        }
        return names
    }

    /// A nested mapping, read by its own reader whose errors join this one's when `merge` is called.
    public mutating func mapping(_ key: String) -> AttributeReader? {
        guard let node = node(key) else { return nil }
        var nested = AttributeReader(node: node, owner: "'\(key)' of \(owner)")
        if node.mapping == nil {
            bag.append(contentsOf: nested.bag.diagnostics)
            nested.bag = DiagnosticBag()
            return nil
        }
        return nested
    }

    /// Adds a nested reader's errors (after its own `finish`).
    public mutating func merge(_ nested: AttributeReader) {
        bag.append(contentsOf: nested.bag.diagnostics)
    }

    /// Reports every key nobody asked for, with "did you mean" among the known keys.
    public mutating func finish(extraCandidates: [String] = []) {
        for entry in entries where !known.contains(entry.key) {
            bag.error("unknown key '\(entry.key)' in \(owner)", at: entry.keyLocation,
                      notes: Spelling.note(for: entry.key, among: known + extraCandidates, at: entry.keyLocation)
                        + [.note("\(owner) takes \(known.map { "'\($0)'" }.joined(separator: ", "))")])
        }
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }

    private func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}

/// How plain YAML scalars read as numbers and booleans (YAML 1.2's core schema, strictly).
public enum ScalarValue {
    public static func int(_ node: SpecNode) -> Int? {
        guard case .scalar(var s, true) = node.kind else { return nil }
        if s.hasPrefix("+") { s.removeFirst() }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) else { return nil }
        return Int(s)
    }

    public static func double(_ node: SpecNode) -> Double? {
        guard case .scalar(let s, true) = node.kind else { return nil }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
              let v = Double(s), v.isFinite else { return nil }
        return v
    }

    public static func bool(_ node: SpecNode) -> Bool? {
        guard case .scalar(let s, true) = node.kind else { return nil }
        switch s {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }
}
