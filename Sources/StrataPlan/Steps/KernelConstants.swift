import StrataIR

/// The typed constants a kernel needs, produced once by the layer's lowering (`Lowering/`) when it lowers
/// itself to steps (`forwardStep`, `backward`), so that no backend reads `Graph` or `Layer`.
/// Every size is per image (the plan supplies the batch). `constants` lists them under the names
/// an OpenCL kernel receives as `-D` build options; `strata compile --stop-after plan` prints them.
public enum KernelConstants: Sendable, Equatable {
    /// Elementwise steps, `add` and the loss: sizes come from the buffers.
    case none
    case conv(ConvGeometry)
    case pool(PoolGeometry)
    case lrn(LRNConstants)
    case fc(FCGeometry)
    /// Inverted dropout: drop `rate`; the mask stream is (run seed, `stream`).
    case dropout(rate: Double, stream: Int)
    /// The per-image sizes of a concat's inputs, and which input a `concat_backward` step is for.
    case concat(sizes: [Int], part: Int)
    /// Softmax and its loss: `classes` values per image.
    case softmax(classes: Int)
    /// ZF's feature-scale clip of `filters` rows of `size` values each to RMS at most `radius`.
    case filterClip(filters: Int, size: Int, radius: Double)

    /// `(name, value)` pairs, in a fixed order: the `-D` constants of an OpenCL build and the
    /// plan's text form.
    public var pairs: [(String, String)] {
        switch self {
        case .none: []
        case .conv(let g): g.constants
        case .pool(let g): g.constants
        case .lrn(let l): [("C", "\(l.channels)"), ("HW", "\(l.planeSize)"), ("SIZE", "\(l.size)"), ("ALPHA", AttributeText.number(l.alpha)),
                           ("BETA", AttributeText.number(l.beta)), ("K", AttributeText.number(l.k))]
        case .fc(let g): [("F", "\(g.features)"), ("U", "\(g.units)"), ("BIAS", g.bias ? "1" : "0")]
        case .dropout(let rate, let stream): [("RATE", AttributeText.number(rate)), ("STREAM", "\(stream)")]
        case .concat(let sizes, let part): [("SIZES", sizes.map(String.init).joined(separator: ":")), ("PART", "\(part)")]
        case .softmax(let classes): [("CLASSES", "\(classes)")]
        case .filterClip(let filters, let size, let radius): [("FILTERS", "\(filters)"), ("SIZE", "\(size)"), ("RADIUS", AttributeText.number(radius))]
        }
    }

    /// `C=3 H=227 ...`, or "" for none.
    public var text: String { pairs.map { "\($0.0)=\($0.1)" }.joined(separator: " ") }
}

/// A convolution as its kernels see it. x (N, C, H, W) → y (N, F, OH, OW); weight (F, C/G, KH, KW).
public struct ConvGeometry: Sendable, Equatable {
    public var channels: Int, height: Int, width: Int
    public var filters: Int, outHeight: Int, outWidth: Int
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var pad: (h: Int, w: Int)
    public var groups: Int
    /// Whether the step's inputs (forward) or outputs (filter gradient) include the bias after the weight.
    public var bias: Bool

    public init(channels: Int, height: Int, width: Int, filters: Int, outHeight: Int, outWidth: Int, kernel: (Int, Int),
                stride: (Int, Int), pad: (Int, Int), groups: Int, bias: Bool) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.filters, self.outHeight, self.outWidth) = (filters, outHeight, outWidth)
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.pad = (pad.0, pad.1)
        self.groups = groups
        self.bias = bias
    }

    var constants: [(String, String)] {
        [("C", "\(channels)"), ("H", "\(height)"), ("W", "\(width)"), ("F", "\(filters)"), ("OH", "\(outHeight)"), ("OW", "\(outWidth)"),
         ("KH", "\(kernel.h)"), ("KW", "\(kernel.w)"), ("SH", "\(stride.h)"), ("SW", "\(stride.w)"), ("PH", "\(pad.h)"), ("PW", "\(pad.w)"),
         ("G", "\(groups)"), ("BIAS", bias ? "1" : "0")]
    }

    public static func == (a: Self, b: Self) -> Bool { a.constants.elementsEqual(b.constants, by: ==) }
}

/// A pooling window as its kernels see it. x (N, C, H, W) → y (N, C, OH, OW).
public struct PoolGeometry: Sendable, Equatable {
    public var channels: Int, height: Int, width: Int
    public var outHeight: Int, outWidth: Int
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var pad: (h: Int, w: Int)

    public init(channels: Int, height: Int, width: Int, outHeight: Int, outWidth: Int, window: PoolWindow) {
        (self.channels, self.height, self.width, self.outHeight, self.outWidth) = (channels, height, width, outHeight, outWidth)
        (kernel, stride, pad) = (window.kernel, window.stride, window.pad)
    }

    var constants: [(String, String)] {
        [("C", "\(channels)"), ("H", "\(height)"), ("W", "\(width)"), ("OH", "\(outHeight)"), ("OW", "\(outWidth)"),
         ("KH", "\(kernel.h)"), ("KW", "\(kernel.w)"), ("SH", "\(stride.h)"), ("SW", "\(stride.w)"), ("PH", "\(pad.h)"), ("PW", "\(pad.w)")]
    }

    public static func == (a: Self, b: Self) -> Bool { a.constants.elementsEqual(b.constants, by: ==) }
}

/// LRN over `channels` planes of `planeSize` values (see `LRN` for the formula).
public struct LRNConstants: Sendable, Equatable {
    public var channels: Int, planeSize: Int
    public var size: Int
    public var alpha: Double, beta: Double, k: Double
}

/// A fully connected layer: x (N, F) → y (N, U); weight (U, F).
public struct FCGeometry: Sendable, Equatable {
    public var features: Int, units: Int
    /// Whether the step's inputs (forward) or outputs (filter gradient) include the bias after the weight.
    public var bias: Bool
}
