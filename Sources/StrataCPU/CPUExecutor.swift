import StrataIR
import StrataPlan

/// The CPU backend's public face: runs an `ExecutionPlan` in float32 (or float64, for gradient
/// checks) with OpenBLAS for the GEMMs and every other step split across threads.
///
///     let executor = CPUExecutor(plan: plan)
///     try executor.setParameter("conv1.weight", weights)
///     executor.setInput(images)
///     executor.run()
///     let features = executor.tensor(.value(3))
public final class CPUExecutor: @unchecked Sendable {
    public enum Precision: Sendable { case float32, float64 }

    enum Impl {
        case single(Engine<Float>)
        case double(Engine<Double>)
    }

    let impl: Impl
    public let plan: ExecutionPlan
    /// `LAYER.weight` / `LAYER.bias` → parameter tensor, in graph order.
    public let parameterNames: [(name: String, tensor: TensorID, shape: [Int])]

    public init(plan: ExecutionPlan, precision: Precision = .float32) {
        self.plan = plan
        impl = precision == .float32 ? .single(Engine<Float>(plan: plan)) : .double(Engine<Double>(plan: plan))
        var names: [(String, TensorID, [Int])] = []
        for (i, node) in plan.graph.nodes.enumerated() {
            let inputs = node.inputs.compactMap { plan.graph.shape(of: $0) }
            for p in node.layer.definition.parameters(inputs: inputs) {
                names.append(("\(node.name).\(p.name)", .parameter(i, p.name), p.dims))
            }
        }
        parameterNames = names
    }

    public var precision: Precision {
        if case .single = impl { return .float32 }
        return .float64
    }

    /// Runs the plan; returns the mean loss for a training plan. `seed` draws the dropout masks.
    @discardableResult
    public func run(seed: UInt64 = 0) -> Double? {
        switch impl {
        case .single(let e): e.run(seed: seed)
        case .double(let e): e.run(seed: seed)
        }
    }

    /// Records per-step times in `stepSeconds` on each run.
    public var timing: Bool {
        get { switch impl { case .single(let e): e.timing; case .double(let e): e.timing } }
        set { switch impl { case .single(let e): e.timing = newValue; case .double(let e): e.timing = newValue } }
    }

    public var stepSeconds: [Double] {
        switch impl {
        case .single(let e): e.stepSeconds
        case .double(let e): e.stepSeconds
        }
    }

    /// Elements of a tensor for the plan's batch (nil if the plan has no buffer for it).
    public func count(_ tensor: TensorID) -> Int? { plan.buffer(tensor)?.elements }

    /// Copies float32 values into a tensor's buffer: a straight copy for float32 plans.
    public func write(_ tensor: TensorID, _ values: [Float]) {
        guard let id = plan.bufferOf[tensor] else { return }
        let n = min(values.count, plan.buffers[id].elements)
        switch impl {
        case .single(let e): values.withUnsafeBufferPointer { e.pointer(id).update(from: $0.baseAddress!, count: n) }
        case .double(let e): let p = e.pointer(id); for i in 0..<n { p[i] = Double(values[i]) }
        }
    }

    /// Copies values into a tensor's buffer (input, parameters, or anything else).
    public func write<S: Collection>(_ tensor: TensorID, _ values: S) where S.Element: BinaryFloatingPoint {
        guard let id = plan.bufferOf[tensor] else { return }
        let n = min(values.count, plan.buffers[id].elements)
        switch impl {
        case .single(let e):
            let p = e.pointer(id)
            for (i, v) in values.prefix(n).enumerated() { p[i] = Float(v) }
        case .double(let e):
            let p = e.pointer(id)
            for (i, v) in values.prefix(n).enumerated() { p[i] = Double(v) }
        }
    }

    /// Copies a tensor's values out (as Double, exact for both precisions).
    public func read(_ tensor: TensorID) -> [Double] {
        guard let id = plan.bufferOf[tensor] else { return [] }
        let n = plan.buffers[id].elements
        switch impl {
        case .single(let e): return UnsafeBufferPointer(start: e.pointer(id), count: n).map(Double.init)
        case .double(let e): return Array(UnsafeBufferPointer(start: e.pointer(id), count: n))
        }
    }

    /// Copies a float32 tensor out without conversion (float32 plans).
    public func readFloat(_ tensor: TensorID) -> [Float] {
        guard let id = plan.bufferOf[tensor] else { return [] }
        let n = plan.buffers[id].elements
        switch impl {
        case .single(let e): return Array(UnsafeBufferPointer(start: e.pointer(id), count: n))
        case .double(let e): return UnsafeBufferPointer(start: e.pointer(id), count: n).map(Float.init)
        }
    }

    /// Fast float32 input: copies `values` straight into the input buffer.
    public func setInput(_ values: UnsafeBufferPointer<Float>) {
        guard let id = plan.bufferOf[.input] else { return }
        let n = min(values.count, plan.buffers[id].elements)
        switch impl {
        case .single(let e): e.pointer(id).update(from: values.baseAddress!, count: n)
        case .double(let e): let p = e.pointer(id); for i in 0..<n { p[i] = Double(values[i]) }
        }
    }

    /// Labels for a training plan (each in 0..<classes; the caller checks).
    public func setLabels(_ labels: [Int32]) {
        guard let id = plan.bufferOf[.labels] else { return }
        switch impl {
        case .single(let e): e.int32(id).update(from: labels, count: min(labels.count, plan.buffers[id].elements))
        case .double(let e): e.int32(id).update(from: labels, count: min(labels.count, plan.buffers[id].elements))
        }
    }

    /// A pointer to a float32 tensor's storage, for in-place work by other modules (float32 plans only).
    public func withFloatStorage<R>(_ tensor: TensorID, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R? {
        guard let id = plan.bufferOf[tensor], case .single(let e) = impl else { return nil }
        return try body(UnsafeMutableBufferPointer(start: e.pointer(id), count: plan.buffers[id].elements))
    }
}

extension CPUExecutor {
    /// One element of a tensor (as Double).
    public func element(_ tensor: TensorID, _ index: Int) -> Double {
        guard let id = plan.bufferOf[tensor] else { return .nan }
        switch impl {
        case .single(let e): return Double(e.pointer(id)[index])
        case .double(let e): return e.pointer(id)[index]
        }
    }

    /// Sets one element of a tensor.
    public func setElement(_ tensor: TensorID, _ index: Int, _ value: Double) {
        guard let id = plan.bufferOf[tensor] else { return }
        switch impl {
        case .single(let e): e.pointer(id)[index] = Float(value)
        case .double(let e): e.pointer(id)[index] = value
        }
    }
}

extension CPUExecutor {
    /// Why `plan` cannot run on this machine (it needs more memory than the machine has), or nil.
    /// Checked before allocating, so an absurd batch is an error message, not an out-of-memory kill.
    public static func memoryProblem(_ plan: ExecutionPlan, precision: Precision = .float32) -> String? {
        let scale = precision == .float32 ? 1 : 2
        let needed = plan.peakBytes(threads: Parallel.threads) * scale
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return nil }
        let available = Int(pages) * Int(pageSize)
        guard needed > available else { return nil }
        return "'\(plan.graph.name)' at batch \(plan.batch) needs \(ExecutionPlan.size(needed)) but this machine has "
            + "\(ExecutionPlan.size(available)) of memory; use a smaller batch"
    }
}

#if canImport(Glibc)
import Glibc
#endif
