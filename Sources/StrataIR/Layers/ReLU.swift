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

    /// gradient: dX = dY where Y > 0, else 0. deconvnet: dX = max(dY, 0), the signal rectified and
    /// not gated by the forward pass. guided: dX = dY where Y > 0 and dY > 0, else 0.
    public func backward(_ c: StepContext) -> BackwardSteps {
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        switch c.rule {
        case .gradient: return .steps([Step(.relu_backward, node: c.node, inputs: [c.outputGradient, c.output], outputs: [dx])])
        case .deconvnet: return .steps([Step(.relu_forward, node: c.node, inputs: [c.outputGradient], outputs: [dx])])
        case .guided: return .steps([Step(.relu_backward_guided, node: c.node, inputs: [c.outputGradient, c.output], outputs: [dx])])
        }
    }

}
