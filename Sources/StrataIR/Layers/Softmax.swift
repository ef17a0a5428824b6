import StrataSpec

/// `softmax`: exp(x_i) / Σ exp(x_j) over a vector (F). In training, the loss is the cross-entropy of
/// this layer computed from its input logits. No attributes. Output: the input's shape.
public struct Softmax: LayerDefinition, Equatable {
    public static let op = "softmax"
    public static let summary = "softmax over a vector (cross-entropy loss in training)"
    public init() {}
    public init?(attributes r: inout AttributeReader) {}

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? {
        guard inputs[0].rank == 1 else {
            ctx.error("softmax '\(ctx.layerName)' needs a vector (F), but \(ctx.produces(0, inputs[0])); put an 'fc' layer before it",
                      attribute: ctx.inputAttribute, inputs: [0])
            return nil
        }
        return inputs[0]
    }

    public var layer: Layer { .softmax(self) }
}
