import StrataIR
import StrataPlan
#if canImport(Glibc)
import Glibc
#endif

/// Runs an `ExecutionPlan` on the CPU in element type T. One allocation holds the persistent
/// buffers (input, labels, parameters, gradients) at their plan offsets, another the arena.
final class Engine<T: CPUScalar>: @unchecked Sendable {
    let plan: ExecutionPlan
    let persistent: UnsafeMutableRawPointer
    let arena: UnsafeMutableRawPointer
    let workspace: Workspace<T>
    /// Seconds spent in each step of the last run (when timing is on).
    var stepSeconds: [Double]
    var timing = false
    /// SGD momentum buffers, by parameter buffer id.
    var velocities: [Int: UnsafeMutablePointer<T>] = [:]

    init(plan: ExecutionPlan) {
        _ = Parallel.blasConfigured
        self.plan = plan
        let persistentBytes = plan.buffers.filter { $0.storage != .arena }.map { $0.offset + Planner.align($0.bytes) }.max() ?? 0
        // Elements are 4-byte in the plan; Double needs twice the bytes, so offsets are scaled by `scale`.
        persistent = Engine.allocate(persistentBytes * Engine.scale)
        arena = Engine.allocate(plan.arenaBytes * Engine.scale)
        workspace = Workspace(columnsPerThread: plan.workspaceElementsPerThread, threads: Parallel.threads)
        stepSeconds = Array(repeating: 0, count: plan.steps.count)
    }

    deinit {
        free(persistent)
        free(arena)
        for v in velocities.values { v.deallocate() }
    }

    /// Bytes per plan byte: 1 for Float, 2 for Double (plan sizes assume 4-byte elements).
    static var scale: Int { MemoryLayout<T>.size / 4 }

    static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, Planner.alignment, max(bytes, Planner.alignment)) == 0, let p else {
            fatalError("out of memory: could not allocate \(bytes) bytes")
        }
        memset(p, 0, max(bytes, Planner.alignment))
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

    func pointer(_ tensor: TensorID) -> UnsafeMutablePointer<T>? {
        plan.bufferOf[tensor].map(pointer)
    }

    /// Runs every step. `seed` draws the dropout masks. Returns the loss for a training plan.
    @discardableResult
    func run(seed: UInt64) -> Double? {
        for (k, step) in plan.steps.enumerated() {
            if timing {
                var start = timespec(), end = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                execute(step, seed: seed)
                clock_gettime(CLOCK_MONOTONIC, &end)
                stepSeconds[k] = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
            } else {
                execute(step, seed: seed)
            }
        }
        return plan.bufferOf[.loss].map { Double(pointer($0)[0]) }
    }

    private func shape(_ value: ValueID) -> TensorShape { plan.graph.shape(of: value)! }

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    private func execute(_ step: ExecutionPlan.Step, seed: UInt64) {
        let batch = plan.batch
        let node = step.node.map { plan.graph.nodes[$0] }
        let inputs = step.inputs, outputs = step.outputs
        func count(_ id: Int) -> Int { plan.buffers[id].elements }

        switch step.kernel {
        case .conv_forward, .conv_backward_data, .conv_backward_filter:
            guard let node, case .conv(let conv) = node.layer else { return invariant(step) }
            let x = shape(node.inputs[0]), y = node.shape!
            let kernel = ConvKernel<T>(conv: conv, c: x.channels, h: x.height, w: x.width, f: y.channels, oh: y.height, ow: y.width)
            switch step.kernel {
            case .conv_forward:
                kernel.forward(x: pointer(inputs[0]), weight: pointer(inputs[1]), bias: inputs.count > 2 ? pointer(inputs[2]) : nil,
                               y: pointer(outputs[0]), batch: batch, relu: step.fusedReLU, workspace: workspace)
            case .conv_backward_data:
                kernel.backwardData(dy: pointer(inputs[0]), weight: pointer(inputs[1]), dx: pointer(outputs[0]), batch: batch, workspace: workspace)
            default:
                kernel.backwardFilter(dy: pointer(inputs[0]), x: pointer(inputs[1]), dWeight: pointer(outputs[0]),
                                      dBias: outputs.count > 1 ? pointer(outputs[1]) : nil, batch: batch, workspace: workspace)
            }

        case .maxpool_forward, .maxpool_backward, .avgpool_forward, .avgpool_backward:
            guard let node else { return invariant(step) }
            let window: PoolWindow
            switch node.layer {
            case .maxpool(let m): window = m.window
            case .avgpool(let a): window = a.window
            default: return invariant(step)
            }
            let x = shape(node.inputs[0]), y = node.shape!
            let kernel = PoolKernel<T>(window: window, c: x.channels, h: x.height, w: x.width, oh: y.height, ow: y.width)
            switch step.kernel {
            case .maxpool_forward: kernel.maxForward(x: pointer(inputs[0]), y: pointer(outputs[0]), switches: int32(outputs[1]), batch: batch)
            case .maxpool_backward: kernel.maxBackward(dy: pointer(inputs[0]), switches: int32(inputs[1]), dx: pointer(outputs[0]), batch: batch)
            case .avgpool_forward: kernel.averageForward(x: pointer(inputs[0]), y: pointer(outputs[0]), batch: batch)
            default: kernel.averageBackward(dy: pointer(inputs[0]), dx: pointer(outputs[0]), batch: batch)
            }

        case .lrn_forward, .lrn_backward:
            guard let node, case .lrn(let lrn) = node.layer else { return invariant(step) }
            let x = shape(node.inputs[0])
            let kernel = LRNKernel<T>(lrn: lrn, c: x.channels, hw: x.height * x.width)
            if step.kernel == .lrn_forward {
                kernel.forward(x: pointer(inputs[0]), y: pointer(outputs[0]), scale: outputs.count > 1 ? pointer(outputs[1]) : nil, batch: batch)
            } else {
                kernel.backward(dy: pointer(inputs[0]), x: pointer(inputs[1]), y: pointer(inputs[2]), scale: pointer(inputs[3]),
                                dx: pointer(outputs[0]), batch: batch)
            }

        case .relu_forward: ElementwiseKernel<T>.reluForward(pointer(inputs[0]), pointer(outputs[0]), count(outputs[0]))
        case .relu_backward: ElementwiseKernel<T>.reluBackward(pointer(inputs[0]), pointer(inputs[1]), pointer(outputs[0]), count(outputs[0]))
        case .tanh_forward: ElementwiseKernel<T>.tanhForward(pointer(inputs[0]), pointer(outputs[0]), count(outputs[0]))
        case .tanh_backward: ElementwiseKernel<T>.tanhBackward(pointer(inputs[0]), pointer(inputs[1]), pointer(outputs[0]), count(outputs[0]))
        case .dropout_forward:
            guard let node, case .dropout(let d) = node.layer, let index = step.node else { return invariant(step) }
            ElementwiseKernel<T>.dropoutForward(pointer(inputs[0]), pointer(outputs[0]), pointer(outputs[1]), count(outputs[0]),
                                                rate: d.rate, seed: seed &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
        case .dropout_backward: ElementwiseKernel<T>.dropoutBackward(pointer(inputs[0]), pointer(inputs[1]), pointer(outputs[0]), count(outputs[0]))
        case .add: ElementwiseKernel<T>.add(inputs.map { UnsafePointer(pointer($0)) }, pointer(outputs[0]), count(outputs[0]))

        case .fc_forward, .fc_backward_data, .fc_backward_filter:
            guard let node, case .fc(let fc) = node.layer else { return invariant(step) }
            let kernel = FullyConnectedKernel<T>(units: fc.units, features: shape(node.inputs[0]).elementCount!)
            switch step.kernel {
            case .fc_forward:
                kernel.forward(x: pointer(inputs[0]), weight: pointer(inputs[1]), bias: inputs.count > 2 ? pointer(inputs[2]) : nil,
                               y: pointer(outputs[0]), batch: batch, relu: step.fusedReLU)
            case .fc_backward_data:
                kernel.backwardData(dy: pointer(inputs[0]), weight: pointer(inputs[1]), dx: pointer(outputs[0]), batch: batch)
            default:
                kernel.backwardFilter(dy: pointer(inputs[0]), x: pointer(inputs[1]), dWeight: pointer(outputs[0]),
                                      dBias: outputs.count > 1 ? pointer(outputs[1]) : nil, batch: batch)
            }

        case .concat_forward, .concat_backward:
            guard let node else { return invariant(step) }
            let kernel = ConcatKernel<T>(sizes: node.inputs.map { shape($0).elementCount! })
            if step.kernel == .concat_forward {
                kernel.forward(inputs.map { UnsafePointer(pointer($0)) }, pointer(outputs[0]), batch: batch)
            } else {
                kernel.backward(pointer(inputs[0]), part: step.part, pointer(outputs[0]), batch: batch)
            }

        case .softmax_forward:
            SoftmaxKernel<T>.forward(pointer(inputs[0]), pointer(outputs[0]), rows: batch, width: count(outputs[0]) / batch)
        case .softmax_backward:
            SoftmaxKernel<T>.backward(pointer(inputs[0]), pointer(inputs[1]), pointer(outputs[0]), rows: batch, width: count(outputs[0]) / batch)
        case .softmax_cross_entropy:
            pointer(outputs[0])[0] = SoftmaxKernel<T>.crossEntropy(pointer(inputs[0]), int32(inputs[1]), rows: batch, width: count(inputs[0]) / batch)
        case .softmax_cross_entropy_backward:
            SoftmaxKernel<T>.crossEntropyBackward(pointer(inputs[0]), int32(inputs[1]), pointer(outputs[0]), rows: batch, width: count(inputs[0]) / batch)
        }
    }

    private func invariant(_ step: ExecutionPlan.Step) {
        fatalError("internal error: step \(step.kernel) does not match its node's layer")
    }
}
