import StrataIR
import StrataPlan

/// The CPU backend's executor: runs an `ExecutionPlan` in float32 (or float64, for gradient
/// checks) with its own threads and GEMM path (`CPUSettings`). Other modules hold it as an
/// `Executor`, made by `CPUBackend.makeExecutor`.
public final class CPUExecutor: Executor, @unchecked Sendable {
    enum Impl {
        case single(Engine<Float>)
        case double(Engine<Double>)
    }

    let impl: Impl
    public let plan: ExecutionPlan
    public let settings: CPUSettings

    /// An executor, or an error when the plan was made for another backend or needs more memory
    /// than the machine has (checked before allocating).
    public init(plan: ExecutionPlan, settings: CPUSettings = CPUSettings()) throws {
        guard plan.traits.name == "cpu" else {
            throw ExecutorError("the plan of '\(plan.networkName)' was made for the \(plan.traits.name) backend, not the cpu")
        }
        if let problem = CPUBackend(settings).memoryProblem(plan) { throw ExecutorError(problem) }
        self.plan = plan
        self.settings = settings
        let context = CPUContext(threads: settings.threads, gemm: settings.gemm)
        impl = settings.precision == .float32 ? .single(Engine<Float>(plan: plan, context: context)) : .double(Engine<Double>(plan: plan, context: context))
    }

    public var settingsSummary: [(name: String, value: String)] {
        [("threads", "\(settings.threads)"), ("gemm", settings.gemm.family), ("isa", settings.gemm.isa ?? "none"), ("precision", settings.precision.rawValue)]
    }

    @discardableResult
    public func run(seed: UInt64) throws -> Double? {
        switch impl {
        case .single(let e): e.run(seed: seed)
        case .double(let e): e.run(seed: seed)
        }
    }

    public func run(seed: UInt64, steps: Range<Int>) throws -> Double? {
        guard steps.lowerBound >= 0 && steps.upperBound <= plan.steps.count else {
            throw ExecutorError("steps \(steps) are outside the plan's 0..<\(plan.steps.count)")
        }
        switch impl {
        case .single(let e): return e.run(seed: seed, steps: steps) { _, _ in }
        case .double(let e): return e.run(seed: seed, steps: steps) { _, _ in }
        }
    }

    public var imageOffset: Int {
        get { switch impl { case .single(let e): e.imageOffset; case .double(let e): e.imageOffset } }
        set { switch impl { case .single(let e): e.imageOffset = newValue; case .double(let e): e.imageOffset = newValue } }
    }

    public func run(seed: UInt64, observe: (TensorID, UnsafeBufferPointer<Float>) throws -> Void) throws -> Double? {
        switch impl {
        case .single(let e):
            return try e.run(seed: seed) { t, id in try observe(t, UnsafeBufferPointer(start: e.pointer(id), count: self.plan.buffers[id].elements)) }
        case .double(let e):
            return try e.run(seed: seed) { t, id in
                let values = UnsafeBufferPointer(start: e.pointer(id), count: self.plan.buffers[id].elements).map(Float.init)
                try values.withUnsafeBufferPointer { try observe(t, $0) }
            }
        }
    }

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

    public func write(_ tensor: TensorID, _ values: UnsafeBufferPointer<Float>) throws {
        let b = try floats(tensor, count: values.count)
        guard let base = values.baseAddress, b.elements > 0 else { return }
        switch impl {
        case .single(let e): e.pointer(b.id).update(from: base, count: b.elements)
        case .double(let e): let p = e.pointer(b.id); for i in 0..<b.elements { p[i] = Double(values[i]) }
        }
    }

    public func write(_ tensor: TensorID, doubles values: [Double]) throws {
        let b = try floats(tensor, count: values.count)
        switch impl {
        case .single(let e): let p = e.pointer(b.id); for i in 0..<b.elements { p[i] = Float(values[i]) }
        case .double(let e): e.pointer(b.id).update(from: values, count: b.elements)
        }
    }

    public func read(_ tensor: TensorID) throws -> [Float] {
        let b = try floats(tensor, count: nil)
        switch impl {
        case .single(let e): return Array(UnsafeBufferPointer(start: e.pointer(b.id), count: b.elements))
        case .double(let e): return UnsafeBufferPointer(start: e.pointer(b.id), count: b.elements).map(Float.init)
        }
    }

    public func withValues<R>(_ tensor: TensorID, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let b = try floats(tensor, count: nil)
        switch impl {
        case .single(let e): return try body(UnsafeBufferPointer(start: e.pointer(b.id), count: b.elements))
        case .double: return try read(tensor).withUnsafeBufferPointer { try body($0) }
        }
    }

    public func readDoubles(_ tensor: TensorID) throws -> [Double] {
        let b = try floats(tensor, count: nil)
        switch impl {
        case .single(let e): return UnsafeBufferPointer(start: e.pointer(b.id), count: b.elements).map(Double.init)
        case .double(let e): return Array(UnsafeBufferPointer(start: e.pointer(b.id), count: b.elements))
        }
    }

    public func setLabels(_ labels: [Int32]) throws {
        let b = try checkCount(.labels, labels.count)
        try plan.checkLabels(labels)
        switch impl {
        case .single(let e): e.int32(b.id).update(from: labels, count: b.elements)
        case .double(let e): e.int32(b.id).update(from: labels, count: b.elements)
        }
    }

    /// The buffer of a float tensor, checked to hold exactly `count` values when given.
    func floats(_ tensor: TensorID, count: Int?) throws -> ExecutionPlan.Buffer {
        let b = try count.map { try checkCount(tensor, $0) } ?? buffer(tensor)
        guard b.elementType == .float32 else {
            throw ExecutorError("'\(plan.name(of: tensor))' holds \(b.elementType.rawValue) values, not floats")
        }
        return b
    }
}

extension CPUExecutor {
    /// One element of a float tensor (as Double), for finite-difference checks.
    public func element(_ tensor: TensorID, _ index: Int) throws -> Double {
        let b = try floats(tensor, count: nil)
        precondition(b.elements > index && index >= 0, "index \(index) outside '\(plan.name(of: tensor))'")
        switch impl {
        case .single(let e): return Double(e.pointer(b.id)[index])
        case .double(let e): return e.pointer(b.id)[index]
        }
    }

    /// Sets one element of a float tensor.
    public func setElement(_ tensor: TensorID, _ index: Int, _ value: Double) throws {
        let b = try floats(tensor, count: nil)
        precondition(b.elements > index && index >= 0, "index \(index) outside '\(plan.name(of: tensor))'")
        switch impl {
        case .single(let e): e.pointer(b.id)[index] = Float(value)
        case .double(let e): e.pointer(b.id)[index] = value
        }
    }
}
