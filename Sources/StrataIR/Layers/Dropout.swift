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
        guard let rate = r.double("rate", default: 0.5, in: 0...1, openUpper: true, doc: "probability of zeroing a value in training, in [0, 1)") else { return nil }
        self.rate = rate
    }

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { inputs[0] }
    public var attributeList: [(String, String)] { [("rate", AttributeText.number(rate))] }
    public var layer: Layer { .dropout(self) }
}
