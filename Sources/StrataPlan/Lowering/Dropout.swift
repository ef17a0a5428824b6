import StrataIR

extension Dropout: LayerLowering {
    /// When dropout is active (training), draws a mask (0 or 1/(1 − rate) per value) from the run's
    /// seed and this layer's stream, and saves it; otherwise no step.
    public func forwardStep(_ c: StepContext) -> Step? {
        guard c.dropout else { return nil }
        return Step(.dropout_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output, c.saved("mask")],
                    constants: .dropout(rate: rate, stream: c.node))
    }

    /// gradient, guided: dX = dY·mask. deconvnet: the signal passes through.
    public func backward(_ c: StepContext) -> BackwardSteps {
        if c.rule == .deconvnet { return .passThrough }
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.dropout_backward, node: c.node, inputs: [c.outputGradient, c.saved("mask")], outputs: [dx])])
    }
}
