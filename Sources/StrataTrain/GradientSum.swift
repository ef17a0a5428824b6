import Foundation
import StrataIR
import StrataMPI
import StrataPlan

/// Data-parallel training's one collective per step: every parameter gradient the plan makes
/// (frozen layers have none), and a few extra numbers (the step's loss and wrong count), packed
/// into one fused float32 buffer, summed over the ranks with one allreduce, divided by the rank
/// count and written back before the update steps run. One buffer rather than one call per tensor:
/// 16 layers' tensors would be 16 latencies per step (Horovod's tensor fusion; PyTorch DDP's buckets).
final class GradientSum {
    let executor: any Executor
    let communicator: any Communicator
    /// The gradient tensors, their offsets in `fused` and sizes.
    let tensors: [(tensor: TensorID, offset: Int, count: Int)]
    let gradientCount: Int
    var fused: [Float]
    /// Seconds spent in the allreduce (for docs/scaling.md's measurements).
    private(set) var reduceSeconds = 0.0
    private(set) var reduces = 0

    init(executor: any Executor, communicator: any Communicator) throws {
        self.executor = executor
        self.communicator = communicator
        var tensors: [(TensorID, Int, Int)] = []
        var offset = 0
        for p in executor.plan.parameters {
            let g = TensorID.parameterGradient(p.node, p.parameter)
            guard let b = executor.plan.buffer(g) else { continue }
            tensors.append((g, offset, b.elements))
            offset += b.elements
        }
        self.tensors = tensors
        gradientCount = offset
        fused = communicator.isDistributed ? [Float](repeating: 0, count: offset + 8) : []
    }

    /// Sums the gradients over the ranks and divides them by the rank count (the mean of the ranks'
    /// mean-loss gradients: the gradient of the whole batch's mean loss); `extra` (at most 8 values,
    /// each already divided as wanted) is summed in the same call.
    func sum(andAlso extra: inout [Double]) throws {
        precondition(extra.count <= 8)
        let ranks = communicator.size
        try fused.withUnsafeMutableBufferPointer { fused in
            for t in tensors {
                try executor.withValues(t.tensor) { values in
                    fused.baseAddress!.advanced(by: t.offset).update(from: values.baseAddress!, count: t.count)
                }
            }
            for (i, x) in extra.enumerated() { fused[gradientCount + i] = Float(x) }
            let start = Self.now()
            communicator.allReduceSum(UnsafeMutableBufferPointer(rebasing: fused[0..<(gradientCount + extra.count)]))
            reduceSeconds += Self.now() - start
            reduces += 1
            let scale = 1 / Float(ranks)
            for i in 0..<gradientCount { fused[i] *= scale }
            for t in tensors {
                try executor.write(t.tensor, UnsafeBufferPointer(rebasing: fused[t.offset..<(t.offset + t.count)]))
            }
            for i in extra.indices { extra[i] = Double(fused[gradientCount + i]) }
        }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
