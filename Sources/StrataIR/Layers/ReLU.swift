import StrataSpec

/// `relu`: max(x, 0), elementwise. No attributes. Output: the input's shape.
public struct ReLU: LayerDefinition, Equatable {
    public static let op = "relu"
    public static let summary = "rectified linear unit, max(x, 0)"
    public init() {}
    public init?(attributes r: inout AttributeReader) {}
    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { inputs[0] }
    public var layer: Layer { .relu(self) }
}
