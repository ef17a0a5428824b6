import StrataSpec

/// `maxpool`: the maximum over each window, per channel; padding never wins. Backends record the
/// argmax ("switches") that the deconvnet uses to unpool. Attributes and output: see `PoolWindow`.
public struct MaxPool: LayerDefinition, Equatable {
    public static let op = "maxpool"
    public static let summary = "max pooling (records switches)"
    public var window: PoolWindow

    public init(_ window: PoolWindow) { self.window = window }

    public init?(attributes r: inout AttributeReader) {
        guard let w = PoolWindow(attributes: &r, op: Self.op) else { return nil }
        window = w
    }

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? {
        window.outputShape(inputs, &ctx)
    }

    public var attributeList: [(String, String)] { window.attributeList }
    public var layer: Layer { .maxpool(self) }
    public var diagramAttributes: [String]? { ["kernel", "stride"] }
}
