import StrataIR

extension ReLU: LayerLowering {
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
