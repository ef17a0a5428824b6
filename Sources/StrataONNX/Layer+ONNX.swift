import StrataIR

/// What one layer becomes in ONNX (opset 17).
enum ONNXMapping {
    /// Operators in order; the last writes the layer's output, the value named after the layer.
    case operators([Onnx_NodeProto])
    /// No ONNX operator computes exactly what this layer does: why (a rule, lowercase), and the
    /// attribute responsible, for the error's location.
    case unsupported(String, attribute: String?)
}

/// One layer as the mapping sees it: the names of its values in the ONNX graph.
struct ONNXLayerContext {
    /// The layer's name: its node's name and its output value's.
    var name: String
    var op: String
    /// The values it reads (layer names, or the prepared input).
    var inputs: [String]
    var inputShapes: [TensorShape]
    var output: TensorShape
    /// Its initializers in the definition's order (`LAYER.weight`, `LAYER.bias`).
    var parameters: [String]
    /// Where the spec wrote it, for each node's doc string.
    var origin: String

    /// The operator that writes the layer's output.
    func node(_ opType: String, inputs: [String]? = nil, _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        Onnx_NodeProto(opType, name: name, inputs: inputs ?? self.inputs, outputs: [name], attributes: attributes, doc: origin)
    }
}

extension Layer {
    /// The ONNX operators that compute this layer, float32, NCHW, the batch first. One switch with
    /// no default: a new layer type does not compile until it has a mapping here, or an explicit
    /// `.unsupported` that says why it cannot have one.
    func onnx(_ c: ONNXLayerContext) -> ONNXMapping {
        switch self {
        case .conv(let conv):
            return .operators([c.node("Conv", inputs: c.inputs + c.parameters, [
                .ints("kernel_shape", [conv.kernel.h, conv.kernel.w]), .ints("strides", [conv.stride.h, conv.stride.w]),
                .ints("pads", [conv.pad.h, conv.pad.w, conv.pad.h, conv.pad.w]), .ints("dilations", [1, 1]), .int("group", conv.groups),
            ])])
        case .maxpool(let pool):
            return ONNXPooling(window: pool.window, input: c.inputShapes[0], output: c.output).maxPool(c)
        case .avgpool(let pool):
            return ONNXPooling(window: pool.window, input: c.inputShapes[0], output: c.output).averagePool(c)
        case .lrn(let lrn):
            // Strata's alpha multiplies the plain sum of squares (the AlexNet paper's formula); ONNX's
            // LRN, like Caffe's, divides its alpha by size first. alpha · size makes the two the same function.
            return .operators([c.node("LRN", [
                .int("size", lrn.size), .float("alpha", lrn.alpha * Double(lrn.size)), .float("beta", lrn.beta), .float("bias", lrn.k),
            ])])
        case .relu:
            return .operators([c.node("Relu")])
        case .tanh:
            return .operators([c.node("Tanh")])
        case .dropout:
            // Inverted dropout is the identity at inference; Identity keeps the layer's name as a value.
            return .operators([c.node("Identity")])
        case .fc:
            // y = x·Wᵀ + b with W stored (units, F), PyTorch's layout: Gemm with transB. A feature map
            // is flattened first in C, H, W order, as Strata's fc reads it.
            var gemmInput = c.inputs[0], nodes: [Onnx_NodeProto] = []
            if c.inputShapes[0].rank != 1 {
                gemmInput = c.name + "/flatten"
                nodes.append(Onnx_NodeProto("Flatten", name: gemmInput, inputs: c.inputs, outputs: [gemmInput], attributes: [.int("axis", 1)],
                                            doc: c.origin))
            }
            nodes.append(c.node("Gemm", inputs: [gemmInput] + c.parameters, [.int("transB", 1)]))
            return .operators(nodes)
        case .concat:
            return .operators([c.node("Concat", [.int("axis", 1)])])
        case .softmax:
            return .operators([c.node("Softmax", [.int("axis", 1)])])
        }
    }
}

/// A pooling window in ONNX's terms. ONNX (opset 17) rounds the output size down unless
/// `ceil_mode` is set, and the rules for a window that starts in the padding under `ceil_mode`
/// have differed between versions and runtimes; so a `ceil: true` window is written without
/// `ceil_mode`, its extra rows and columns as explicit padding at the bottom and right, which
/// gives Strata's output size exactly (checked here).
struct ONNXPooling {
    var window: PoolWindow
    var input: TensorShape
    var output: TensorShape

    /// The padding ceil mode adds beyond `pad` at the bottom and right: what the last window needs.
    var extra: (h: Int, w: Int) {
        (max(0, (output.height - 1) * window.stride.h + window.kernel.h - input.height - 2 * window.pad.h),
         max(0, (output.width - 1) * window.stride.w + window.kernel.w - input.width - 2 * window.pad.w))
    }

    var pads: [Int] { [window.pad.h, window.pad.w, window.pad.h + extra.h, window.pad.w + extra.w] }

    /// Whether ONNX's floor rule over `pads` gives Strata's output size.
    var sizesAgree: Bool {
        (input.height + pads[0] + pads[2] - window.kernel.h) / window.stride.h + 1 == output.height
            && (input.width + pads[1] + pads[3] - window.kernel.w) / window.stride.w + 1 == output.width
    }

    var attributes: [Onnx_AttributeProto] {
        [.ints("kernel_shape", [window.kernel.h, window.kernel.w]), .ints("strides", [window.stride.h, window.stride.w]), .ints("pads", pads),
         .int("ceil_mode", 0)]
    }

    /// MaxPool: padding is −∞ in ONNX and never wins in Strata, so extra padding changes nothing.
    func maxPool(_ c: ONNXLayerContext) -> ONNXMapping {
        guard sizesAgree else { return .unsupported(sizeRule(c), attribute: "ceil") }
        return .operators([c.node("MaxPool", attributes)])
    }

    /// AveragePool. Strata divides by the window clipped to the padded input (padding counts, as in
    /// Caffe and PyTorch): with padding and no ceil that is every window's full area
    /// (`count_include_pad` 1); with ceil and no padding it is the window's part inside the image
    /// (`count_include_pad` 0, so the extra padding does not count). With both, the last window's
    /// divisor counts the padding but not what lies beyond it, which no AveragePool setting gives.
    func averagePool(_ c: ONNXLayerContext) -> ONNXMapping {
        guard sizesAgree else { return .unsupported(sizeRule(c), attribute: "ceil") }
        let padded = window.pad.h > 0 || window.pad.w > 0, extended = extra.h > 0 || extra.w > 0
        if padded && extended {
            return .unsupported("avgpool '\(c.name)' has no exact ONNX form: with 'ceil' and 'pad' (\(AttributeText.pair(window.pad))) its last "
                                + "window is averaged over its part inside the padded input, and ONNX's AveragePool counts either all of its "
                                + "padding or none; use 'pad: 0' or 'ceil: false'", attribute: "ceil")
        }
        return .operators([c.node("AveragePool", attributes + [.int("count_include_pad", padded ? 1 : 0)])])
    }

    private func sizeRule(_ c: ONNXLayerContext) -> String {
        "\(c.op) '\(c.name)' gives \(output) from \(input), which ONNX's pooling cannot reproduce with explicit padding"
    }
}
