import StrataDiagnostics

/// A network as its spec describes it, with variants resolved: what the spec stage produces and the
/// IR stage consumes. Every value keeps the place it was written (in whichever file of a variant
/// chain wrote it).
public struct NetworkSpec: Sendable {
    /// The file the user named (the top of a variant chain).
    public var file: String
    public var name: Located<String>
    public var description: String?
    public var input: InputSpec
    public var layers: [LayerSpec]
    public var training: TrainingSpec?
    /// The files this spec was resolved from, outermost first (the variant, its base, ...).
    public var chain: [String]

    public init(file: String, name: Located<String>, description: String? = nil, input: InputSpec,
                layers: [LayerSpec], training: TrainingSpec? = nil, chain: [String] = []) {
        self.file = file
        self.name = name
        self.description = description
        self.input = input
        self.layers = layers
        self.training = training
        self.chain = chain.isEmpty ? [file] : chain
    }
}

/// `input: {channels, height, width}`: one image; the batch size is symbolic until run time.
public struct InputSpec: Sendable {
    public var channels: Located<Int>
    public var height: Located<Int>
    public var width: Located<Int>
    public var location: SourceLocation

    public init(channels: Located<Int>, height: Located<Int>, width: Located<Int>, location: SourceLocation) {
        self.channels = channels
        self.height = height
        self.width = width
        self.location = location
    }
}

/// One entry of `layers:`: its name, op, input references and the op's attributes, still untyped.
/// The IR stage's layer definitions give the attributes their types.
public struct LayerSpec: Sendable {
    public var name: Located<String>
    public var op: Located<String>
    /// `from:` as written; nil when the layer reads the previous layer (or the input, for the first).
    public var from: [Located<String>]?
    /// Whether `from:` was written as a list (`from: [a, b]`), which only `concat` accepts.
    public var fromIsList: Bool
    /// Every other key, in the order written.
    public var attributes: [SpecEntry]
    /// Where the layer's mapping starts.
    public var location: SourceLocation
    /// Whether a variant (`set` or `insert`) changed or added this layer: pretrained weights
    /// (`training.weights`, `train --init-from`) that do not fit it are not an error, it starts fresh.
    public var changedByVariant = false

    public init(name: Located<String>, op: Located<String>, from: [Located<String>]? = nil, fromIsList: Bool = false,
                attributes: [SpecEntry] = [], location: SourceLocation) {
        self.name = name
        self.op = op
        self.from = from
        self.fromIsList = fromIsList
        self.attributes = attributes
        self.location = location
    }

    /// The keys every layer has besides its op's attributes.
    public static let commonKeys = ["name", "op", "from"]
}

/// The name `from:` uses for the network input; no layer may take it.
public let inputReferenceName = "input"

extension NetworkSpec {
    /// A spec file's top-level keys as `SpecLoader` reads them (recorded in schema mode), with the
    /// rules it applies: a spec names a `base` or writes `name`, `input` and `layers`; only a
    /// variant writes `remove`, `set` and `insert`. Its references name the definitions `layer`,
    /// `layer-changes`, `insert` and `training`.
    public static var fileSchema: SchemaObject { SpecDocument.schema }

    /// An entry of a variant's `insert`.
    public static var insertSchema: SchemaObject { SpecDocument.insertSchema }
}
