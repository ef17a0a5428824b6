import StrataIR
import StrataPlan
#if canImport(Glibc)
import Glibc
#endif

/// Runs an `ExecutionPlan` on the CPU in element type T. One allocation holds the persistent
/// buffers (inputs, parameters, gradients, optimizer state) at their plan offsets, another the
/// arena. Each step is dispatched on its kernel with the constants the plan lowered for it; the
/// engine never looks at the IR's layers.
final class Engine<T: CPUScalar>: @unchecked Sendable {
    let plan: ExecutionPlan
    let context: CPUContext
    let persistent: UnsafeMutableRawPointer
    let arena: UnsafeMutableRawPointer
    let workspace: Workspace<T>
    /// Seconds spent in each step of the last run (when timing is on).
    var stepSeconds: [Double]
    var timing = false
    var imageOffset = 0

    init(plan: ExecutionPlan, context: CPUContext) {
        _ = Parallel.blasConfigured
        self.plan = plan
        self.context = context
        // Elements are 4-byte in the plan; Double needs twice the bytes, so offsets are scaled by `scale`.
        persistent = Engine.allocate(plan.persistentBytes * Engine.scale, alignment: plan.traits.alignment)
        arena = Engine.allocate(plan.arenaBytes * Engine.scale, alignment: plan.traits.alignment)
        workspace = Workspace(columnsPerThread: plan.workspaceElementsPerThread, threads: context.threads)
        stepSeconds = Array(repeating: 0, count: plan.steps.count)
    }

    deinit {
        free(persistent)
        free(arena)
    }

    /// Bytes per plan byte: 1 for Float, 2 for Double (plan sizes assume 4-byte elements).
    static var scale: Int { MemoryLayout<T>.size / 4 }

    static func allocate(_ bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer?
        let alignment = max(alignment, MemoryLayout<UnsafeRawPointer>.size)
        guard posix_memalign(&p, alignment, max(bytes, alignment)) == 0, let p else {
            fatalError("out of memory: could not allocate \(bytes) bytes")
        }
        memset(p, 0, max(bytes, alignment))
        return p
    }

    func raw(_ id: Int) -> UnsafeMutableRawPointer {
        let b = plan.buffers[id]
        return (b.storage == .arena ? arena : persistent) + b.offset * Engine.scale
    }

    func pointer(_ id: Int) -> UnsafeMutablePointer<T> {
        raw(id).bindMemory(to: T.self, capacity: plan.buffers[id].elements)
    }

    func int32(_ id: Int) -> UnsafeMutablePointer<Int32> {
        raw(id).bindMemory(to: Int32.self, capacity: plan.buffers[id].elements)
    }

    /// Runs every step. `seed` draws the dropout masks. Returns the loss for a plan with a loss.
    @discardableResult
    func run(seed: UInt64) -> Double? { run(seed: seed) { _, _ in } }

    /// Runs every step; after a step that makes observed tensors, `observe(tensor, buffer id)`.
    func run(seed: UInt64, steps: Range<Int>? = nil, observe: (TensorID, Int) throws -> Void) rethrows -> Double? {
        for k in steps ?? plan.steps.indices {
            let step = plan.steps[k]
            if timing {
                var start = timespec(), end = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                execute(step, seed: seed)
                clock_gettime(CLOCK_MONOTONIC, &end)
                stepSeconds[k] = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
            } else {
                execute(step, seed: seed)
            }
            if let tensors = plan.observed[k] {
                for t in tensors { try observe(t, plan.bufferOf[t]!) }
            }
        }
        return plan.bufferOf[.loss].map { Double(pointer($0)[0]) }
    }

    /// Runs one step. About 85 lines, by choice: one exhaustive `switch` over `Kernel` with no
    /// default, a line or three per kernel (the kernels live in `Layers/`), so a new kernel is a
    /// compile error here.
    // swiftlint:disable:next function_body_length cyclomatic_complexity
    private func execute(_ step: ExecutionPlan.Step, seed: UInt64) {
        let batch = plan.batch, threads = context.threads
        let inputs = step.inputs, outputs = step.outputs
        func count(_ id: Int) -> Int { plan.buffers[id].elements }
        func input(_ k: Int) -> UnsafeMutablePointer<T> { pointer(inputs[k]) }
        func output(_ k: Int) -> UnsafeMutablePointer<T> { pointer(outputs[k]) }

        // Every kernel has a case here (no default), so a new kernel does not compile until this backend runs it.
        switch step.kernel {
        case .conv_forward:
            let g = conv(step)
            ConvKernel<T>(conv: g, context: context).forward(x: input(0), weight: input(1), bias: g.bias ? input(2) : nil, y: output(0),
                                                              batch: batch, relu: step.fusedReLU, workspace: workspace)
        case .conv_backward_data:
            ConvKernel<T>(conv: conv(step), context: context).backwardData(dy: input(0), weight: input(1), dx: output(0), batch: batch,
                                                                            workspace: workspace)
        case .conv_backward_filter:
            let g = conv(step)
            ConvKernel<T>(conv: g, context: context).backwardFilter(dy: input(0), x: input(1), dWeight: output(0),
                                                                     dBias: g.bias ? output(1) : nil, batch: batch, workspace: workspace)

        case .maxpool_forward:
            PoolKernel<T>(pool: pool(step), threads: threads, isa: context.gemm.vectorISA).maxForward(x: input(0), y: output(0), switches: int32(outputs[1]), batch: batch)
        case .maxpool_backward:
            PoolKernel<T>(pool: pool(step), threads: threads).maxBackward(dy: input(0), switches: int32(inputs[1]), dx: output(0), batch: batch)
        case .avgpool_forward:
            PoolKernel<T>(pool: pool(step), threads: threads).averageForward(x: input(0), y: output(0), batch: batch)
        case .avgpool_backward:
            PoolKernel<T>(pool: pool(step), threads: threads).averageBackward(dy: input(0), dx: output(0), batch: batch)

        case .lrn_forward:
            LRNKernel<T>(lrn: lrn(step), threads: threads).forward(x: input(0), y: output(0), scale: outputs.count > 1 ? output(1) : nil, batch: batch)
        case .lrn_backward:
            LRNKernel<T>(lrn: lrn(step), threads: threads).backward(dy: input(0), x: input(1), y: input(2), scale: input(3), dx: output(0), batch: batch)

        case .relu_forward: ElementwiseKernel<T>.reluForward(input(0), output(0), count(outputs[0]), threads: threads)
        case .relu_backward: ElementwiseKernel<T>.reluBackward(input(0), input(1), output(0), count(outputs[0]), threads: threads)
        case .relu_backward_guided: ElementwiseKernel<T>.reluBackwardGuided(input(0), input(1), output(0), count(outputs[0]), threads: threads)
        case .tanh_forward: ElementwiseKernel<T>.tanhForward(input(0), output(0), count(outputs[0]), threads: threads)
        case .tanh_backward: ElementwiseKernel<T>.tanhBackward(input(0), input(1), output(0), count(outputs[0]), threads: threads)
        case .dropout_forward:
            guard case .dropout(let rate, let stream) = step.constants else { invariant(step) }
            ElementwiseKernel<T>.dropoutForward(input(0), output(0), output(1), count(outputs[0]), rate: rate,
                                                seed: DropoutStream.seed(run: seed, stream: stream),
                                                offset: imageOffset * (count(outputs[0]) / batch), threads: threads)
        case .dropout_backward: ElementwiseKernel<T>.dropoutBackward(input(0), input(1), output(0), count(outputs[0]), threads: threads)
        case .add: ElementwiseKernel<T>.add(inputs.map { UnsafePointer(pointer($0)) }, output(0), count(outputs[0]), threads: threads)

        case .fc_forward:
            let g = fc(step)
            FullyConnectedKernel<T>(fc: g, context: context).forward(x: input(0), weight: input(1), bias: g.bias ? input(2) : nil, y: output(0),
                                                                      batch: batch, relu: step.fusedReLU)
        case .fc_backward_data:
            FullyConnectedKernel<T>(fc: fc(step), context: context).backwardData(dy: input(0), weight: input(1), dx: output(0), batch: batch)
        case .fc_backward_filter:
            let g = fc(step)
            FullyConnectedKernel<T>(fc: g, context: context).backwardFilter(dy: input(0), x: input(1), dWeight: output(0),
                                                                             dBias: g.bias ? output(1) : nil, batch: batch)

        case .concat_forward:
            guard case .concat(let sizes, _) = step.constants else { invariant(step) }
            ConcatKernel<T>(sizes: sizes, threads: threads).forward(inputs.map { UnsafePointer(pointer($0)) }, output(0), batch: batch)
        case .concat_backward:
            guard case .concat(let sizes, let part) = step.constants else { invariant(step) }
            ConcatKernel<T>(sizes: sizes, threads: threads).backward(input(0), part: part, output(0), batch: batch)

        case .softmax_forward:
            SoftmaxKernel<T>.forward(input(0), output(0), rows: batch, width: classes(step), threads: threads)
        case .softmax_backward:
            SoftmaxKernel<T>.backward(input(0), input(1), output(0), rows: batch, width: classes(step), threads: threads)
        case .softmax_cross_entropy:
            output(0)[0] = SoftmaxKernel<T>.crossEntropy(input(0), int32(inputs[1]), rows: batch, width: classes(step))
        case .softmax_cross_entropy_backward:
            SoftmaxKernel<T>.crossEntropyBackward(input(0), int32(inputs[1]), output(0), rows: batch, width: classes(step))

        case .sgd_update:
            let hyper = input(3)
            OptimizerKernel<T>.sgd(weight: input(0), gradient: input(1), velocity: input(2), count: count(inputs[0]),
                                   learningRate: hyper[0], momentum: hyper[1], weightDecay: hyper[2], threads: threads)
        case .filter_rms_clip:
            guard case .filterClip(let filters, let size, let radius) = step.constants else { invariant(step) }
            OptimizerKernel<T>.clipFilters(output(0), filters: filters, size: size, radius: radius)
        }
    }

    // The constants each kind of step carries; any other is a planner bug.
    private func conv(_ s: ExecutionPlan.Step) -> ConvGeometry { if case .conv(let g) = s.constants { return g }; invariant(s) }
    private func pool(_ s: ExecutionPlan.Step) -> PoolGeometry { if case .pool(let g) = s.constants { return g }; invariant(s) }
    private func lrn(_ s: ExecutionPlan.Step) -> LRNConstants { if case .lrn(let l) = s.constants { return l }; invariant(s) }
    private func fc(_ s: ExecutionPlan.Step) -> FCGeometry { if case .fc(let g) = s.constants { return g }; invariant(s) }
    private func classes(_ s: ExecutionPlan.Step) -> Int { if case .softmax(let c) = s.constants { return c }; invariant(s) }

    private func invariant(_ step: ExecutionPlan.Step) -> Never {
        fatalError("internal error: step \(step.kernel) carries \(step.constants), not the constants its kernel needs")
    }
}
