import StrataIR

/// Lowers a derived graph to an `ExecutionPlan` for one batch size:
/// 1. fuses each ReLU into the conv or fc step before it when nothing else reads the pre-ReLU value;
/// 2. runs elementwise steps in place when their input is not read afterwards;
/// 3. places arena buffers by liveness (largest first, lowest offset free for its lifetime).
public enum Planner {
    /// Fuses each forward ReLU into the conv or fc before it where the ReLU is that value's only
    /// reader and nothing keeps the pre-ReLU value (pinned) or reads it backward: the ReLU's step
    /// goes, its output becomes an alias of the conv's. Returns the steps, the indices of the
    /// conv/fc steps that now apply the ReLU, and the backward start, shifted.
    static func fuseReLUs(_ steps: [IRStep], backwardStart: Int, pinned: Set<TensorID>, alias: inout [TensorID: TensorID])
        -> (steps: [IRStep], fused: Set<Int>, backwardStart: Int) {
        func root(_ t: TensorID) -> TensorID { Planner.root(t, alias) }
        var fused = Set<Int>(), removed = Set<Int>()
        for (k, step) in steps.enumerated() where k < backwardStart && (step.kernel == .conv_forward || step.kernel == .fc_forward) {
            let value = step.outputs[0]
            guard !pinned.contains(value),
                  let r = steps.indices.first(where: { $0 < backwardStart && steps[$0].kernel == .relu_forward && root(steps[$0].inputs[0]) == value })
            else { continue }
            // Only if the ReLU is the sole reader and no backward step needs the pre-ReLU value.
            let others = steps.enumerated().filter { $0.offset != r && $0.element.inputs.contains { root($0) == value } }
            guard others.isEmpty else { continue }
            fused.insert(k)
            removed.insert(r)
            alias[steps[r].outputs[0]] = value
        }
        // The fused ReLU steps removed, the indices of `fused` and the backward start kept right.
        var kept: [IRStep] = []
        var newFused = Set<Int>()
        for (k, step) in steps.enumerated() where !removed.contains(k) {
            if fused.contains(k) { newFused.insert(kept.count) }
            kept.append(step)
        }
        return (kept, newFused, backwardStart - removed.count { $0 < backwardStart })
    }

    /// - Parameters:
    ///   - traits: the backend's alignment, thread count and scratch needs.
    ///   - keep: tensors that must stay readable after the run (for `strata features`): never
    ///     fused away or overwritten.
    ///   - observe: tensors the caller reads during the run, right after the step that makes them
    ///     (`Executor.run(seed:observe:)`): never fused away or overwritten in place, but their
    ///     memory is reused afterwards as usual, so the plan stays as small as one that keeps nothing.
    ///   - fuse: fuse ReLUs into the step before them.
    public static func plan(_ tg: DerivedGraph, batch: Int, traits: BackendTraits, keep: Set<TensorID> = [], observe: Set<TensorID> = [],
                            fuse: Bool = true) -> ExecutionPlan {
        let pinned = keep.union(observe)
        let graph = tg.graph
        var steps = tg.steps
        var alias = tg.aliases            // tensor → the tensor whose buffer it uses
        var fused = Set<Int>()            // indices (into steps) of conv/fc steps with a fused ReLU
        var backwardStart = tg.backwardStart

        func root(_ t: TensorID) -> TensorID { Planner.root(t, alias) }

        if fuse { (steps, fused, backwardStart) = fuseReLUs(steps, backwardStart: tg.backwardStart, pinned: pinned, alias: &alias) }

        // Where each tensor is stored; the seed and the optimizer's settings come from the caller.
        func storage(_ t: TensorID) -> ExecutionPlan.Storage {
            if t == tg.seed { return .input }
            switch t {
            case .input, .labels, .hyperparameters: return .input
            case .parameter: return .parameter
            case .parameterGradient, .loss, .inputGradient: return .gradient
            case .momentum: return .state
            default: return .arena
            }
        }
        func isArena(_ t: TensorID) -> Bool { storage(t) == .arena }

        runInPlace(steps, pinned: pinned, alias: &alias, isArena: isArena, shape: tg.shape(of:))

        // Buffers: one per root tensor.
        var bufferOf: [TensorID: Int] = [:]
        var buffers: [ExecutionPlan.Buffer] = []
        func bufferID(_ t: TensorID) -> Int {
            let r = root(t)
            if let id = bufferOf[r] { bufferOf[t] = id; return id }
            let shape = tg.shape(of: r)
            let perImage = shape.reduce(1, *)
            let elements = tg.isPerBatch(r) ? perImage * batch : perImage
            let id = buffers.count
            buffers.append(.init(id: id, tensors: [r], shape: shape, elements: elements, elementType: r.elementType, batched: tg.isPerBatch(r), storage: storage(r),
                                 offset: 0, firstStep: Int.max, lastStep: -1))
            bufferOf[r] = id
            bufferOf[t] = id
            return id
        }
        var planSteps: [ExecutionPlan.Step] = []
        var workspace = 0
        for (k, step) in steps.enumerated() {
            let inputs = step.inputs.map(bufferID), outputs = step.outputs.map(bufferID)
            for id in inputs + outputs {
                buffers[id].firstStep = min(buffers[id].firstStep, k)
                buffers[id].lastStep = max(buffers[id].lastStep, k)
            }
            let scratch = traits.scratchElements(step)
            workspace = max(workspace, scratch)
            planSteps.append(.init(kernel: step.kernel, node: step.node, inputs: inputs, outputs: outputs, constants: step.constants,
                                   fusedReLU: fused.contains(k), scratchElements: scratch))
        }
        // Every alias name resolves, and kept tensors live to the end.
        for t in alias.keys where bufferOf[t] == nil {
            if let id = bufferOf[root(t)] { bufferOf[t] = id }
        }
        for t in keep { if let id = bufferOf[root(t)] { bufferOf[t] = id; buffers[id].lastStep = planSteps.count } }
        // Each observed tensor is read after the first step that writes its buffer.
        var observed: [Int: [TensorID]] = [:]
        for t in observe.sorted() {
            guard let id = bufferOf[root(t)] ?? bufferOf[t], let k = planSteps.firstIndex(where: { $0.outputs.contains(id) }) else { continue }
            bufferOf[t] = id
            observed[k, default: []].append(t)
        }
        for id in buffers.indices where !buffers[id].tensors.isEmpty {
            buffers[id].tensors = bufferOf.filter { $0.value == id }.map(\.key).sorted()
        }

        let (persistent, arena) = place(&buffers, traits: traits)

        return ExecutionPlan(graph: graph, mode: tg.mode, training: tg.training, batch: batch, traits: traits, buffers: buffers, steps: planSteps,
                             backwardStart: backwardStart, bufferOf: bufferOf, arenaBytes: arena, persistentBytes: persistent,
                             workspaceElementsPerThread: workspace, seed: tg.seed,
                             parameters: graph.namedParameters().filter { bufferOf[$0.tensor] != nil }, observed: observed)
    }

    /// The tensor whose buffer `t` uses: `t`, followed along its aliases.
    static func root(_ t: TensorID, _ alias: [TensorID: TensorID]) -> TensorID {
        var t = t
        while let next = alias[t] { t = next }
        return t
    }

    /// In place: an elementwise step whose data input (the gradient for backward steps, the value
    /// for forward ones) is read by no later step writes over that input (`alias[output] = input`).
    static func runInPlace(_ steps: [IRStep], pinned: Set<TensorID>, alias: inout [TensorID: TensorID], isArena: (TensorID) -> Bool,
                           shape: (TensorID) -> [Int]) {
        func root(_ t: TensorID) -> TensorID { Planner.root(t, alias) }
        // Last reader of each root tensor (in step order).
        func lastReads() -> [TensorID: Int] {
            var last: [TensorID: Int] = [:]
            for (k, step) in steps.enumerated() { for input in step.inputs { last[root(input)] = k } }
            return last
        }
        let elementwise: Set<Kernel> = [.relu_forward, .tanh_forward, .relu_backward, .relu_backward_guided, .tanh_backward,
                                        .dropout_backward, .dropout_forward]
        var last = lastReads()
        for (k, step) in steps.enumerated() where elementwise.contains(step.kernel) {
            let source = root(step.inputs[0])
            let target = step.outputs[0]
            guard last[source] == k, !pinned.contains(source), !pinned.contains(target), isArena(source), isArena(target),
                  shape(source) == shape(target), alias[target] == nil else { continue }
            // relu_backward/tanh_backward read the forward value too; that must not be the buffer overwritten.
            alias[target] = source
            last = lastReads()
        }
    }

    /// Offsets: persistent buffers (inputs, parameters, gradients, state) one after another; arena
    /// buffers largest first, each at the lowest offset not in use during its lifetime. Returns the
    /// bytes of each region.
    static func place(_ buffers: inout [ExecutionPlan.Buffer], traits: BackendTraits) -> (persistent: Int, arena: Int) {
        var persistent = 0
        for id in buffers.indices where buffers[id].storage != .arena {
            buffers[id].offset = persistent
            persistent += traits.align(buffers[id].bytes)
        }
        var placed: [(start: Int, end: Int, first: Int, last: Int)] = []
        var arena = 0
        for id in buffers.indices.filter({ buffers[$0].storage == .arena }).sorted(by: { (buffers[$0].bytes, $1) > (buffers[$1].bytes, $0) }) {
            let b = buffers[id]
            let size = traits.align(b.bytes)
            let busy = placed.filter { $0.first <= b.lastStep && b.firstStep <= $0.last }.sorted { $0.start < $1.start }
            var offset = 0
            for range in busy where offset + size > range.start {
                offset = max(offset, range.end)
            }
            buffers[id].offset = offset
            placed.append((offset, offset + size, b.firstStep, b.lastStep))
            arena = max(arena, offset + size)
        }
        return (persistent, arena)
    }
}

typealias IRStep = StrataPlan.Step
