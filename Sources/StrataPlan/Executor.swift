import StrataIR

/// What every backend's executor does with a plan: the one interface training, evaluation,
/// checkpoints and every command use.
///
///     let executor = try backend.makeExecutor(plan)
///     try executor.loadParameters(weights)
///     try executor.setInput(images)
///     executor.run()
///     let conv5 = try executor.read(.value(conv5))
///
/// Sizes are checked: writing the wrong number of values, or naming a tensor the plan does not
/// have, is an `ExecutorError` naming both, never a silent truncation.
public protocol Executor: AnyObject {
    var plan: ExecutionPlan { get }
    /// The executor's settings, for logs and `strata bench`: `[("threads", "2"), ("gemm", "strata")]`.
    var settingsSummary: [(name: String, value: String)] { get }

    /// Runs every step of the plan; returns the mean loss for a plan with a loss. `seed` draws the
    /// dropout masks. A device fault (a failed enqueue, launch or read) is an error naming the step
    /// and the kernel, never a number.
    @discardableResult func run(seed: UInt64) throws -> Double?

    /// Runs the plan's steps in `steps` only (`0..<plan.updateStart`, then `plan.updateStart..<
    /// plan.steps.count`: a data-parallel rank sums the gradients over the ranks in between).
    /// Returns the loss once a step in the range has made it.
    @discardableResult func run(seed: UInt64, steps: Range<Int>) throws -> Double?

    /// Where this plan's first image stands in the whole batch (0 by default). Per-image draws
    /// (dropout masks) depend on the image's place in the whole batch, so a data-parallel rank that
    /// runs images k..<k+n of it with imageOffset k draws what one process running all draws for them.
    var imageOffset: Int { get set }

    /// Runs the plan, calling `observe` with each tensor the plan was made to observe, right after
    /// the step that makes it (its memory is reused later in the run); a float32 view, valid only
    /// during the call. An error thrown by `observe` stops the run and is rethrown.
    @discardableResult func run(seed: UInt64, observe: (TensorID, UnsafeBufferPointer<Float>) throws -> Void) throws -> Double?

    /// Copies a tensor's values out (float32 plans exactly; float64 ones rounded).
    func read(_ tensor: TensorID) throws -> [Float]
    /// Copies a tensor's values out as Double (exact for every precision).
    func readDoubles(_ tensor: TensorID) throws -> [Double]
    /// Calls `body` with a tensor's values in host memory, without a copy where the backend can
    /// (a float32 CPU plan); valid only inside `body`. The default copies them (`read`).
    func withValues<R>(_ tensor: TensorID, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R
    /// Copies exactly the tensor's element count of values in.
    func write(_ tensor: TensorID, _ values: UnsafeBufferPointer<Float>) throws
    func write(_ tensor: TensorID, doubles values: [Double]) throws
    /// Labels of a plan with a loss (each in 0..<classes; the caller checks).
    func setLabels(_ labels: [Int32]) throws

    /// Records per-step times in `stepSeconds` on each run.
    var timing: Bool { get set }
    var stepSeconds: [Double] { get }
}

/// An error in using an executor: a tensor the plan lacks, or a size that does not fit.
public struct ExecutorError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Executor {
    @discardableResult public func run() throws -> Double? { try run(seed: 0) }

    public func withValues<R>(_ tensor: TensorID, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        try read(tensor).withUnsafeBufferPointer { try body($0) }
    }

    /// The backend and its settings: `cpu, threads 2, gemm strata`.
    public var summary: String { ([plan.traits.name] + settingsSummary.map { "\($0.name) \($0.value)" }).joined(separator: ", ") }

    public func write(_ tensor: TensorID, _ values: [Float]) throws {
        try values.withUnsafeBufferPointer { try write(tensor, $0) }
    }

    /// The input batch, (N, C, H, W) float32.
    public func setInput(_ values: UnsafeBufferPointer<Float>) throws { try write(.input, values) }

    /// The optimizer's settings for the next run's update steps.
    public func setOptimizer(learningRate: Double, momentum: Double, weightDecay: Double) throws {
        try write(.hyperparameters, doubles: [learningRate, momentum, weightDecay])
    }

    /// The buffer of a tensor, or an error naming it.
    public func buffer(_ tensor: TensorID) throws -> ExecutionPlan.Buffer {
        guard let b = plan.buffer(tensor) else {
            throw ExecutorError("the \(plan.mode) plan of '\(plan.graph.name)' has no tensor '\(tensor.name(in: plan.graph))'")
        }
        return b
    }

    /// Checks that `count` values fit `tensor` exactly.
    public func checkCount(_ tensor: TensorID, _ count: Int) throws -> ExecutionPlan.Buffer {
        let b = try buffer(tensor)
        guard count == b.elements else {
            let dims = ((b.batched ? [plan.batch] : []) + b.shape).map(String.init).joined(separator: "×")
            throw ExecutorError("'\(tensor.name(in: plan.graph))' of '\(plan.graph.name)'\(b.batched ? " at batch \(plan.batch)" : "") holds "
                                + "\(b.elements) values (\(dims)) but \(count) were given")
        }
        return b
    }

    /// Reads a tensor by its name in the plan (`conv1.weight`, `d.input`).
    public func read(named name: String) throws -> [Float] { try read(tensorNamed(name)) }

    /// Writes a tensor by its name in the plan.
    public func write(named name: String, _ values: [Float]) throws { try write(tensorNamed(name), values) }

    func tensorNamed(_ name: String) throws -> TensorID {
        guard let t = plan.tensor(named: name) else {
            throw ExecutorError("the \(plan.mode) plan of '\(plan.graph.name)' has no tensor '\(name)'")
        }
        return t
    }

    /// Copies every parameter from `tensors` (by `LAYER.weight` name), and with `momentum` the
    /// optimizer state stored as `momentum/LAYER.weight` where the plan has one. A missing tensor
    /// or one of another shape is an error naming the layer and both shapes; nothing is written then.
    public func loadParameters(_ tensors: [String: (shape: [Int], values: [Float])], momentum: Bool = false) throws {
        try ParameterMismatch.check(tensors, against: plan.parameters, network: plan.graph.name)
        for p in plan.parameters {
            try write(p.tensor, tensors[p.name]!.values)
            let m = TensorID.momentum(p.node, p.parameter)
            if momentum, plan.bufferOf[m] != nil, let v = tensors["momentum/" + p.name], v.values.count == p.elementCount {
                try write(m, v.values)
            }
        }
    }

    /// Every parameter (and with `momentum` its optimizer state) under its file name, in graph order.
    public func parameterTensors(momentum: Bool = false) throws -> [(name: String, shape: [Int], values: [Float])] {
        var out: [(String, [Int], [Float])] = []
        for p in plan.parameters { out.append((p.name, p.dims, try read(p.tensor))) }
        if momentum {
            for p in plan.parameters {
                let m = TensorID.momentum(p.node, p.parameter)
                out.append(("momentum/" + p.name, p.dims, plan.bufferOf[m] != nil ? try read(m) : [Float](repeating: 0, count: p.elementCount)))
            }
        }
        return out
    }
}

/// Weights that do not fit a network: each problem names the tensor and both shapes.
public struct ParameterMismatch: Error, CustomStringConvertible {
    public var network: String
    public var problems: [String]
    public var description: String { "they do not fit '\(network)':\n  " + problems.joined(separator: "\n  ") }

    /// Throws unless `tensors` has every parameter, each of its shape.
    public static func check(_ tensors: [String: (shape: [Int], values: [Float])], against parameters: [NamedParameter], network: String) throws {
        var problems: [String] = []
        func dims(_ d: [Int]) -> String { "(" + d.map(String.init).joined(separator: ", ") + ")" }
        for p in parameters {
            guard let t = tensors[p.name] else { problems.append("'\(p.name)' is missing (the spec needs \(dims(p.dims)))"); continue }
            if t.shape != p.dims { problems.append("'\(p.name)' is \(dims(t.shape)) but the spec needs \(dims(p.dims))") }
            else if t.values.count != p.elementCount { problems.append("'\(p.name)' has \(t.values.count) values for \(dims(p.dims))") }
        }
        if !problems.isEmpty { throw ParameterMismatch(network: network, problems: problems) }
    }

    /// The message for a weights file that does not fit: every problem, and the remedy.
    public func message(file: String) -> String {
        "\(file) does not fit '\(network)':\n  " + problems.joined(separator: "\n  ")
            + "\n  make weights for this spec with 'strata init', or pass the weights trained for it"
    }
}

/// A device that runs plans. A backend supplies its traits to the planner and makes executors for
/// the plans made with them.
public protocol Backend: Sendable {
    var traits: BackendTraits { get }
    /// An executor for `plan`, or an error saying why it cannot run here (it needs more memory than
    /// the device has; it was planned for another backend).
    func makeExecutor(_ plan: ExecutionPlan) throws -> any Executor
}

extension Backend {
    /// Plans a graph for this backend.
    public func plan(_ graph: DerivedGraph, batch: Int, keep: Set<TensorID> = [], observe: Set<TensorID> = [], fuse: Bool = true) -> ExecutionPlan {
        Planner.plan(graph, batch: batch, traits: traits, keep: keep, observe: observe, fuse: fuse)
    }
}

/// Dropout's random streams: every backend draws a run's masks from the same seeds, so a mask (and
/// a whole training run) is the same on the CPU and on OpenCL.
public enum DropoutStream {
    /// The seed of dropout layer `stream`'s masks in a run seeded `run`.
    public static func seed(run: UInt64, stream: Int) -> UInt64 { run &+ UInt64(stream) &* 0xD1B5_4A32_D192_ED03 }
}
