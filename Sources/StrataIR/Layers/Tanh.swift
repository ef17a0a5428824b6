import StrataSpec

/// `tanh`: the hyperbolic tangent, elementwise. No attributes. Output: the input's shape.
public struct Tanh: LayerDefinition, Equatable {
    public static let op = "tanh"
    public static let summary = "hyperbolic tangent"
    public init() {}
    public init?(attributes r: inout AttributeReader) {}
    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { inputs[0] }
    public var layer: Layer { .tanh(self) }
}
