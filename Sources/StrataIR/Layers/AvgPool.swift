import StrataSpec

/// `avgpool`: the mean over each window, per channel; padded positions count as zeros in the mean
/// (Caffe's rule and PyTorch's default). Attributes and output: see `PoolWindow`.
public struct AvgPool: LayerDefinition, Equatable {
    public static let op = "avgpool"
    public static let summary = "average pooling"
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
    public var layer: Layer { .avgpool(self) }
    public var diagramAttributes: [String]? { ["kernel", "stride"] }
}
