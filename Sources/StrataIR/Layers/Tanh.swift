import StrataSpec

/// `tanh`: the hyperbolic tangent, elementwise. No attributes. Output: the input's shape.
public struct Tanh: LayerDefinition, Equatable {
    public static let op = "tanh"
    public static let summary = "hyperbolic tangent"
    public init() {}
    public init?(attributes r: inout AttributeReader) {}
    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { inputs[0] }
    public var layer: Layer { .tanh(self) }

    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.tanh_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output])
    }

    /// dX = dY·(1 − Y²). Every rule.
    public func backward(_ c: StepContext) -> BackwardSteps {
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.tanh_backward, node: c.node, inputs: [c.outputGradient, c.output], outputs: [dx])])
    }

}
