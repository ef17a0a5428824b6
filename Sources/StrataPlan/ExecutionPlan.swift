import StrataIR

/// Stage 4: a training (or inference, or projection) graph lowered for one batch size and one
/// backend's traits: an ordered list of steps, each naming a kernel, its buffers and its typed
/// constants, and buffers placed by liveness in one arena so that memory is reused. This is the
/// one contract between the compiler and every backend: a backend reads the plan, never the IR.
public struct ExecutionPlan: Sendable {
    public typealias ElementType = StrataPlan.ElementType

    public enum Storage: String, Sendable {
        /// Given by the caller for each run: the input batch, labels, a backward seed, the optimizer's settings.
        case input
        /// Owned by the model: weights and biases.
        case parameter
        /// Written by the backward pass and kept readable: parameter and input gradients, the loss.
        case gradient
        /// Optimizer state (SGD momentum): persistent, zero at the start.
        case state
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
        /// Whether the size scales with the batch (the shape is then per image).
        public var batched: Bool
        public var storage: Storage
        /// Byte offset in the arena (arena buffers) or in persistent storage (the rest).
        public var offset: Int
        /// First and last step that touch it.
        public var firstStep: Int
        public var lastStep: Int

        /// Bytes of 4-byte elements (float32 and int32).
        public var bytes: Int { elements * 4 }
    }

    public struct Step: Sendable {
        public var kernel: Kernel
        public var node: Int?
        public var inputs: [Int]
        public var outputs: [Int]
        /// The kernel's constants, lowered from the layer (geometry, sizes, rates, which input is the bias).
        public var constants: KernelConstants
        /// A conv or fc step that also applies the ReLU that followed it.
        public var fusedReLU: Bool
        /// Scratch elements per thread the backend asked for this step.
        public var scratchElements: Int
    }

    /// The network the plan was made from. Backends read the plan, not this: what they need of it
    /// is below (`networkName`, `classes`, `name(of:)`, `checkLabels`).
    public var graph: Graph

    /// The network's name, for messages.
    public var networkName: String { graph.name }
    /// The classes of the network's output (the loss's labels are 0..<classes).
    public var classes: Int { graph.nodes.last?.shape?.elementCount ?? 0 }
    /// A tensor's name as messages and `compile` print it.
    public func name(of tensor: TensorID) -> String { tensor.name(in: graph) }

    /// Labels for the loss: each in 0..<classes (the loss indexes its rows by label: one outside
    /// would read and write out of bounds). The one check every backend's `setLabels` makes.
    public func checkLabels(_ labels: [Int32]) throws {
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw ExecutorError("label \(labels[bad]) (image \(bad) of the batch) is outside 0..<\(classes), the classes of '\(networkName)'")
        }
    }

    /// What the plan computes: `inference`, `training`, `backward from 'conv5' (deconvnet)`.
    public var mode: String
    public var training: Bool
    public var batch: Int
    /// The backend the plan was made for, and its traits.
    public var traits: BackendTraits
    public var buffers: [Buffer]
    public var steps: [Step]
    /// Index of the first backward step (== steps.count without a backward pass).
    public var backwardStart: Int
    /// Where each tensor lives.
    public var bufferOf: [TensorID: Int]
    public var arenaBytes: Int
    /// Bytes of the buffers outside the arena (inputs, parameters, gradients, state), each aligned.
    public var persistentBytes: Int
    /// Scratch for one thread: the largest any step asked for.
    public var workspaceElementsPerThread: Int
    /// The tensor the caller writes to seed a backward pass from a layer's activations, or nil.
    public var seed: TensorID?
    /// Every learnable tensor the plan's steps use (all of them, except in a projection from a
    /// layer, which needs only those below it), named `LAYER.weight` / `LAYER.bias`, in graph order.
    public var parameters: [NamedParameter]
    /// Step index → the observed tensors that step makes, for `Executor.run(seed:observe:)`.
    public var observed: [Int: [TensorID]] = [:]

    /// Index of the first optimizer step (`sgd_update`, `filter_rms_clip`; == steps.count without
    /// them): steps 0..<updateStart compute the loss and gradients, the rest apply them. A data-parallel
    /// rank runs the two ranges with the gradients summed over the ranks in between.
    public var updateStart: Int {
        steps.firstIndex { $0.kernel == .sgd_update || $0.kernel == .filter_rms_clip } ?? steps.count
    }

    public func buffer(_ tensor: TensorID) -> Buffer? { bufferOf[tensor].map { buffers[$0] } }

    public var inputBytes: Int { bytes(.input) }
    public var parameterBytes: Int { bytes(.parameter) }
    public var gradientBytes: Int { bytes(.gradient) }
    public var stateBytes: Int { bytes(.state) }

    func bytes(_ storage: Storage) -> Int { buffers.filter { $0.storage == storage }.reduce(0) { $0 + $1.bytes } }

    /// Everything the plan needs at once on its backend: inputs, parameters, gradients, optimizer
    /// state, the arena and every thread's scratch.
    public var peakBytes: Int {
        inputBytes + parameterBytes + gradientBytes + stateBytes + arenaBytes + workspaceElementsPerThread * 4 * traits.threads
    }

    /// The tensor a name stands for (`conv1.weight`, `d.input`, `momentum/fc6.bias`, `pool2.switches`), or nil.
    public func tensor(named name: String) -> TensorID? {
        bufferOf.keys.first { $0.name(in: graph) == name }
    }
}
