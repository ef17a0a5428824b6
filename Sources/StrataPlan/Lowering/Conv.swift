import StrataIR

extension Conv: LayerLowering {
    /// The constants of this conv's kernels.
    public func geometry(_ c: StepContext) -> ConvGeometry {
        let x = c.inputShapes[0], y = c.outputShape
        return ConvGeometry(channels: x.channels, height: x.height, width: x.width, filters: y.channels, outHeight: y.height,
                            outWidth: y.width, kernel: kernel, stride: stride, pad: pad, groups: groups, bias: bias)
    }

    /// Inputs: x, weight, then bias when `bias`.
    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.conv_forward, node: c.node, inputs: [c.inputs[0], c.parameter("weight")] + (bias ? [c.parameter("bias")] : []),
             outputs: [c.output], constants: .conv(geometry(c)))
    }

    /// dW = Σ_n dY·colᵀ, db = Σ dY; dX = col2im(Wᵀ·dY). Every rule: the deconvnet's "transposed
    /// filters" are this data gradient (the bias plays no part); a grouped conv reaches only its
    /// group's channels.
    public func backward(_ c: StepContext) -> BackwardSteps {
        var steps: [Step] = []
        if c.parameterGradients {
            steps.append(Step(.conv_backward_filter, node: c.node, inputs: [c.outputGradient, c.inputs[0]],
                              outputs: [c.parameterGradient("weight")] + (bias ? [c.parameterGradient("bias")] : []), constants: .conv(geometry(c))))
        }
        if let dx = c.inputGradients[0] {
            steps.append(Step(.conv_backward_data, node: c.node, inputs: [c.outputGradient, c.parameter("weight")], outputs: [dx],
                              constants: .conv(geometry(c))))
        }
        return .steps(steps)
    }
}
