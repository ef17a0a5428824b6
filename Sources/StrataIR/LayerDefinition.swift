import StrataDiagnostics
import StrataSpec

/// What every layer type declares, once, in its own file under `Layers/`: its `op:` name, its
/// attributes (read with defaults and range checks), its output-shape rule with diagnostics, its
/// parameters in PyTorch's layouts and its multiply-adds. This is what the network *is*; how it
/// runs (its kernel steps, forward and backward) is the layer's `LayerLowering` in StrataPlan.
///
/// Adding a layer type: write `Layers/NewOp.swift` conforming to this protocol, add a case to
/// `Layer` and an entry to `Layer.registry`, then `StrataPlan/Lowering/NewOp.swift`; a new kernel
/// goes into `Kernel`, and the compiler then points at each backend's `switch` over `Kernel` that
/// lacks it. docs/adding-a-layer.md walks through every file, and the registry tests name the op
/// that lacks a shape case, a gradient check or a documented example.
public protocol LayerDefinition: Sendable {
    /// The `op:` name in specs.
    static var op: String { get }
    /// A one-line summary for `docs/spec.md` and error notes.
    static var summary: String { get }
    /// True for layers that read several layers (`from: [a, b]`); the others read exactly one.
    static var takesManyInputs: Bool { get }

    /// Reads the attributes; errors go to the reader. Returns nil when an attribute is wrong.
    init?(attributes: inout AttributeReader)

    /// The output shape per image, or nil after reporting why the inputs do not fit.
    func outputShape(_ inputs: [TensorShape], _ context: inout ShapeContext) -> TensorShape?

    /// Learnable parameters, in PyTorch's layouts (conv weight `[out, in/groups, kh, kw]`, fc weight `[out, in]`).
    func parameters(inputs: [TensorShape]) -> [ParameterShape]

    /// Multiply-adds per image (convolutions and fully connected layers; 0 for the rest).
    func multiplyAdds(inputs: [TensorShape], output: TensorShape) -> Int

    /// The attributes with defaults filled in, in a fixed order, for IR dumps.
    var attributeList: [(String, String)] { get }

    /// The names of the attributes a diagram (`--emit dot`) shows in the layer's box; all of
    /// `attributeList` unless the layer picks (conv: filters, kernel, stride, groups).
    var diagramAttributes: [String]? { get }

    /// Independent groups along channels (conv's `groups`: each group of outputs reads only its own
    /// share of the input channels); 1 for the rest. A diagram draws one box per group.
    var channelGroups: Int { get }

    /// This definition wrapped in the `Layer` enum.
    var layer: Layer { get }

    /// Parameters made of filters (one per leading index) that ZF's filter-RMS clip renormalises.
    var filterParameters: [String] { get }
}

extension LayerDefinition {
    public static var takesManyInputs: Bool { false }
    public func parameters(inputs: [TensorShape]) -> [ParameterShape] { [] }
    public func multiplyAdds(inputs: [TensorShape], output: TensorShape) -> Int { 0 }
    public var attributeList: [(String, String)] { [] }
    public var diagramAttributes: [String]? { nil }
    public var channelGroups: Int { 1 }
    public var filterParameters: [String] { [] }
}

/// A learnable tensor of a layer: `weight` or `bias`, stored as `LAYER.weight` / `LAYER.bias`.
public struct ParameterShape: Hashable, Sendable {
    public var name: String
    public var dims: [Int]

    public init(_ name: String, _ dims: [Int]) {
        self.name = name
        self.dims = dims
    }

    public var elementCount: Int { ExactArithmetic.product(dims) ?? Int.max }
}

/// Every layer type Strata knows. Backends and later stages `switch` over this enum, so a new case
/// is a compile error wherever it is not handled yet.
public enum Layer: Sendable {
    case conv(Conv)
    case maxpool(MaxPool)
    case avgpool(AvgPool)
    case lrn(LRN)
    case relu(ReLU)
    case tanh(Tanh)
    case dropout(Dropout)
    case fc(FullyConnected)
    case concat(Concat)
    case softmax(Softmax)

    /// The definition inside.
    public var definition: any LayerDefinition {
        switch self {
        case .conv(let l): l
        case .maxpool(let l): l
        case .avgpool(let l): l
        case .lrn(let l): l
        case .relu(let l): l
        case .tanh(let l): l
        case .dropout(let l): l
        case .fc(let l): l
        case .concat(let l): l
        case .softmax(let l): l
        }
    }

    public var op: String { type(of: definition).op }

    /// The layer types a spec can name, in documentation order.
    public static let registry: [any LayerDefinition.Type] = [
        Conv.self, MaxPool.self, AvgPool.self, LRN.self, ReLU.self, Tanh.self,
        Dropout.self, FullyConnected.self, Concat.self, Softmax.self,
    ]

    public static var opNames: [String] { registry.map { $0.op } }

    public static func definition(named op: String) -> (any LayerDefinition.Type)? {
        registry.first { $0.op == op }
    }
}

/// What a shape rule needs to report a located error: the layer, where its attributes were
/// written, and the names and declarations of its inputs.
public struct ShapeContext {
    public let layerName: String
    public let op: String
    public let location: SourceLocation
    public let attributeLocations: [String: SourceLocation]
    /// `'pool5'`, or `the input` for the network input.
    public let inputDescriptions: [String]
    public let inputLocations: [SourceLocation]
    public private(set) var diagnostics: [Diagnostic] = []

    public init(layerName: String, op: String, location: SourceLocation, attributeLocations: [String: SourceLocation],
                inputDescriptions: [String], inputLocations: [SourceLocation]) {
        self.layerName = layerName
        self.op = op
        self.location = location
        self.attributeLocations = attributeLocations
        self.inputDescriptions = inputDescriptions
        self.inputLocations = inputLocations
    }

    /// Reports an error at `attribute` (or at the layer), with notes at the given inputs' declarations.
    public mutating func error(_ message: String, attribute: String? = nil, inputs: [Int] = []) {
        let at = attribute.flatMap { attributeLocations[$0] } ?? location
        let notes = inputs.map { i in Diagnostic.note("\(inputDescriptions[i]) declared here", at: inputLocations[i]) }
        diagnostics.append(.error(message, at: at, notes: notes))
    }

    /// `'pool5' produces (256, 6, 6)` / `the input is (3, 227, 227)`.
    public func produces(_ i: Int, _ shape: TensorShape) -> String {
        inputDescriptions[i] == "the input" ? "the input is \(shape)" : "\(inputDescriptions[i]) produces \(shape)"
    }

    /// Where an error about the inputs points: the `from:` reference, or the op of a layer that reads the previous one.
    public var inputAttribute: String { attributeLocations["from"] != nil ? "from" : "op" }

    /// Checks the layer reads a (C, H, W) feature map.
    public mutating func requireFeatureMap(_ shape: TensorShape, input: Int = 0) -> Bool {
        if shape.isFeatureMap { return true }
        error("\(op) layer '\(layerName)' needs a (C, H, W) feature map, but \(produces(input, shape))", attribute: inputAttribute, inputs: [input])
        return false
    }
}

/// Spatial window arithmetic shared by convolution and pooling.
public enum Window {
    /// Output length along one axis: ⌊(in + 2·pad − kernel) / stride⌋ + 1, or with `ceil` ⌈…⌉ + 1, where (as in
    /// PyTorch) a last window that would start inside the right padding is dropped.
    /// Nil when the window is larger than the padded input.
    public static func outputLength(input: Int, kernel: Int, stride: Int, pad: Int, ceil: Bool) -> Int? {
        let span = input + 2 * pad - kernel
        guard span >= 0 else { return nil }
        var out = ExactArithmetic.divide(span, stride, roundingUp: ceil) + 1
        if ceil && (out - 1) * stride >= input + pad { out -= 1 }
        return out
    }
}

/// How attribute values are written in IR dumps and kernel constants.
public enum AttributeText {
    /// An attribute pair `[h, w]` compactly: `3` when square, `[3, 5]` otherwise.
    public static func pair(_ p: (Int, Int)) -> String { p.0 == p.1 ? "\(p.0)" : "[\(p.0), \(p.1)]" }

    /// A count with thousands separated: `60,965,224`.
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A number: `2` for whole numbers, `0.0001` otherwise.
    public static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
