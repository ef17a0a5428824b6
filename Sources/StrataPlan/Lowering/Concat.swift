import StrataIR

extension Concat: LayerLowering {
    func sizes(_ c: StepContext) -> [Int] { c.inputShapes.map { $0.elementCount! } }

    public func forwardStep(_ c: StepContext) -> Step? {
        Step(.concat_forward, node: c.node, inputs: c.inputs, outputs: [c.output], constants: .concat(sizes: sizes(c), part: 0))
    }

    /// Each input's gradient is its slice of dY: one step per input that needs one. Every rule.
    public func backward(_ c: StepContext) -> BackwardSteps {
        .steps(c.inputGradients.enumerated().compactMap { k, dx in
            dx.map { Step(.concat_backward, node: c.node, inputs: [c.outputGradient], outputs: [$0], constants: .concat(sizes: sizes(c), part: k)) }
        })
    }
}
