import StrataDiagnostics

/// Reads typed values out of one YAML mapping, reporting every wrong, missing or unknown key with its
/// location into a `DiagnosticBag`. Each layer definition and each section of the spec reads its keys
/// through one of these, so the wording of type and range errors is the same everywhere.
///
///     var r = AttributeReader(entries, at: location, owner: "conv layer 'conv1'")
///     let filters = r.int("filters", in: 1...1_048_576, doc: "output channels")       // required
///     let stride = r.pair("stride", default: 1, in: 1...65_536, doc: "step of the window") // int or [h, w]
///     r.finish()                                                                      // unknown keys → "did you mean"
///
/// Made with `init(recordingSchemaAs:)`, a reader reads nothing: every read records its key's type,
/// range, default and doc string into `schema` and returns a placeholder (the default, else the
/// range's lower bound), so running a reading function on it gives the schema of what it reads
/// (`strata schema`). Reading code therefore states each key once, with its doc string.
public struct AttributeReader {
    public let entries: [SpecEntry]
    /// Where the mapping starts: the place for "missing key" errors.
    public let location: SourceLocation
    /// How messages name the mapping's owner: `conv layer 'conv1'`, `'training'`.
    public let owner: String
    public private(set) var bag: DiagnosticBag
    /// Keys this reader has asked for (known keys), in the order asked.
    public private(set) var known: [String]
    /// In schema mode, what the reads so far accept; nil when reading a mapping.
    public private(set) var schema: SchemaObject?
    /// In schema mode, the key (and its doc string) whose value this nested reader reads, for `merge`.
    private var parentKey: (key: String, doc: String)?

    public init(_ entries: [SpecEntry], at location: SourceLocation, owner: String, ignoring: [String] = []) {
        self.entries = entries
        self.location = location
        self.owner = owner
        self.bag = DiagnosticBag()
        self.known = ignoring
    }

    /// A reader in schema mode: it reads nothing and records what each read accepts into `schema`.
    public init(recordingSchemaAs owner: String) {
        self.init([], at: SourceLocation(file: "", line: 0, column: 0), owner: owner)
        schema = SchemaObject()
    }

    /// Whether this reader records a schema instead of reading.
    public var isRecordingSchema: Bool { schema != nil }

    /// Records what `key` accepts (schema mode).
    private mutating func record(_ key: String, _ accepts: SpecSchema, required: Bool, default value: SchemaValue? = nil, doc: String) {
        if !known.contains(key) { known.append(key) }
        schema?.add(SchemaProperty(key, accepts, required: required, default: value, doc: doc))
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

    /// Whether `key` is written with a value (false in schema mode).
    public func has(_ key: String) -> Bool { entries[key: key].map { !$0.value.isNull } ?? false }

    /// Reports an error (ignored in schema mode, where the values are placeholders).
    public mutating func report(_ message: String, at location: SourceLocation, notes: [Diagnostic] = []) {
        if isRecordingSchema { return }
        bag.error(message, at: location, notes: notes)
    }

    /// The raw node of a key that the caller checks itself (marking it known), or nil when absent or
    /// null (always in schema mode). `accepts` states what the caller's checks accept, for the schema.
    public mutating func node(_ key: String, accepts: SpecSchema, required: Bool = false, doc: String) -> SpecNode? {
        if isRecordingSchema {
            record(key, accepts, required: required, doc: doc)
            return nil
        }
        return value(key)
    }

    /// The raw node of a key (marking it known), or nil when absent or null.
    private mutating func value(_ key: String) -> SpecNode? {
        if !known.contains(key) { known.append(key) }
        guard let entry = entries[key: key], !entry.value.isNull else { return nil }
        return entry.value
    }

    private mutating func missing(_ key: String, _ expected: String) {
        bag.error("\(owner) needs '\(key)' (\(expected))", at: location)
    }

    // MARK: scalars

    /// An integer in `range`. Returns `default` when absent; reports and returns nil when absent without
    /// a default (unless `optional`), or when wrong.
    public mutating func int(_ key: String, default def: Int? = nil, optional: Bool = false, in range: ClosedRange<Int>, doc: String) -> Int? {
        if isRecordingSchema {
            record(key, .integer(range), required: def == nil && !optional, default: def.map(SchemaValue.int), doc: doc)
            return def ?? range.lowerBound
        }
        guard let node = value(key) else {
            if def == nil && !optional { missing(key, "an integer") }
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
    public mutating func double(_ key: String, default def: Double? = nil, optional: Bool = false, in range: ClosedRange<Double>,
                                openUpper: Bool = false, doc: String) -> Double? {
        if isRecordingSchema {
            record(key, .number(range, openUpper: openUpper), required: def == nil && !optional, default: def.map(SchemaValue.number), doc: doc)
            return def ?? range.lowerBound
        }
        guard let node = value(key) else {
            if def == nil && !optional { missing(key, "a number") }
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

    public mutating func bool(_ key: String, default def: Bool? = nil, doc: String) -> Bool? {
        if isRecordingSchema {
            record(key, .boolean, required: def == nil, default: def.map(SchemaValue.bool), doc: doc)
            return def ?? false
        }
        guard let node = value(key) else {
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
    public mutating func string(_ key: String, default def: String? = nil, optional: Bool = false, oneOf choices: [String]? = nil,
                                doc: String) -> Located<String>? {
        if isRecordingSchema {
            record(key, .string(choices: choices), required: def == nil && !optional, default: def.map(SchemaValue.string), doc: doc)
            return Located(def ?? choices?.first ?? "", at: location)
        }
        guard let node = value(key) else {
            if def == nil && !optional { missing(key, choices.map { "one of " + $0.map { "'\($0)'" }.joined(separator: ", ") } ?? "a name") }
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
    public mutating func pair(_ key: String, default def: Int? = nil, optional: Bool = false, in range: ClosedRange<Int>, doc: String) -> (Int, Int)? {
        if isRecordingSchema {
            record(key, .pair(range), required: def == nil && !optional, default: def.map(SchemaValue.int), doc: doc)
            let v = def ?? range.lowerBound
            return (v, v)
        }
        guard let node = value(key) else {
            if def == nil && !optional { missing(key, "an integer or [height, width]") }
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
    public mutating func intList(_ key: String, default def: [Int]? = nil, optional: Bool = false, in range: ClosedRange<Int>, doc: String) -> [Int]? {
        if isRecordingSchema {
            record(key, .anyOf([.integer(range), .list(.integer(range))]), required: def == nil && !optional, default: def.map(SchemaValue.ints), doc: doc)
            return def ?? []
        }
        guard let node = value(key) else {
            if def == nil && !optional { missing(key, "a list of integers") }
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
    public mutating func layerNames(_ key: String, doc: String) -> [Located<String>]? {
        if isRecordingSchema {
            record(key, .names(), required: false, doc: doc)
            return nil
        }
        guard let node = value(key) else { return nil }
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

    /// A nested mapping, read by its own reader whose errors join this one's when `merge` is called;
    /// messages name it `owner` (by default `'KEY' of OWNER`). In schema mode the nested reader
    /// records, and `merge` records its schema as this key's.
    public mutating func mapping(_ key: String, owner nestedOwner: String? = nil, doc: String) -> AttributeReader? {
        if isRecordingSchema {
            if !known.contains(key) { known.append(key) }
            var nested = AttributeReader(recordingSchemaAs: nestedOwner ?? "'\(key)' of \(owner)")
            nested.parentKey = (key, doc)
            return nested
        }
        guard let node = value(key) else { return nil }
        var nested = AttributeReader(node: node, owner: nestedOwner ?? "'\(key)' of \(owner)")
        if node.mapping == nil {
            bag.append(contentsOf: nested.bag.diagnostics)
            nested.bag = DiagnosticBag()
            return nil
        }
        return nested
    }

    /// Adds a nested reader's errors (after its own `finish`); in schema mode, records its schema.
    public mutating func merge(_ nested: AttributeReader) {
        if isRecordingSchema, let nestedSchema = nested.schema, let (key, doc) = nested.parentKey {
            record(key, .object(nestedSchema), required: false, doc: doc)
        }
        bag.append(contentsOf: nested.bag.diagnostics)
    }

    /// A mapping from names to mappings (`layers: {conv2: {bias: 1}}` of `init`), each value read by
    /// `body` with its own reader (messages name it `owner(NAME)`), finished and merged.
    public mutating func namedMappings(_ key: String, owner entryOwner: (String) -> String, doc: String,
                                       _ body: (Located<String>, inout AttributeReader) -> Void) {
        if isRecordingSchema {
            var entry = AttributeReader(recordingSchemaAs: entryOwner("NAME"))
            body(Located("NAME", at: location), &entry)
            entry.finish()
            record(key, .map(.object(entry.schema ?? SchemaObject())), required: false, doc: doc)
            return
        }
        guard var names = mapping(key, doc: doc) else { return }
        for item in names.entries {
            var entry = AttributeReader(node: item.value, owner: entryOwner(item.key))
            body(Located(item.key, at: item.keyLocation), &entry)
            entry.finish()
            names.merge(entry)
        }
        merge(names)
    }

    /// A mapping whose other keys depend on the word under `key` (`schedule: {type: step, factor: 0.1}`):
    /// reads the word, then the keys of its case with that case's `read`. In schema mode it records
    /// every case.
    public mutating func variant<Value>(_ key: String, doc: String, _ cases: [VariantCase<Value>]) -> Value? {
        if isRecordingSchema {
            record(key, .string(choices: cases.map(\.value)), required: true, doc: doc)
            let recorded = cases.map { c in
                var reader = AttributeReader(recordingSchemaAs: owner)
                _ = c.read(&reader)
                return SchemaVariants.Case(value: c.value, doc: c.doc, object: reader.schema ?? SchemaObject())
            }
            schema?.variants = SchemaVariants(key: key, doc: doc, cases: recorded)
            return nil
        }
        guard let word = string(key, oneOf: cases.map(\.value), doc: doc)?.value, let c = cases.first(where: { $0.value == word }) else {
            return nil
        }
        return c.read(&self)
    }

    /// Reports every key nobody asked for, with "did you mean" among the known keys; in schema mode,
    /// records that the mapping takes no other keys.
    public mutating func finish(extraCandidates: [String] = []) {
        if isRecordingSchema {
            schema?.closed = true
            return
        }
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

/// One case of `AttributeReader.variant`: the word that picks it, what it means, and how its keys are read.
public struct VariantCase<Value> {
    public var value: String
    public var doc: String
    public var read: (inout AttributeReader) -> Value?

    public init(_ value: String, doc: String, read: @escaping (inout AttributeReader) -> Value?) {
        self.value = value
        self.doc = doc
        self.read = read
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
