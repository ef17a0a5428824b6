import StrataIR

/// Lowers a training graph to an `ExecutionPlan` for one batch size:
/// 1. fuses each ReLU into the conv or fc step before it when nothing else reads the pre-ReLU value;
/// 2. runs elementwise steps in place when their input is not read afterwards;
/// 3. places arena buffers by liveness (largest first, lowest offset free for its lifetime).
public enum Planner {
    /// Alignment of every buffer in the arena, in bytes (a cache line; AVX-512 loads).
    public static let alignment = 64

    /// - Parameters:
    ///   - keep: tensors that must stay readable after the run (for `strata features`): never
    ///     fused away or overwritten.
    ///   - fuse: fuse ReLUs into the step before them.
    public static func plan(_ tg: TrainingGraph, batch: Int, keep: Set<TensorID> = [], fuse: Bool = true) -> ExecutionPlan {
        let graph = tg.graph
        var steps = tg.steps
        var alias = tg.aliases            // tensor → the tensor whose buffer it uses
        var fused = Set<Int>()            // indices (into steps) of conv/fc steps with a fused ReLU

        func root(_ t: TensorID) -> TensorID {
            var t = t
            while let next = alias[t] { t = next }
            return t
        }

        // Who reads each value (by node), for fusion.
        var readers: [TensorID: Int] = [:]
        for step in steps { for input in step.inputs { readers[root(input), default: 0] += 1 } }

        if fuse {
            var removed = Set<Int>()
            for (k, step) in steps.enumerated() where step.kernel == .conv_forward || step.kernel == .fc_forward {
                let value = step.outputs[0]
                guard !keep.contains(value), let r = steps.firstIndex(where: { $0.kernel == .relu_forward && root($0.inputs[0]) == value }) else { continue }
                // Only if the ReLU is the sole forward reader and no backward step needs the pre-ReLU value.
                let others = steps.enumerated().filter { $0.offset != r && $0.element.inputs.contains { root($0) == value } }
                guard others.isEmpty else { continue }
                fused.insert(k)
                removed.insert(r)
                alias[steps[r].outputs[0]] = value
            }
            // Remove fused ReLU steps, keeping the indices of `fused` right.
            var kept: [IRStep] = []
            var newFused = Set<Int>()
            for (k, step) in steps.enumerated() where !removed.contains(k) {
                if fused.contains(k) { newFused.insert(kept.count) }
                kept.append(step)
            }
            steps = kept
            fused = newFused
        }
        let backwardStart = steps.firstIndex { $0.kernel == .softmax_cross_entropy } ?? steps.count

        // Last reader of each root tensor (in step order).
        func lastReads() -> [TensorID: Int] {
            var last: [TensorID: Int] = [:]
            for (k, step) in steps.enumerated() { for input in step.inputs { last[root(input)] = k } }
            return last
        }
        // In place: elementwise steps whose input is read by no later step.
        let elementwise: Set<Kernel> = [.relu_forward, .tanh_forward, .relu_backward, .tanh_backward, .dropout_backward, .dropout_forward]
        var last = lastReads()
        for (k, step) in steps.enumerated() where elementwise.contains(step.kernel) {
            // The data input: the gradient for backward steps, the value for forward ones.
            let source = root(step.inputs[0])
            let target = step.outputs[0]
            guard last[source] == k, !keep.contains(source), !keep.contains(target), isArena(source), isArena(target),
                  tg.shape(of: source) == tg.shape(of: target), alias[target] == nil else { continue }
            // relu_backward/tanh_backward read the forward value too; that must not be the buffer overwritten.
            alias[target] = source
            last = lastReads()
        }

        // Buffers: one per root tensor.
        var bufferOf: [TensorID: Int] = [:]
        var buffers: [ExecutionPlan.Buffer] = []
        func bufferID(_ t: TensorID) -> Int {
            let r = root(t)
            if let id = bufferOf[r] { bufferOf[t] = id; return id }
            let shape = tg.shape(of: r)
            let perImage = shape.reduce(1, *)
            let elements = tg.isPerBatch(r) ? perImage * batch : perImage
            let type: ExecutionPlan.ElementType = (r == .labels || isSwitches(r)) ? .int32 : .float32
            let id = buffers.count
            buffers.append(.init(id: id, tensors: [r], shape: shape, elements: elements, elementType: type, storage: storage(r),
                                 offset: 0, firstStep: Int.max, lastStep: -1))
            bufferOf[r] = id
            bufferOf[t] = id
            return id
        }
        var planSteps: [ExecutionPlan.Step] = []
        for (k, step) in steps.enumerated() {
            let inputs = step.inputs.map(bufferID), outputs = step.outputs.map(bufferID)
            for id in inputs + outputs {
                buffers[id].firstStep = min(buffers[id].firstStep, k)
                buffers[id].lastStep = max(buffers[id].lastStep, k)
            }
            planSteps.append(.init(kernel: step.kernel, node: step.node, inputs: inputs, outputs: outputs, part: step.part,
                                   fusedReLU: fused.contains(k)))
        }
        // Every alias name resolves, and kept tensors live to the end.
        for t in alias.keys where bufferOf[t] == nil {
            if let id = bufferOf[root(t)] { bufferOf[t] = id }
        }
        for t in keep { if let id = bufferOf[root(t)] { bufferOf[t] = id; buffers[id].lastStep = planSteps.count } }
        for id in buffers.indices where !buffers[id].tensors.isEmpty {
            buffers[id].tensors = bufferOf.filter { $0.value == id }.map(\.key).sorted()
        }

        // Persistent storage, in order.
        var persistent = 0
        for id in buffers.indices where buffers[id].storage != .arena {
            buffers[id].offset = persistent
            persistent += align(buffers[id].bytes)
        }
        // Arena: largest first, lowest offset not in use during the buffer's lifetime.
        var placed: [(start: Int, end: Int, first: Int, last: Int)] = []
        var arena = 0
        for id in buffers.indices.filter({ buffers[$0].storage == .arena }).sorted(by: { (buffers[$0].bytes, $1) > (buffers[$1].bytes, $0) }) {
            let b = buffers[id]
            let size = align(b.bytes)
            let busy = placed.filter { $0.first <= b.lastStep && b.firstStep <= $0.last }.sorted { $0.start < $1.start }
            var offset = 0
            for range in busy where offset + size > range.start {
                offset = max(offset, range.end)
            }
            buffers[id].offset = offset
            placed.append((offset, offset + size, b.firstStep, b.lastStep))
            arena = max(arena, offset + size)
        }

        // im2col scratch: the largest conv's columns (and GEMM output), tiled as the CPU backend tiles them.
        var workspace = 0
        for step in planSteps where [.conv_forward, .conv_backward_data, .conv_backward_filter].contains(step.kernel) {
            guard let n = step.node, case .conv(let c) = graph.nodes[n].layer, let out = graph.nodes[n].shape,
                  let input = graph.shape(of: graph.nodes[n].inputs[0]) else { continue }
            workspace = max(workspace, ConvTiling.scratchElements(depth: input.channels / c.groups * c.kernel.h * c.kernel.w,
                                                                  filtersPerGroup: out.channels / c.groups, positions: out.height * out.width))
        }
        return ExecutionPlan(graph: graph, training: tg.training, batch: batch, buffers: buffers, steps: planSteps,
                             backwardStart: backwardStart, bufferOf: bufferOf, arenaBytes: arena,
                             workspaceElementsPerThread: workspace)

        func storage(_ t: TensorID) -> ExecutionPlan.Storage {
            switch t {
            case .input, .labels: .input
            case .parameter: .parameter
            case .parameterGradient, .loss: .gradient
            default: .arena
            }
        }
        func isArena(_ t: TensorID) -> Bool { storage(t) == .arena }
        func isSwitches(_ t: TensorID) -> Bool { if case .saved(_, "switches") = t { return true }; return false }
    }

    public static func align(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
}

typealias IRStep = StrataIR.Step
