import StrataIR

extension MaxPool: LayerLowering {
    /// Saves the switches (the argmax of each window) in training and inference alike: the deconvnet unpools with them.
    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.maxpool_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output, c.switches], constants: window.geometry(c))
    }

    /// dX[switch] += dY: each output's gradient goes to the input that won its window. Every rule:
    /// this is the deconvnet's unpooling through the switches (where overlapping windows share a
    /// switch, their signals add).
    public func backward(_ c: StepContext) -> BackwardSteps {
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.maxpool_backward, node: c.node, inputs: [c.outputGradient, c.switches], outputs: [dx],
                            constants: window.geometry(c))])
    }
}
