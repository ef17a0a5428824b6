import StrataIR

/// Stage 4: a training (or inference) graph lowered for one batch size: an ordered list of steps,
/// each naming a kernel and its buffers, and buffers placed by liveness in one arena so that
/// memory is reused. Both backends consume the same plan.
public struct ExecutionPlan: Sendable {
    public enum ElementType: String, Sendable { case float32, int32 }

    public enum Storage: String, Sendable {
        /// Given by the caller for each run: the input batch and labels.
        case input
        /// Owned by the model: weights and biases.
        case parameter
        /// Written by the backward pass; kept for the optimizer and `strata grad`.
        case gradient
        /// Everything else: placed in the arena, its bytes reused once its last reader has run.
        case arena
    }

    public struct Buffer: Sendable {
        public var id: Int
        /// The tensors that share this buffer (a value and its in-place or fused aliases).
        public var tensors: [TensorID]
        /// Per-image shape (or the whole shape for parameters).
        public var shape: [Int]
        public var elements: Int
        public var elementType: ElementType
        public var storage: Storage
        /// Byte offset in the arena (arena buffers) or in persistent storage (the rest).
        public var offset: Int
        /// First and last step that touch it.
        public var firstStep: Int
        public var lastStep: Int

        public var bytes: Int { elements * 4 }
    }

    public struct Step: Sendable {
        public var kernel: Kernel
        public var node: Int?
        public var inputs: [Int]
        public var outputs: [Int]
        public var part: Int
        /// A conv or fc step that also applies the ReLU that followed it.
        public var fusedReLU: Bool
    }

    public var graph: Graph
    public var training: Bool
    public var batch: Int
    public var buffers: [Buffer]
    public var steps: [Step]
    /// Index of the first backward step.
    public var backwardStart: Int
    /// Where each tensor lives.
    public var bufferOf: [TensorID: Int]
    public var arenaBytes: Int
    /// im2col scratch for one thread: the largest conv's columns.
    public var workspaceElementsPerThread: Int

    public func buffer(_ tensor: TensorID) -> Buffer? { bufferOf[tensor].map { buffers[$0] } }

    public var inputBytes: Int { buffers.filter { $0.storage == .input }.reduce(0) { $0 + $1.bytes } }
    public var parameterBytes: Int { buffers.filter { $0.storage == .parameter }.reduce(0) { $0 + $1.bytes } }
    public var gradientBytes: Int { buffers.filter { $0.storage == .gradient }.reduce(0) { $0 + $1.bytes } }

    /// Everything the plan needs at once with `threads` workers: inputs, parameters, gradients, the arena and scratch.
    public func peakBytes(threads: Int) -> Int {
        inputBytes + parameterBytes + gradientBytes + arenaBytes + workspaceElementsPerThread * 4 * threads
    }
}
