import StrataSpec

/// `conv`: 2-D convolution (cross-correlation) over a (C, H, W) feature map, NCHW.
///
/// Attributes: `filters` (required), `kernel` (required; int or `[h, w]`), `stride` [1], `pad` [0]
/// (zeros on both sides), `groups` [1] (AlexNet's two-GPU split: each group of filters sees C/groups
/// input channels), `bias` [true].
///
/// Output: (filters, ⌊(H + 2·pad − kh) / sh⌋ + 1, ⌊(W + 2·pad − kw) / sw⌋ + 1).
/// Parameters: `weight` [filters, C/groups, kh, kw], `bias` [filters].
public struct Conv: LayerDefinition, Equatable {
    public static let op = "conv"
    public static let summary = "2-D convolution"

    public var filters: Int
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var pad: (h: Int, w: Int)
    public var groups: Int
    public var bias: Bool

    public init(filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), pad: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = true) {
        self.filters = filters
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.pad = (pad.0, pad.1)
        self.groups = groups
        self.bias = bias
    }

    public init?(attributes r: inout AttributeReader) {
        let filters = r.int("filters", in: 1...1_048_576, doc: "output channels (the number of filters)")
        let kernel = r.pair("kernel", in: 1...65_536, doc: "the filters' size: `11` or `[height, width]`")
        let stride = r.pair("stride", default: 1, in: 1...65_536, doc: "step between windows")
        let pad = r.pair("pad", default: 0, in: 0...65_536, doc: "zeros added on each side")
        let groups = r.int("groups", default: 1, in: 1...1_048_576,
                           doc: "filter groups: each sees C/groups input channels (AlexNet's two-GPU split); must divide the input channels and `filters`")
        let bias = r.bool("bias", default: true, doc: "whether the layer adds a learnt bias per filter")
        guard let filters, let kernel, let stride, let pad, let groups, let bias else { return nil }
        if filters % groups != 0 {
            r.report("'groups' (\(groups)) of \(r.owner) must divide 'filters' (\(filters))", at: r.location(of: "groups"))
            return nil
        }
        self.init(filters: filters, kernel: kernel, stride: stride, pad: pad, groups: groups, bias: bias)
    }

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? {
        let x = inputs[0]
        guard ctx.requireFeatureMap(x) else { return nil }
        if x.channels % groups != 0 {
            ctx.error("'groups' (\(groups)) must divide the input channels, but \(ctx.produces(0, x))", attribute: "groups", inputs: [0])
            return nil
        }
        guard let h = Window.outputLength(input: x.height, kernel: kernel.h, stride: stride.h, pad: pad.h, ceil: false),
              let w = Window.outputLength(input: x.width, kernel: kernel.w, stride: stride.w, pad: pad.w, ceil: false) else {
            ctx.error("kernel \(kernel.h)×\(kernel.w) of '\(ctx.layerName)' is larger than its padded input "
                      + "\(x.height + 2 * pad.h)×\(x.width + 2 * pad.w) (\(ctx.produces(0, x)), pad \(AttributeText.pair(pad)))",
                      attribute: "kernel", inputs: [0])
            return nil
        }
        return .chw(filters, h, w)
    }

    public func parameters(inputs: [TensorShape]) -> [ParameterShape] {
        let weight = ParameterShape("weight", [filters, inputs[0].channels / groups, kernel.h, kernel.w])
        return bias ? [weight, ParameterShape("bias", [filters])] : [weight]
    }

    public func multiplyAdds(inputs: [TensorShape], output: TensorShape) -> Int {
        ExactArithmetic.product([filters, inputs[0].channels / groups, kernel.h, kernel.w, output.height, output.width]) ?? Int.max
    }

    public var attributeList: [(String, String)] {
        [("filters", "\(filters)"), ("kernel", AttributeText.pair(kernel)), ("stride", AttributeText.pair(stride)), ("pad", AttributeText.pair(pad)),
         ("groups", "\(groups)"), ("bias", "\(bias)")]
    }

    public var layer: Layer { .conv(self) }
    public var diagramAttributes: [String]? { ["filters", "kernel", "stride", "groups"] }
    public var channelGroups: Int { groups }

    public var filterParameters: [String] { ["weight"] }

    public static func == (a: Conv, b: Conv) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.stride == b.stride && a.pad == b.pad && a.groups == b.groups && a.bias == b.bias
    }
}
