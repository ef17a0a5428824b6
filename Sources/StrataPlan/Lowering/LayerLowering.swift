import StrataIR

/// How a layer type runs: the kernel step that computes it and its backward rule, one file per
/// layer type under `Lowering/`, beside its definition (`StrataIR/Layers/`), which says what the
/// layer is. `DerivedGraph` calls these to turn the IR into steps.
public protocol LayerLowering: LayerDefinition {
    /// The kernel step that computes the layer, with its lowered constants and what it saves for
    /// its backward step (when `c.backward`); nil when the layer is the identity here (dropout in
    /// inference), so its output is its input.
    func forwardStep(_ c: StepContext) -> Step?

    /// The backward rule, for each `BackwardRule` (`c.rule`): the steps that compute dL/d(input)
    /// (where `c.inputGradients` asks for it) and dL/d(parameters) (where `c.parameterGradients`)
    /// from dL/d(output), or `.passThrough`.
    func backward(_ c: StepContext) -> BackwardSteps
}

extension Layer {
    /// The layer's lowering. The switch is exhaustive, so a new `Layer` case is a compile error
    /// here until its `Lowering/NewOp.swift` exists.
    public var lowering: any LayerLowering {
        switch self {
        case .conv(let l): l
        case .maxpool(let l): l
        case .avgpool(let l): l
        case .lrn(let l): l
        case .relu(let l): l
        case .tanh(let l): l
        case .dropout(let l): l
        case .fc(let l): l
        case .concat(let l): l
        case .softmax(let l): l
        }
    }
}
