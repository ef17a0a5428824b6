import StrataSpec

/// The window of a pooling layer, shared by `maxpool` and `avgpool`.
///
/// Attributes: `kernel` (required; int or `[h, w]`), `stride` [= kernel], `pad` [0] (at most half the
/// kernel, as in PyTorch), `ceil` [false]: the output size rounds up instead of down, as Caffe does
/// (a last window that would start in the right padding is dropped).
///
/// Output: (C, ⌊(H + 2·pad − kh) / sh⌋ + 1, ⌊(W + 2·pad − kw) / sw⌋ + 1), ⌈…⌉ with `ceil`.
public struct PoolWindow: Sendable, Equatable {
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var pad: (h: Int, w: Int)
    public var ceil: Bool

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, pad: (Int, Int) = (0, 0), ceil: Bool = false) {
        self.kernel = (kernel.0, kernel.1)
        self.stride = stride.map { ($0.0, $0.1) } ?? (kernel.0, kernel.1)
        self.pad = (pad.0, pad.1)
        self.ceil = ceil
    }

    init?(attributes r: inout AttributeReader, op: String) {
        let kernel = r.pair("kernel", in: 1...65_536, doc: "the window's size: `3` or `[height, width]`")
        let stride = r.pair("stride", optional: true, in: 1...65_536,
                            doc: "step between windows; the kernel when absent (a stride below the kernel overlaps, as AlexNet's pooling)") ?? kernel
        let pad = r.pair("pad", default: 0, in: 0...65_536, doc: "padding on each side, at most half the kernel (max-pooling never picks it; average-pooling counts it as zeros)")
        let ceil = r.bool("ceil", default: false, doc: "round the output size up instead of down, as Caffe does")
        guard let kernel, let stride, let pad, let ceil else { return nil }
        if pad.0 * 2 > kernel.0 || pad.1 * 2 > kernel.1 {
            r.report("'pad' (\(AttributeText.pair(pad))) of \(op) must be at most half of 'kernel' (\(AttributeText.pair(kernel)))", at: r.location(of: "pad"))
            return nil
        }
        self.init(kernel: kernel, stride: stride, pad: pad, ceil: ceil)
    }

    func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? {
        let x = inputs[0]
        guard ctx.requireFeatureMap(x) else { return nil }
        guard let h = Window.outputLength(input: x.height, kernel: kernel.h, stride: stride.h, pad: pad.h, ceil: ceil),
              let w = Window.outputLength(input: x.width, kernel: kernel.w, stride: stride.w, pad: pad.w, ceil: ceil) else {
            ctx.error("window \(kernel.h)×\(kernel.w) of '\(ctx.layerName)' is larger than its padded input "
                      + "\(x.height + 2 * pad.h)×\(x.width + 2 * pad.w) (\(ctx.produces(0, x)), pad \(AttributeText.pair(pad)))",
                      attribute: "kernel", inputs: [0])
            return nil
        }
        return .chw(x.channels, h, w)
    }

    var attributeList: [(String, String)] {
        [("kernel", AttributeText.pair(kernel)), ("stride", AttributeText.pair(stride)), ("pad", AttributeText.pair(pad)), ("ceil", "\(ceil)")]
    }

    public static func == (a: PoolWindow, b: PoolWindow) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.pad == b.pad && a.ceil == b.ceil
    }
}
