import StrataSpec

/// `relu`: max(x, 0), elementwise. No attributes. Output: the input's shape.
public struct ReLU: LayerDefinition, Equatable {
    public static let op = "relu"
    public static let summary = "rectified linear unit, max(x, 0)"
    public init() {}
    public init?(attributes r: inout AttributeReader) {}
    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { inputs[0] }
    public var layer: Layer { .relu(self) }

    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.relu_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output])
    }

    /// dX = dY where Y > 0, else 0.
    public func backwardSteps(_ c: StepContext) -> [Step] {
        guard let dx = c.inputGradients[0] else { return [] }
        return [Step(.relu_backward, node: c.node, inputs: [c.outputGradient, c.output], outputs: [dx])]
    }

}
