import StrataSpec

/// `lrn`: local response normalisation across channels, the AlexNet paper's formula
///
///     b[i] = a[i] / (k + alpha · Σ_{j = max(0, i − size/2)}^{min(C − 1, i + size/2)} a[j]²)^beta
///
/// with alpha NOT divided by `size` (Caffe and PyTorch divide it: their alpha is ours × size).
/// Attributes: `size` [5] (odd), `alpha` [0.0001], `beta` [0.75], `k` [2]. Output: the input's shape.
public struct LRN: LayerDefinition, Equatable {
    public static let op = "lrn"
    public static let summary = "local response normalisation across channels"

    public var size: Int
    public var alpha: Double
    public var beta: Double
    public var k: Double

    public init(size: Int = 5, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 2) {
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
    }

    public init?(attributes r: inout AttributeReader) {
        let size = r.int("size", default: 5, in: 1...1023, doc: "channels in the window, odd (centred on each channel)")
        let alpha = r.double("alpha", default: 1e-4, in: 0...1e6, doc: "scale of the sum of squares, not divided by `size` (Caffe's and PyTorch's alpha is this times `size`)")
        let beta = r.double("beta", default: 0.75, in: 0...16, doc: "exponent")
        let k = r.double("k", default: 2, in: 1e-9...1e6, doc: "additive constant (the paper's 2; Caffe's default is 1)")
        guard let size, let alpha, let beta, let k else { return nil }
        if size % 2 == 0 {
            r.report("'size' of lrn must be odd (the window is centred on each channel), got \(size)", at: r.location(of: "size"))
            return nil
        }
        self.init(size: size, alpha: alpha, beta: beta, k: k)
    }

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? {
        ctx.requireFeatureMap(inputs[0]) ? inputs[0] : nil
    }

    public var attributeList: [(String, String)] {
        [("size", "\(size)"), ("alpha", AttributeText.number(alpha)), ("beta", AttributeText.number(beta)), ("k", AttributeText.number(k))]
    }

    public var layer: Layer { .lrn(self) }
    public var diagramAttributes: [String]? { ["size"] }
}
