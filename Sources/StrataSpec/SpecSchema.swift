/// What a key of the spec language accepts, as the readers record it: an `AttributeReader` made with
/// `init(recordingSchemaAs:)` reads nothing, and each of its reads (`int`, `pair`, `mapping`,
/// `variant`, ...) records the key, its type, range, default and doc string instead. Running the
/// same code that reads a spec in this mode gives the schema of what it reads, so the schema that
/// `strata schema` writes (JSON Schema, draft 2020-12) cannot drift from the readers.
public indirect enum SpecSchema: Sendable, Equatable {
    /// An integer in the range (YAML `5`, not `5.0` or `"5"`).
    case integer(ClosedRange<Int>)
    /// A finite number in the range; with `openUpper` the upper bound is excluded (`[0, 1)`).
    case number(ClosedRange<Double>, openUpper: Bool)
    case boolean
    /// A string; with `choices`, one of those words; with `pattern`, matching that regular expression
    /// (ECMA-262, as JSON Schema uses), at most `maxLength` characters.
    case string(choices: [String]? = nil, pattern: String? = nil, maxLength: Int? = nil)
    /// `~`: the key deletes what a base spec wrote (`set: {conv1: {stride: ~}}`).
    case null
    /// A list of items, with at least `minimum` (and at most `maximum`) of them.
    case list(SpecSchema, minimum: Int = 0, maximum: Int? = nil)
    /// A mapping with named keys.
    case object(SchemaObject)
    /// A mapping from free names (layers) to values of one schema.
    case map(SpecSchema)
    /// Any one of these (an integer or `[height, width]`).
    case anyOf([SpecSchema])
    /// A named definition of the schema document (`#/$defs/NAME`).
    case reference(String)
    /// Exactly this word (the `op` of one layer type).
    case constant(String)
    /// `then` for a mapping that has `key`, else `otherwise` (a file with `rows` is an experiment).
    case whenPresent(key: String, then: SpecSchema, otherwise: SpecSchema)

    /// An integer for both spatial axes or `[height, width]`: how `kernel`, `stride`, `pad` and `crop` are written.
    public static func pair(_ range: ClosedRange<Int>) -> SpecSchema {
        .anyOf([.integer(range), .list(.integer(range), minimum: 2, maximum: 2)])
    }

    /// One name or a list of them (`from: conv1`, `freeze: [conv1, conv2]`).
    public static func names(minimum: Int = 0) -> SpecSchema {
        .anyOf([.string(), .list(.string(), minimum: minimum)])
    }
}

/// A mapping's keys as its reader reads them.
public struct SchemaObject: Sendable, Equatable {
    public var properties: [SchemaProperty] = []
    /// Whether other keys are refused (the reader's `finish` reports them as unknown).
    public var closed = false
    /// A key whose value picks the rest of the keys (`type` of a schedule, `op` of a layer).
    public var variants: SchemaVariants?
    /// At least one of these sets of keys must all be present (a spec is complete or names a `base`).
    public var anyRequired: [[String]] = []
    /// A key that needs others beside it (`remove` needs `base`).
    public var dependentRequired: [(key: String, needs: [String])] = []

    public init(properties: [SchemaProperty] = [], closed: Bool = false) {
        self.properties = properties
        self.closed = closed
    }

    /// The property named `name`.
    public subscript(name: String) -> SchemaProperty? { properties.first { $0.name == name } }

    /// Adds a property, or replaces the one of that name (a key read twice records its last reading).
    public mutating func add(_ property: SchemaProperty) {
        if let i = properties.firstIndex(where: { $0.name == property.name }) { properties[i] = property } else { properties.append(property) }
    }

    public static func == (a: SchemaObject, b: SchemaObject) -> Bool {
        a.properties == b.properties && a.closed == b.closed && a.variants == b.variants && a.anyRequired == b.anyRequired
            && a.dependentRequired.map(\.key) == b.dependentRequired.map(\.key) && a.dependentRequired.map(\.needs) == b.dependentRequired.map(\.needs)
    }
}

/// One key of a mapping: what it accepts, whether it must be there, its default and what it means.
public struct SchemaProperty: Sendable, Equatable {
    public var name: String
    public var schema: SpecSchema
    public var required: Bool
    public var defaultValue: SchemaValue?
    public var doc: String

    public init(_ name: String, _ schema: SpecSchema, required: Bool = false, default defaultValue: SchemaValue? = nil, doc: String) {
        self.name = name
        self.schema = schema
        self.required = required
        self.defaultValue = defaultValue
        self.doc = doc
    }
}

/// A default value, as the schema states it.
public enum SchemaValue: Sendable, Equatable {
    case int(Int)
    case number(Double)
    case bool(Bool)
    case string(String)
    case ints([Int])
}

/// The shapes a mapping takes, picked by the word under `key`: each case's keys beside the common ones.
public struct SchemaVariants: Sendable, Equatable {
    public struct Case: Sendable, Equatable {
        public var value: String
        public var doc: String
        public var object: SchemaObject

        public init(value: String, doc: String, object: SchemaObject) {
            self.value = value
            self.doc = doc
            self.object = object
        }
    }

    public var key: String
    public var doc: String
    public var cases: [Case]

    public init(key: String, doc: String, cases: [Case]) {
        self.key = key
        self.doc = doc
        self.cases = cases
    }
}

/// A whole schema: the root and its named definitions (`$defs`), each with a doc string.
public struct SchemaDocument: Sendable {
    public struct Definition: Sendable {
        public var name: String
        public var schema: SpecSchema
        public var doc: String

        public init(name: String, schema: SpecSchema, doc: String) {
            self.name = name
            self.schema = schema
            self.doc = doc
        }
    }

    public var title: String
    public var doc: String
    public var root: SpecSchema
    public var definitions: [Definition]

    public init(title: String, doc: String, root: SpecSchema, definitions: [Definition]) {
        self.title = title
        self.doc = doc
        self.root = root
        self.definitions = definitions
    }

    public func definition(_ name: String) -> Definition? { definitions.first { $0.name == name } }
}
