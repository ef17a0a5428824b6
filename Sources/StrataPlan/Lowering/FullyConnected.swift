import StrataIR

extension FullyConnected: LayerLowering {
    func geometry(_ c: StepContext) -> KernelConstants {
        .fc(FCGeometry(features: c.inputShapes[0].elementCount!, units: units, bias: bias))
    }

    /// Inputs: x, weight, then bias when `bias`.
    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.fc_forward, node: c.node, inputs: [c.inputs[0], c.parameter("weight")] + (bias ? [c.parameter("bias")] : []),
             outputs: [c.output], constants: geometry(c))
    }

    /// dW = dYᵀ·X, db = Σ_n dY; dX = dY·W. Every rule (the deconvnet's transposed weights are this dX).
    public func backward(_ c: StepContext) -> BackwardSteps {
        var steps: [Step] = []
        if c.parameterGradients {
            steps.append(Step(.fc_backward_filter, node: c.node, inputs: [c.outputGradient, c.inputs[0]],
                              outputs: [c.parameterGradient("weight")] + (bias ? [c.parameterGradient("bias")] : []), constants: geometry(c)))
        }
        if let dx = c.inputGradients[0] {
            steps.append(Step(.fc_backward_data, node: c.node, inputs: [c.outputGradient, c.parameter("weight")], outputs: [dx],
                              constants: geometry(c)))
        }
        return .steps(steps)
    }
}
