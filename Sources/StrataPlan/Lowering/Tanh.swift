import StrataIR

extension Tanh: LayerLowering {
    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.tanh_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output])
    }

    /// dX = dY·(1 − Y²). Every rule.
    public func backward(_ c: StepContext) -> BackwardSteps {
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.tanh_backward, node: c.node, inputs: [c.outputGradient, c.output], outputs: [dx])])
    }
}
