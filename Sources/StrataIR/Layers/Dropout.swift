import StrataSpec

/// `dropout`: in training, zeroes each value with probability `rate` and scales the rest by
/// 1 / (1 − rate) (inverted dropout, so inference is the identity). Attributes: `rate` [0.5], in [0, 1).
/// Output: the input's shape.
public struct Dropout: LayerDefinition, Equatable {
    public static let op = "dropout"
    public static let summary = "inverted dropout"
    public var rate: Double

    public init(rate: Double = 0.5) { self.rate = rate }

    public init?(attributes r: inout AttributeReader) {
        guard let rate = r.double("rate", default: 0.5, in: 0...1, openUpper: true) else { return nil }
        self.rate = rate
    }

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { inputs[0] }
    public var attributeList: [(String, String)] { [("rate", numberText(rate))] }
    public var layer: Layer { .dropout(self) }

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
