import StrataIR

extension LRN: LayerLowering {
    func constants(_ c: StepContext) -> KernelConstants {
        let x = c.inputShapes[0]
        return .lrn(LRNConstants(channels: x.channels, planeSize: x.height * x.width, size: size, alpha: alpha, beta: beta, k: k))
    }

    /// Before a backward pass that uses them (not the deconvnet's), also saves the denominators
    /// s = k + alpha·Σa² for the backward step.
    public func forwardStep(_ c: StepContext) -> Step? {
        let saves = c.backward && c.rule != .deconvnet
        return Step(.lrn_forward, node: c.node, inputs: [c.inputs[0]], outputs: saves ? [c.output, c.saved("scale")] : [c.output],
                    constants: constants(c))
    }

    /// gradient, guided: dX[i] = dY[i]·s[i]^−β − 2αβ·a[i]·Σ_{j: i in window(j)} dY[j]·b[j] / s[j].
    /// deconvnet: the signal passes through.
    public func backward(_ c: StepContext) -> BackwardSteps {
        if c.rule == .deconvnet { return .passThrough }
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.lrn_backward, node: c.node, inputs: [c.outputGradient, c.inputs[0], c.output, c.saved("scale")], outputs: [dx],
                            constants: constants(c))])
    }
}
