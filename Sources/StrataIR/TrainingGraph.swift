import StrataDiagnostics

/// A tensor of the training (or inference) graph. Shapes are per image unless noted; the plan
/// multiplies by the batch.
public enum TensorID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The network input, (N, C, H, W).
    case input
    /// Class labels, (N), int32.
    case labels
    /// The output of node i.
    case value(Int)
    /// dL/d(value i), the sum of every consumer's contribution.
    case gradient(Int)
    /// One consumer's contribution to dL/d(value i) when value i has several consumers: (value, consumer).
    case partialGradient(Int, Int)
    /// A learnable tensor of node i: "weight" or "bias".
    case parameter(Int, String)
    /// dL/d(parameter).
    case parameterGradient(Int, String)
    /// Something a forward kernel keeps for its backward kernel: "switches", "mask", "scale".
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
        case .parameter(let i, let name): "p\(i).\(name)"
        case .parameterGradient(let i, let name): "dp\(i).\(name)"
        case .saved(let i, let name): "s\(i).\(name)"
        case .loss: "loss"
        }
    }
}

/// Every kernel a backend must provide, named `<layer>_<pass>`. Backends `switch` over this enum,
/// so a new kernel is a compile error in every backend that lacks it.
public enum Kernel: String, Sendable, CaseIterable {
    case conv_forward, conv_backward_data, conv_backward_filter
    case maxpool_forward, maxpool_backward
    case avgpool_forward, avgpool_backward
    case lrn_forward, lrn_backward
    case relu_forward, relu_backward
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
}

/// One kernel launch of the training graph: which kernel, for which node, reading and writing which tensors.
public struct Step: Sendable {
    public var kernel: Kernel
    /// The IR node the step computes (nil for `add`).
    public var node: Int?
    public var inputs: [TensorID]
    public var outputs: [TensorID]
    /// For steps about one input of a multi-input node (`concat_backward`): which input.
    public var part: Int

    public init(_ kernel: Kernel, node: Int?, inputs: [TensorID], outputs: [TensorID], part: Int = 0) {
        self.kernel = kernel
        self.node = node
        self.inputs = inputs
        self.outputs = outputs
        self.part = part
    }
}

/// What a layer's forward and gradient rules see: its tensors in the training graph.
public struct StepContext: Sendable {
    public var node: Int
    public var inputs: [TensorID]
    public var output: TensorID
    /// dL/d(output).
    public var outputGradient: TensorID
    /// Where to write dL/d(input i), or nil where no gradient is needed (the network input).
    public var inputGradients: [TensorID?]
    public var training: Bool
    /// Whether dropout is active (training, unless turned off as `strata grad` does).
    public var dropout: Bool

    public func parameter(_ name: String) -> TensorID { .parameter(node, name) }
    public func parameterGradient(_ name: String) -> TensorID { .parameterGradient(node, name) }
    public func saved(_ name: String) -> TensorID { .saved(node, name) }
}

/// A graph of kernel steps derived from the IR: the forward pass, and for training the loss and
/// the backward pass, each backward step produced by its layer's gradient rule.
public struct TrainingGraph: Sendable {
    public var graph: Graph
    public var training: Bool
    public var steps: [Step]
    /// Index of the first backward step (== steps.count for inference).
    public var backwardStart: Int
    /// Values that are another tensor under a new name (a layer with no forward step).
    public var aliases: [TensorID: TensorID] = [:]

    /// Derives the graph. For training the network must end in `softmax`: the loss is the
    /// cross-entropy of its input logits. Dropout is the identity in inference (no step), and in
    /// training too when `dropout` is false (for exact gradients).
    public static func derive(_ graph: Graph, training: Bool, dropout: Bool = true) throws(DiagnosticError) -> TrainingGraph {
        precondition(graph.hasShapes, "derive needs a shaped graph")
        let last = graph.nodes.count - 1
        if training {
            guard last >= 0, case .softmax = graph.nodes[last].layer else {
                let at = graph.nodes.last.map { $0.attributeLocations["op"] ?? $0.location }
                throw DiagnosticError(.error("training needs the network to end in a 'softmax' layer (the loss is its cross-entropy)", at: at))
            }
        }
        // Consumers of each value, for gradient accumulation.
        var consumers: [TensorID: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for input in node.inputs { consumers[tensor(input), default: []].append(i) }
        }
        var steps: [Step] = []
        func context(_ i: Int) -> StepContext {
            let node = graph.nodes[i]
            let inputGradients: [TensorID?] = node.inputs.map { input in
                guard training, case .node(let j) = input else { return nil }
                return (consumers[.value(j)]?.count ?? 0) > 1 ? .partialGradient(j, i) : .gradient(j)
            }
            return StepContext(node: i, inputs: node.inputs.map(tensor), output: .value(i), outputGradient: .gradient(i),
                               inputGradients: inputGradients, training: training, dropout: training && dropout)
        }
        var aliases: [TensorID: TensorID] = [:]
        var identities = Set<Int>()
        for i in graph.nodes.indices {
            let c = context(i)
            if let step = graph.nodes[i].layer.definition.forwardStep(c) {
                steps.append(step)
            } else {
                aliases[.value(i)] = aliases[c.inputs[0]] ?? c.inputs[0]
                identities.insert(i)
            }
        }
        let backwardStart = steps.count
        guard training else {
            return TrainingGraph(graph: graph, training: false, steps: steps, backwardStart: backwardStart, aliases: aliases)
        }

        // The loss, and its gradient straight to the logits (the softmax's input).
        let logits = graph.nodes[last].inputs[0]
        steps.append(Step(.softmax_cross_entropy, node: last, inputs: [tensor(logits), .labels], outputs: [.loss]))
        var lossGradient: [TensorID] = []
        if case .node(let j) = logits {
            let target: TensorID = (consumers[.value(j)]?.count ?? 0) > 1 ? .partialGradient(j, last) : .gradient(j)
            lossGradient = [target]
        }
        if !lossGradient.isEmpty {
            steps.append(Step(.softmax_cross_entropy_backward, node: last, inputs: [.value(last), .labels], outputs: lossGradient))
        }
        for i in graph.nodes.indices.reversed() where i != last {
            // Sum the partial gradients of a value with several consumers first.
            if let users = consumers[.value(i)], users.count > 1 {
                steps.append(Step(.add, node: nil, inputs: users.map { .partialGradient(i, $0) }, outputs: [.gradient(i)]))
            }
            guard consumers[.value(i)] != nil else { continue }  // an unused branch gets no gradient
            if identities.contains(i) {
                // An identity layer passes its gradient through unchanged.
                if let dx = context(i).inputGradients[0] { aliases[dx] = .gradient(i) }
                continue
            }
            steps.append(contentsOf: graph.nodes[i].layer.definition.backwardSteps(context(i)))
        }
        return TrainingGraph(graph: graph, training: true, steps: steps, backwardStart: backwardStart, aliases: aliases)
    }

    static func tensor(_ value: ValueID) -> TensorID {
        switch value {
        case .input: .input
        case .node(let i): .value(i)
        }
    }

    /// The per-image shape of a tensor (labels and loss: one value per image and one in all).
    public func shape(of tensor: TensorID) -> [Int] {
        switch tensor {
        case .input: graph.input.dims
        case .labels: [1]
        case .loss: [1]
        case .value(let i), .gradient(let i), .partialGradient(let i, _): graph.nodes[i].shape?.dims ?? []
        case .parameter(let i, let name), .parameterGradient(let i, let name):
            parameterShapes(i).first { $0.name == name }?.dims ?? []
        case .saved(let i, _): graph.nodes[i].shape?.dims ?? []
        }
    }

    /// Whether a tensor's size does not scale with the batch (parameters, their gradients, the loss).
    public func isPerBatch(_ tensor: TensorID) -> Bool {
        switch tensor {
        case .parameter, .parameterGradient, .loss: false
        default: true
        }
    }

    public func parameterShapes(_ i: Int) -> [ParameterShape] {
        let node = graph.nodes[i]
        return node.layer.definition.parameters(inputs: node.inputs.compactMap { graph.shape(of: $0) })
    }

    /// Stable text: one step per line, `kernel(inputs) -> outputs  # node`.
    public func text() -> String {
        var out = "\(training ? "training" : "inference") graph \(graph.name)\n"
        var names: [TensorID: String] = [:]
        func name(_ t: TensorID) -> String {
            if let n = names[t] { return n }
            let n: String
            switch t {
            case .input: n = "%input"
            case .labels: n = "%labels"
            case .loss: n = "%loss"
            case .value(let i): n = "%" + graph.nodes[i].name
            case .gradient(let i): n = "%d." + graph.nodes[i].name
            case .partialGradient(let i, let j): n = "%d." + graph.nodes[i].name + "@" + graph.nodes[j].name
            case .parameter(let i, let p): n = "%" + graph.nodes[i].name + "." + p
            case .parameterGradient(let i, let p): n = "%d." + graph.nodes[i].name + "." + p
            case .saved(let i, let s): n = "%" + graph.nodes[i].name + "." + s
            }
            names[t] = n
            return n
        }
        for (k, step) in steps.enumerated() {
            if k == backwardStart && training { out += "  // backward\n" }
            let shapes = step.outputs.map { t in
                let dims = shape(of: t)
                return isPerBatch(t) && t != .loss ? "(N, " + dims.map(String.init).joined(separator: ", ") + ")"
                    : "(" + dims.map(String.init).joined(separator: ", ") + ")"
            }
            out += "  \(step.outputs.map(name).joined(separator: ", ")) = \(step.kernel.rawValue)(\(step.inputs.map(name).joined(separator: ", ")))"
            out += " : \(shapes.joined(separator: ", "))\n"
        }
        return out
    }
}
