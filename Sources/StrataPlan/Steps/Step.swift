import StrataIR

/// A tensor of the training (or inference) graph. Shapes are per image unless noted; the plan
/// multiplies by the batch.
public enum TensorID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The network input, (N, C, H, W).
    case input
    /// Class labels, (N), int32.
    case labels
    /// The output of node i.
    case value(Int)
    /// dL/d(value i), the sum of every consumer's contribution (or, for a backward pass seeded at
    /// node i, the seed the caller writes).
    case gradient(Int)
    /// One consumer's contribution to dL/d(value i) when value i has several consumers: (value, consumer).
    case partialGradient(Int, Int)
    /// dL/d(input), (N, C, H, W): the projection of a seed onto the input.
    case inputGradient
    /// One consumer's contribution to dL/d(input) when several layers read the input.
    case partialInputGradient(Int)
    /// A learnable tensor of node i: "weight" or "bias".
    case parameter(Int, String)
    /// dL/d(parameter).
    case parameterGradient(Int, String)
    /// The SGD momentum of a parameter: optimizer state that lives as long as the executor.
    case momentum(Int, String)
    /// The optimizer's settings for the next update, [learning rate, momentum, weight decay].
    case hyperparameters
    /// The argmax of each max-pool window of node i (int32; see `maxpool_forward`): what the
    /// backward pass and the deconvnet unpool through.
    case switches(Int)
    /// Something else a forward kernel keeps for its backward kernel: "mask", "scale".
    case saved(Int, String)
    /// The mean cross-entropy loss, a scalar.
    case loss

    public var description: String {
        switch self {
        case .input: "input"
        case .labels: "labels"
        case .value(let i): "v\(i)"
        case .gradient(let i): "dv\(i)"
        case .partialGradient(let i, let j): "dv\(i)@\(j)"
        case .inputGradient: "dinput"
        case .partialInputGradient(let j): "dinput@\(j)"
        case .parameter(let i, let name): "p\(i).\(name)"
        case .parameterGradient(let i, let name): "dp\(i).\(name)"
        case .momentum(let i, let name): "m\(i).\(name)"
        case .hyperparameters: "hyperparameters"
        case .switches(let i): "s\(i).switches"
        case .saved(let i, let name): "s\(i).\(name)"
        case .loss: "loss"
        }
    }

    /// Labels and switches are int32; everything else float32.
    public var elementType: ElementType {
        switch self {
        case .labels, .switches: .int32
        default: .float32
        }
    }

    /// The tensor's name in plans, executors and files: `conv1`, `d.conv1`, `conv1.weight`,
    /// `d.conv1.weight`, `momentum/conv1.weight`, `conv1.switches`, `d.input` ...
    public func name(in graph: Graph) -> String {
        switch self {
        case .input: "input"
        case .labels: "labels"
        case .loss: "loss"
        case .hyperparameters: "hyperparameters"
        case .inputGradient: "d.input"
        case .partialInputGradient(let j): "d.input@" + graph.nodes[j].name
        case .value(let i): graph.nodes[i].name
        case .gradient(let i): "d." + graph.nodes[i].name
        case .partialGradient(let i, let j): "d." + graph.nodes[i].name + "@" + graph.nodes[j].name
        case .parameter(let i, let p): graph.nodes[i].name + "." + p
        case .parameterGradient(let i, let p): "d." + graph.nodes[i].name + "." + p
        case .momentum(let i, let p): "momentum/" + graph.nodes[i].name + "." + p
        case .switches(let i): graph.nodes[i].name + ".switches"
        case .saved(let i, let s): graph.nodes[i].name + "." + s
        }
    }
}

/// How a tensor's elements are stored.
public enum ElementType: String, Sendable { case float32, int32 }

/// Every kernel a backend must provide, named `<layer>_<pass>`. Backends `switch` over this enum,
/// so a new kernel is a compile error in every backend that lacks it.
public enum Kernel: String, Sendable, CaseIterable {
    case conv_forward, conv_backward_data, conv_backward_filter
    case maxpool_forward, maxpool_backward
    case avgpool_forward, avgpool_backward
    case lrn_forward, lrn_backward
    case relu_forward, relu_backward
    /// Guided backpropagation through a ReLU: dX = dY where both Y > 0 and dY > 0, else 0.
    case relu_backward_guided
    case tanh_forward, tanh_backward
    case dropout_forward, dropout_backward
    case fc_forward, fc_backward_data, fc_backward_filter
    case concat_forward, concat_backward
    case softmax_forward, softmax_backward
    /// The loss: mean cross-entropy of softmax(logits) against integer labels.
    case softmax_cross_entropy
    /// Its gradient with respect to the logits: (softmax − one-hot) / N.
    case softmax_cross_entropy_backward
    /// Elementwise sum of partial gradients.
    case add
    /// SGD with momentum and weight decay (the AlexNet paper's rule), in place:
    /// v ← momentum·v − decay·lr·w − lr·dw, w ← w + v. Inputs: w, dw, v, hyperparameters.
    case sgd_update
    /// ZF's feature-scale clipping, in place: each filter whose RMS exceeds the radius is scaled back to it.
    case filter_rms_clip
}

/// One kernel launch of the training graph: which kernel, for which node, reading and writing
/// which tensors, with the typed constants the kernel needs.
public struct Step: Sendable {
    public var kernel: Kernel
    /// The IR node the step computes (nil for `add`).
    public var node: Int?
    public var inputs: [TensorID]
    public var outputs: [TensorID]
    /// Sizes and attributes, lowered from the layer by its definition.
    public var constants: KernelConstants

    public init(_ kernel: Kernel, node: Int?, inputs: [TensorID], outputs: [TensorID], constants: KernelConstants = .none) {
        self.kernel = kernel
        self.node = node
        self.inputs = inputs
        self.outputs = outputs
        self.constants = constants
    }
}

/// What a layer's backward rule gives for one rule: kernel steps, or the signal passed through
/// unchanged (dX is dY under another name, no step).
public enum BackwardSteps: Sendable {
    case steps([Step])
    case passThrough
}

/// What a layer's forward and backward rules see: its tensors and shapes in the training graph.
public struct StepContext: Sendable {
    public var node: Int
    public var inputs: [TensorID]
    public var output: TensorID
    /// Per-image shapes of the inputs and the output.
    public var inputShapes: [TensorShape]
    public var outputShape: TensorShape
    /// dL/d(output).
    public var outputGradient: TensorID
    /// Where to write dL/d(input i), or nil where nobody needs it.
    public var inputGradients: [TensorID?]
    /// Whether dL/d(parameters) are wanted (false for frozen layers and for projections).
    public var parameterGradients: Bool
    /// The backward rule in force.
    public var rule: BackwardRule
    /// Whether a backward pass runs through this layer, so its forward step must save what its rule needs.
    public var backward: Bool
    /// Whether dropout is active (training, unless turned off as `strata grad` does).
    public var dropout: Bool

    public func parameter(_ name: String) -> TensorID { .parameter(node, name) }
    public func parameterGradient(_ name: String) -> TensorID { .parameterGradient(node, name) }
    public func saved(_ name: String) -> TensorID { .saved(node, name) }
    public var switches: TensorID { .switches(node) }
}

/// How signals travel backwards through the network.
public enum BackwardRule: String, Sendable, CaseIterable {
    /// The derivative: what training and saliency use.
    case gradient
    /// Zeiler & Fergus's deconvnet: unpool through the recorded switches, rectify the signal at
    /// each ReLU (not gated by the forward pass), transposed filters at convs and fcs; LRN and
    /// dropout pass the signal through.
    case deconvnet
    /// Guided backpropagation: the gradient, except that a ReLU passes only positive signal where
    /// its forward input was positive.
    case guided
}

/// Which backward pass a training graph derives: from where, under which rule, and which
/// gradients are wanted.
public struct BackwardPass: Sendable, Hashable {
    public enum Seed: Sendable, Hashable {
        /// The cross-entropy loss of the final softmax against the labels.
        case loss
        /// dL/d(output of node i), written by the caller into `.gradient(i)` before each run.
        case value(Int)
    }

    public var seed: Seed
    public var rule: BackwardRule
    /// Compute dL/d(input) (`.inputGradient`).
    public var inputGradient: Bool
    /// Compute dL/d(parameters) for every layer with parameters that is not frozen.
    public var parameterGradients: Bool
    /// Nodes whose parameters get no gradient (transfer with frozen features).
    public var frozen: Set<Int>

    public init(seed: Seed = .loss, rule: BackwardRule = .gradient, inputGradient: Bool = false, parameterGradients: Bool = true,
                frozen: Set<Int> = []) {
        self.seed = seed
        self.rule = rule
        self.inputGradient = inputGradient
        self.parameterGradients = parameterGradients
        self.frozen = frozen
    }

    /// What training needs: the loss's gradient for every parameter.
    public static let training = BackwardPass()

    /// A projection of one layer's activations onto the input (deconvnet, saliency, guided
    /// backpropagation): no parameter gradients.
    public static func projection(from node: Int, rule: BackwardRule) -> BackwardPass {
        BackwardPass(seed: .value(node), rule: rule, inputGradient: true, parameterGradients: false)
    }
}

/// The parameter update a training graph appends after its backward pass.
public struct OptimizerSteps: Sendable, Hashable {
    /// ZF's feature-scale clipping radius for filters (`training.filter_rms_clip`), or nil.
    public var filterRMSClip: Double?

    public init(filterRMSClip: Double? = nil) { self.filterRMSClip = filterRMSClip }
}
