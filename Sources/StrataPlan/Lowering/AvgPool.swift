import StrataIR

extension AvgPool: LayerLowering {
    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.avgpool_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output], constants: window.geometry(c))
    }

    /// Each input in a window gets dY / (kh·kw). Every rule.
    public func backward(_ c: StepContext) -> BackwardSteps {
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.avgpool_backward, node: c.node, inputs: [c.outputGradient], outputs: [dx], constants: window.geometry(c))])
    }
}
