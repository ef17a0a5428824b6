import StrataIR

extension Softmax: LayerLowering {
    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.softmax_forward, node: c.node, inputs: [c.inputs[0]], outputs: [c.output], constants: .softmax(classes: c.outputShape.dims[0]))
    }

    /// dX = Y·(dY − Σ dY·Y). Every rule. (As the last layer in training, the loss's own gradient replaces this.)
    public func backward(_ c: StepContext) -> BackwardSteps {
        guard let dx = c.inputGradients[0] else { return .steps([]) }
        return .steps([Step(.softmax_backward, node: c.node, inputs: [c.outputGradient, c.output], outputs: [dx],
                            constants: .softmax(classes: c.outputShape.dims[0]))])
    }
}
