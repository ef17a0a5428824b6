import StrataIR
import StrataDiagnostics

/// A graph of kernel steps derived from the IR: the forward pass and, when asked for, a backward
/// pass from a seed (the loss, or one layer's activations) under a rule, each backward step
/// produced by its layer's definition, and the optimizer's update steps after it.
public struct DerivedGraph: Sendable {
    public var graph: Graph
    /// The backward pass derived, or nil for inference.
    public var backward: BackwardPass?
    public var steps: [Step]
    /// Index of the first backward step (== steps.count for inference).
    public var backwardStart: Int
    /// Values that are another tensor under a new name (a layer with no forward step, or a
    /// backward rule that passes the signal through).
    public var aliases: [TensorID: TensorID] = [:]
    /// The tensor the caller writes before each run to seed the backward pass (`.gradient(i)` for
    /// a value seed; nil for the loss).
    public var seed: TensorID?

    /// Whether this graph trains: a backward pass from the loss.
    public var training: Bool { backward?.seed == .loss }

    /// `training`, `inference`, or `backward from 'conv5' (deconvnet)`.
    public var mode: String {
        guard let backward else { return "inference" }
        switch backward.seed {
        case .loss: return backward.rule == .gradient ? "training" : "loss backward (\(backward.rule.rawValue))"
        case .value(let i): return "backward from '\(graph.nodes[i].name)' (\(backward.rule.rawValue))"
        }
    }

    /// Inference, or training (the loss's gradient for every parameter). Dropout is the identity in
    /// inference (no step), and in training too when `dropout` is false (for exact gradients).
    public static func derive(_ graph: Graph, training: Bool, dropout: Bool = true) throws(DiagnosticError) -> DerivedGraph {
        try derive(graph, backward: training ? .training : nil, dropout: training && dropout)
    }

    /// Derives the forward steps and, if `backward` is given, the backward steps from its seed under
    /// its rule, asking each layer only for the gradients somebody needs; `optimizer` appends the
    /// update steps of every parameter that gets a gradient. A loss seed needs the network to end
    /// in `softmax` (the loss is the cross-entropy of its input logits). A value seed keeps only the
    /// forward steps the seed's layer depends on.
    ///
    /// One function of about 100 lines, by choice: the forward pass, the backward pass and the
    /// per-layer contexts share the flow analysis (`reach`, `needs`, `senders`) through the local
    /// `target` and `context`; split apart they would pass all of it around.
    public static func derive(_ graph: Graph, backward: BackwardPass?, dropout: Bool = false,
                              optimizer: OptimizerSteps? = nil) throws(DiagnosticError) -> DerivedGraph {
        precondition(graph.hasShapes, "derive needs a shaped graph")
        precondition(optimizer == nil || backward?.seed == .loss, "an optimizer needs a backward pass from the loss")
        let last = graph.nodes.count - 1
        let seedNode = try self.seedNode(graph, backward)
        let pass = backward ?? BackwardPass()
        let (reach, needs) = flow(graph, backward, pass, seedNode: seedNode)
        func trains(_ i: Int) -> Bool {
            pass.parameterGradients && !pass.frozen.contains(i) && !graph.parameterShapes(i).isEmpty
        }
        // differentiated[i]: node i gets backward steps (the loss's softmax is replaced by the loss's own gradient).
        let differentiated = graph.nodes.indices.map { i in
            backward != nil && reach[i] && needs[i] && !(backward?.seed == .loss && i == last)
        }
        // The consumers of each value that send a gradient back to it.
        var senders: [ValueID: [Int]] = [:]
        if backward != nil {
            for (i, node) in graph.nodes.enumerated() where reach[i] {
                for input in node.inputs { senders[input, default: []].append(i) }
            }
        }
        func wanted(_ value: ValueID) -> Bool {
            switch value {
            case .input: pass.inputGradient
            case .node(let j): needs[j]
            }
        }
        /// Where consumer `i` writes its contribution to dL/d(value).
        func target(_ value: ValueID, from i: Int) -> TensorID? {
            guard backward != nil, wanted(value) else { return nil }
            let shared = (senders[value]?.count ?? 0) > 1
            switch value {
            case .input: return shared ? .partialInputGradient(i) : .inputGradient
            case .node(let j): return shared ? .partialGradient(j, i) : .gradient(j)
            }
        }
        func context(_ i: Int) -> StepContext {
            let node = graph.nodes[i]
            return StepContext(node: i, inputs: node.inputs.map(tensor), output: .value(i),
                               inputShapes: node.inputs.map { graph.shape(of: $0)! }, outputShape: node.shape!,
                               outputGradient: .gradient(i), inputGradients: node.inputs.map { target($0, from: i) },
                               parameterGradients: trains(i), rule: pass.rule, backward: differentiated[i],
                               // A frozen part that only feeds features to what trains (nothing at or below it
                               // trains) runs as at inference, dropout off: a fixed feature extractor.
                               dropout: dropout && (backward == nil || needs[i]))
        }

        var steps: [Step] = []
        var aliases: [TensorID: TensorID] = [:]
        var identities = Set<Int>()
        var valueSeed = false
        if case .value? = backward?.seed { valueSeed = true }
        for i in graph.nodes.indices where !valueSeed || reach[i] {
            let c = context(i)
            if let step = graph.nodes[i].layer.lowering.forwardStep(c) {
                steps.append(step)
            } else {
                aliases[.value(i)] = aliases[c.inputs[0]] ?? c.inputs[0]
                identities.insert(i)
            }
        }
        let backwardStart = steps.count
        guard let backward else {
            return DerivedGraph(graph: graph, backward: nil, steps: steps, backwardStart: backwardStart, aliases: aliases)
        }

        var seed: TensorID?
        switch backward.seed {
        case .loss:
            // The loss, and its gradient straight to the logits (the softmax's input).
            let logits = graph.nodes[last].inputs[0]
            let classes = KernelConstants.softmax(classes: graph.nodes[last].shape!.elementCount!)
            steps.append(Step(.softmax_cross_entropy, node: last, inputs: [tensor(logits), .labels], outputs: [.loss], constants: classes))
            if let dz = target(logits, from: last) {
                steps.append(Step(.softmax_cross_entropy_backward, node: last, inputs: [.value(last), .labels], outputs: [dz], constants: classes))
            }
        case .value(let i):
            seed = .gradient(i)
        }
        for i in graph.nodes.indices.reversed() where differentiated[i] {
            // Sum the partial gradients of a value with several consumers first.
            if let users = senders[.node(i)], users.count > 1 {
                steps.append(Step(.add, node: nil, inputs: users.map { .partialGradient(i, $0) }, outputs: [.gradient(i)]))
            }
            let c = context(i)
            let rule: BackwardSteps = identities.contains(i) ? .passThrough : graph.nodes[i].layer.lowering.backward(c)
            switch rule {
            case .steps(let s): steps.append(contentsOf: s)
            case .passThrough:
                // The signal goes on unchanged: dX is dY under another name.
                if let dx = c.inputGradients[0] { aliases[dx] = aliases[.gradient(i)] ?? .gradient(i) }
            }
        }
        if let users = senders[.input], users.count > 1, backward.inputGradient {
            steps.append(Step(.add, node: nil, inputs: users.map { .partialInputGradient($0) }, outputs: [.inputGradient]))
        }

        if let optimizer { steps += optimizerSteps(graph, optimizer, updating: Set(steps.flatMap(\.outputs))) }
        return DerivedGraph(graph: graph, backward: backward, steps: steps, backwardStart: backwardStart, aliases: aliases, seed: seed)
    }

    /// The node the backward pass starts at: the last (the loss's softmax, which a loss seed
    /// requires) or the seed's layer.
    static func seedNode(_ graph: Graph, _ backward: BackwardPass?) throws(DiagnosticError) -> Int {
        let last = graph.nodes.count - 1
        switch backward?.seed {
        case .loss?:
            guard last >= 0, case .softmax = graph.nodes[last].layer else {
                let at = graph.nodes.last.map { $0.attributeLocations["op"] ?? $0.location }
                throw DiagnosticError(.error("training needs the network to end in a 'softmax' layer (the loss is its cross-entropy)", at: at))
            }
            return last
        case .value(let i)?:
            precondition(graph.nodes.indices.contains(i), "seed node \(i) is not in '\(graph.name)'")
            return i
        case nil:
            return last
        }
    }

    /// The optimizer's steps after the backward pass: an SGD update of every parameter whose
    /// gradient the pass made, then ZF's filter clip of each conv weight among them.
    static func optimizerSteps(_ graph: Graph, _ optimizer: OptimizerSteps, updating updated: Set<TensorID>) -> [Step] {
        var steps: [Step] = []
        for p in graph.namedParameters() where updated.contains(.parameterGradient(p.node, p.parameter)) {
            steps.append(Step(.sgd_update, node: p.node,
                              inputs: [p.tensor, .parameterGradient(p.node, p.parameter), .momentum(p.node, p.parameter), .hyperparameters],
                              outputs: [p.tensor, .momentum(p.node, p.parameter)]))
        }
        if let radius = optimizer.filterRMSClip {
            for p in graph.namedParameters() where updated.contains(.parameterGradient(p.node, p.parameter))
                && graph.nodes[p.node].layer.definition.filterParameters.contains(p.parameter) {
                let filters = p.dims[0], size = p.dims.dropFirst().reduce(1, *)
                steps.append(Step(.filter_rms_clip, node: p.node, inputs: [p.tensor], outputs: [p.tensor],
                                  constants: .filterClip(filters: filters, size: size, radius: radius)))
            }
        }
        return steps
    }

    /// Which nodes the backward pass reaches and which need a gradient. reach[i]: the seed depends
    /// on node i (a backward signal arrives there). needs[i]: someone wants dL/d(value i): a layer
    /// at or below it trains, or it leads to the input and the input's gradient is wanted.
    static func flow(_ graph: Graph, _ backward: BackwardPass?, _ pass: BackwardPass, seedNode: Int) -> (reach: [Bool], needs: [Bool]) {
        let count = graph.nodes.count
        var reach = [Bool](repeating: backward == nil, count: count)
        if backward != nil && count > 0 {
            reach[seedNode] = true
            for i in stride(from: seedNode, through: 0, by: -1) where reach[i] {
                for case .node(let j) in graph.nodes[i].inputs { reach[j] = true }
            }
        }
        var needs = [Bool](repeating: false, count: count)
        for i in graph.nodes.indices {
            let trains = pass.parameterGradients && !pass.frozen.contains(i) && !graph.parameterShapes(i).isEmpty
            needs[i] = trains || graph.nodes[i].inputs.contains { input in
                switch input {
                case .input: pass.inputGradient
                case .node(let j): needs[j]
                }
            }
        }
        return (reach, needs)
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
        case .input, .inputGradient, .partialInputGradient: graph.input.dims
        case .labels: [1]
        case .loss: [1]
        case .hyperparameters: [3]
        case .value(let i), .gradient(let i), .partialGradient(let i, _): graph.nodes[i].shape?.dims ?? []
        case .parameter(let i, let name), .parameterGradient(let i, let name), .momentum(let i, let name):
            graph.parameterShapes(i).first { $0.name == name }?.dims ?? []
        case .saved(let i, _), .switches(let i): graph.nodes[i].shape?.dims ?? []
        }
    }

    /// Whether a tensor's size scales with the batch (everything but parameters, their gradients
    /// and momentum, the optimizer's settings and the loss).
    public func isPerBatch(_ tensor: TensorID) -> Bool {
        switch tensor {
        case .parameter, .parameterGradient, .momentum, .hyperparameters, .loss: false
        default: true
        }
    }

    /// Stable text: one step per line, `outputs = kernel(inputs) : shapes  {constants}`.
    public func text() -> String {
        var out = "\(mode) graph \(graph.name)\n"
        for (k, step) in steps.enumerated() {
            if k == backwardStart && backward != nil { out += "  // backward\n" }
            let shapes = step.outputs.map { t in
                let dims = shape(of: t)
                return isPerBatch(t) ? "(N, " + dims.map(String.init).joined(separator: ", ") + ")"
                    : "(" + dims.map(String.init).joined(separator: ", ") + ")"
            }
            func name(_ t: TensorID) -> String { "%" + t.name(in: graph) }
            out += "  \(step.outputs.map(name).joined(separator: ", ")) = \(step.kernel.rawValue)(\(step.inputs.map(name).joined(separator: ", ")))"
            out += " : \(shapes.joined(separator: ", "))"
            out += step.constants == .none ? "\n" : "  {\(step.constants.text)}\n"
        }
        return out
    }
}

/// A learnable tensor under the one name every file, executor and command uses: `LAYER.weight`.
public struct NamedParameter: Sendable, Hashable {
    /// `conv1.weight`.
    public var name: String
    public var node: Int
    /// `weight` or `bias`.
    public var parameter: String
    /// In PyTorch's layout.
    public var dims: [Int]

    public var tensor: TensorID { .parameter(node, parameter) }
    public var elementCount: Int { ExactArithmetic.product(dims) ?? Int.max }
}

extension Graph {
    /// The learnable parameters of node i, in PyTorch's layouts.
    public func parameterShapes(_ i: Int) -> [ParameterShape] {
        let node = nodes[i]
        return node.layer.definition.parameters(inputs: node.inputs.compactMap { shape(of: $0) })
    }

    /// Every learnable tensor, in graph order, named `LAYER.NAME`: the one rule that names
    /// parameters in weights files, checkpoints, executors and commands.
    public func namedParameters() -> [NamedParameter] {
        nodes.indices.flatMap { i in
            parameterShapes(i).map { NamedParameter(name: "\(nodes[i].name).\($0.name)", node: i, parameter: $0.name, dims: $0.dims) }
        }
    }
}

extension BackwardPass {
    /// What training `graph` needs under its spec's `training.freeze`: the loss's gradient for every
    /// parameter of the layers not frozen. A frozen layer without parameters is an error at its name.
    public static func training(_ graph: Graph, freeze: [Located<String>]) throws(DiagnosticError) -> BackwardPass {
        var frozen = Set<Int>(), problems: [Diagnostic] = []
        for name in freeze {
            guard let node = graph.nodes.firstIndex(where: { $0.name == name.value }) else {
                problems.append(.error("'freeze' names '\(name.value)', which is not a layer", at: name.location,
                                       notes: Spelling.note(for: name.value, among: graph.nodes.map(\.name), at: name.location)))
                continue
            }
            if graph.parameterShapes(node).isEmpty {
                problems.append(.error("'freeze' names '\(name.value)', a '\(graph.nodes[node].op)' layer, which has no weights to freeze; "
                                       + "expected a layer with parameters (conv, fc)", at: name.location))
            }
            frozen.insert(node)
        }
        guard problems.isEmpty else { throw DiagnosticError(problems) }
        let trainable = graph.nodes.indices.filter { !graph.parameterShapes($0).isEmpty }
        if let first = freeze.first, !trainable.isEmpty, trainable.allSatisfy(frozen.contains) {
            throw DiagnosticError([.error("'freeze' names every layer with weights (\(trainable.map { graph.nodes[$0].name }.joined(separator: ", "))), "
                                          + "so nothing is left to train; leave at least one layer out of 'freeze'", at: first.location)])
        }
        return BackwardPass(frozen: frozen)
    }
}
