/// What a layer does to positions: where each output position reads its input. Receptive fields
/// (what an output sees) and projective fields (what an input change reaches) are made of it.
public enum PositionMap: Sendable {
    /// A sliding window: output position o reads input positions o·stride − pad … o·stride − pad +
    /// kernel − 1, along rows and columns.
    case window(kernel: (h: Int, w: Int), stride: (h: Int, w: Int), pad: (h: Int, w: Int))
    /// Each output position reads the same input position (elementwise, or across channels).
    case kept
    /// Every output reads every input position (fully connected, softmax).
    case mixed
}

extension Layer {
    /// What the layer does to positions. No default: a new layer type must say it here, or the
    /// switch does not compile.
    public var positions: PositionMap {
        switch self {
        case .conv(let l): .window(kernel: l.kernel, stride: l.stride, pad: l.pad)
        case .maxpool(let l): .window(kernel: l.window.kernel, stride: l.window.stride, pad: l.window.pad)
        case .avgpool(let l): .window(kernel: l.window.kernel, stride: l.window.stride, pad: l.window.pad)
        case .fc, .softmax: .mixed
        case .lrn, .relu, .tanh, .dropout, .concat: .kept
        }
    }
}
