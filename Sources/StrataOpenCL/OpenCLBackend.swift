import COpenCL
import Foundation
import StrataIR
import StrataPlan

/// The OpenCL backend: runs an `ExecutionPlan` on one OpenCL device, with one arena buffer placed
/// by the planner's offsets and one buffer for the persistent tensors, each plan buffer a
/// sub-buffer of those. Kernels come from `kernels/*.cl`, specialised per step with `-D` constants.
public struct OpenCLBackend: Backend {
    public let device: OpenCLDevice
    public let context: OpenCLContext
    public let options: Options

    /// How the GEMM kernels are blocked: the tile (default: `Tuning.tiles(for:)`, what `strata tune`
    /// stored or the table's choice) and, for tests and `strata tune`, a forced depth split of the
    /// filter gradients (default: chosen per step to fill the device).
    public struct Options: Sendable {
        public var tiles: GemmTiles?
        public var split: Int?
        public init(tiles: GemmTiles? = nil, split: Int? = nil) { (self.tiles, self.split) = (tiles, split) }
    }

    /// `selector`: `opencl` (the first GPU, else the first device; GPU localRank mod count for a
    /// job's rank on a node with several) or `opencl:P:D`.
    public init(_ selector: String = "opencl", options: Options = Options(), localRank: Int = 0) throws {
        device = try OpenCL.select(selector, localRank: localRank)
        context = try OpenCLContext(device: device)
        var options = options
        if options.tiles == nil { options.tiles = Tuning.tiles(for: device) }
        if let problem = options.tiles!.problem(on: device) { throw OpenCLError("choosing the GEMM tile", -30, detail: problem) }
        self.options = options
    }

    public var tiles: GemmTiles { options.tiles! }

    public var traits: BackendTraits {
        // Sub-buffers must start on the device's base-address alignment.
        BackendTraits(name: "opencl", alignment: max(64, device.baseAlignment), threads: 1) { _ in 0 }
    }

    public func makeExecutor(_ plan: ExecutionPlan) throws -> any Executor {
        try OpenCLExecutor(plan: plan, context: context, tiles: tiles, split: options.split)
    }
}

/// One plan on one device.
public final class OpenCLExecutor: Executor, @unchecked Sendable {
    public let plan: ExecutionPlan
    let context: OpenCLContext
    let arena: OpenCLBuffer?
    let persistent: OpenCLBuffer?
    /// One sub-buffer per plan buffer.
    var buffers: [OpenCLBuffer?] = []
    var launches: [[Launch]] = []
    public var timing = false
    public private(set) var stepSeconds: [Double]
    /// The GEMM kernels' tile.
    public let tiles: GemmTiles
    /// Partial sums of depth-split filter gradients.
    let scratch: OpenCLBuffer?

    struct Launch {
        var kernel: OpenCLKernel
        var global: Int
        /// A 3-D launch in work-groups of `local` (tiled kernels); nil: 1-D over `global`.
        var grid: [Int]? = nil
        var local: [Int]? = nil
        /// Set just before the launch (the dropout seed).
        var seeded: Bool = false
        var stream: Int = 0
        /// A seeded launch's elements per image (its offset in the whole batch is imageOffset × this).
        var perImage: Int = 0
        /// The kernel file and the program's build options, for `compile --device opencl`.
        var file = ""
        var options = ""
    }

    public init(plan: ExecutionPlan, context: OpenCLContext, tiles: GemmTiles? = nil, split forcedSplit: Int? = nil) throws {
        guard plan.traits.name == "opencl" else {
            throw ExecutorError("the plan of '\(plan.networkName)' was made for the \(plan.traits.name) backend, not opencl")
        }
        let device = context.device
        let tiles = tiles ?? Tuning.tiles(for: device)
        // The filter gradients' depth splits, and the scratch their partial sums need (outside the plan).
        let splits = plan.steps.map { Self.split($0, plan: plan, tiles: tiles, device: device, forced: forcedSplit) }
        let scratchElements = zip(plan.steps, splits).map { step, split in
            guard split > 1, case .conv(let g) = step.constants else { return 0 }
            return split * g.filters * (g.channels / g.groups) * g.kernel.h * g.kernel.w
        }.max() ?? 0
        // Checked before allocating: the whole plan, and its largest single buffer (the arena).
        let needed = plan.peakBytes + 4 * scratchElements
        guard UInt64(needed) <= device.globalMemory, UInt64(plan.arenaBytes) <= device.maxAllocation else {
            // Memory grows about linearly with the batch: the largest batch under both limits, with 10% to spare.
            let byMemory = Double(device.globalMemory) / (Double(needed) / Double(plan.batch))
            let byAllocation = plan.arenaBytes > 0 ? Double(device.maxAllocation) / (Double(plan.arenaBytes) / Double(plan.batch)) : byMemory
            let fits = max(1, Int(min(byMemory, byAllocation) * 0.9))
            let what = UInt64(needed) > device.globalMemory
                ? "needs \(ExecutionPlan.size(needed)) but \(device.name) has \(ExecutionPlan.size(Int(device.globalMemory)))"
                : "needs an arena of \(ExecutionPlan.size(plan.arenaBytes)) but \(device.name) allocates at most \(ExecutionPlan.size(Int(device.maxAllocation))) at once"
            throw ExecutorError("'\(plan.networkName)' at batch \(plan.batch) \(what); try --batch \(fits)")
        }
        self.tiles = tiles
        scratch = scratchElements > 0 ? try context.buffer(floats: scratchElements, name: "the filter gradients' partial sums") : nil
        self.plan = plan
        self.context = context
        stepSeconds = [Double](repeating: 0, count: plan.steps.count)
        arena = plan.arenaBytes > 0 ? try context.buffer(bytes: plan.arenaBytes, name: "the arena") : nil
        persistent = plan.persistentBytes > 0 ? try context.buffer(bytes: plan.persistentBytes, name: "the weights, gradients and inputs") : nil
        // Zeros, as on the CPU: momentum starts at 0, and nothing reads what an earlier process left.
        if let arena { try context.write([Float](repeating: 0, count: arena.count), to: arena) }
        if let persistent { try context.write([Float](repeating: 0, count: persistent.count), to: persistent) }
        for b in plan.buffers {
            guard let parent = b.storage == .arena ? arena : persistent, b.bytes > 0 else { buffers.append(nil); continue }
            buffers.append(try context.subBuffer(parent, offset: b.offset, bytes: b.bytes, count: b.elements))
        }
        var programs: [String: OpenCLProgram] = [:]
        var built: [OpenCLKernel: (String, String)] = [:]
        func kernel(_ file: String, _ name: String, _ constants: [(String, String)]) throws -> OpenCLKernel {
            let options = (constants + [("N", "\(plan.batch)")]).map { "-D \($0.0)=\($0.1)" }.joined(separator: " ")
            let key = file + "|" + options
            if programs[key] == nil {
                let source = try KernelSources.source(file)
                programs[key] = try context.program(source: source.text, file: "kernels/\(file).cl", options: options)
            }
            let k = try programs[key]!.kernel(name)
            built[k] = (file, options)
            return k
        }
        for (step, split) in zip(plan.steps, splits) {
            var lowered = try Self.lower(step, plan: plan, buffers: buffers, tiles: tiles, split: split, scratch: scratch, kernel: kernel)
            for i in lowered.indices { (lowered[i].file, lowered[i].options) = built[lowered[i].kernel] ?? ("", "") }
            launches.append(lowered)
        }
    }

    /// How many depth slices a filter gradient's GEMM runs in: enough work-groups for two per
    /// compute unit, each slice at least 8 tiles deep, at most 32 slices. Other steps: 1.
    static func split(_ step: ExecutionPlan.Step, plan: ExecutionPlan, tiles: GemmTiles, device: OpenCLDevice, forced: Int?) -> Int {
        guard step.kernel == .conv_backward_filter, case .conv(let g) = step.constants else { return 1 }
        let reduction = plan.batch * g.outHeight * g.outWidth
        if let forced { return max(1, min(forced, reduction)) }
        let fg = g.filters / g.groups, depth = g.channels / g.groups * g.kernel.h * g.kernel.w
        let groups = (fg + tiles.tm - 1) / tiles.tm * ((depth + tiles.tn - 1) / tiles.tn) * g.groups
        let wanted = (2 * device.computeUnits + groups - 1) / groups
        return max(1, min(wanted, reduction / (8 * max(tiles.tk, 16)), 32))
    }

    /// A GEMM launch of kernels/gemm.cl: C is `m` × `n` per group, in tiles of `tiles`.
    static func gemm(_ k: OpenCLKernel, m: Int, n: Int, groups: Int, tiles: GemmTiles, global: Int) -> Launch {
        let across = tiles.tn / tiles.wn, down = tiles.tm / tiles.wm
        return Launch(kernel: k, global: global, grid: [(n + tiles.tn - 1) / tiles.tn * across, (m + tiles.tm - 1) / tiles.tm * down, groups],
                      local: [across, down, 1])
    }

    /// The launches of one step, their arguments bound.
    ///
    /// About 130 lines, by choice: one exhaustive `switch` over `Kernel` with no default, a few
    /// lines per kernel, so a new kernel is a compile error here and each case reads beside its
    /// neighbours. The shared parts (GEMM launches, `-D` constants) are functions above.
    static func lower(_ step: ExecutionPlan.Step, plan: ExecutionPlan, buffers: [OpenCLBuffer?], tiles: GemmTiles, split: Int, scratch: OpenCLBuffer?,
                      kernel: (String, String, [(String, String)]) throws -> OpenCLKernel) throws -> [Launch] {
        let inputs = step.inputs.map { buffers[$0]! }, outputs = step.outputs.map { buffers[$0]! }
        let batch = plan.batch
        func count(_ b: OpenCLBuffer) -> Int32 { Int32(b.count) }
        func bind(_ k: OpenCLKernel, _ args: [Any]) throws -> OpenCLKernel {
            for (i, a) in args.enumerated() {
                switch a {
                case let b as OpenCLBuffer: try k.set(i, b)
                case let v as Int32: try k.set(i, v)
                case let v as Float: try k.set(i, v)
                case let v as UInt64: try k.set(i, v)
                default: fatalError("internal error: kernel argument \(a)")
                }
            }
            return k
        }
        func elementwise(_ name: String, _ args: [OpenCLBuffer], _ n: OpenCLBuffer) throws -> [Launch] {
            [Launch(kernel: try bind(try kernel("elementwise", name, []), args + [count(n)]), global: n.count)]
        }
        // Every kernel has a case here (no default), so a new kernel does not compile until this backend runs it.
        switch step.kernel {
        case .conv_forward, .conv_backward_data, .conv_backward_filter:
            guard case .conv(let g) = step.constants else { fatalError("internal error: \(step.kernel) without its geometry") }
            let c = Self.defines(step.constants) + tiles.constants
            let fg = g.filters / g.groups, cg = g.channels / g.groups, kk = g.kernel.h * g.kernel.w
            switch step.kernel {
            case .conv_forward:
                let k = try bind(try kernel("conv", "conv_forward", c), [inputs[0], inputs[1], g.bias ? inputs[2] : inputs[1], outputs[0],
                                                                        Int32(g.bias ? 1 : 0), Int32(step.fusedReLU ? 1 : 0)])
                return [gemm(k, m: fg, n: batch * g.outHeight * g.outWidth, groups: g.groups, tiles: tiles, global: outputs[0].count)]
            case .conv_backward_data:
                let k = try bind(try kernel("conv", "conv_backward_data", c), [inputs[0], inputs[1], outputs[0]])
                return [gemm(k, m: cg, n: batch * g.height * g.width, groups: g.groups, tiles: tiles, global: outputs[0].count)]
            default:
                // Split: SPLIT slices of partial sums in the scratch buffer, then added in order. Unsplit, the
                // three convolution steps of a layer share one program (same constants).
                let target = split > 1 ? scratch! : outputs[0]
                let k = try bind(try kernel("conv", "conv_backward_filter", split > 1 ? c + [("SPLIT", "\(split)")] : c), [inputs[0], inputs[1], target])
                var out = [gemm(k, m: fg, n: cg * kk, groups: g.groups * split, tiles: tiles, global: outputs[0].count)]
                if split > 1 {
                    out.append(Launch(kernel: try bind(try kernel("elementwise", "sum_slices", []), [target, outputs[0], count(outputs[0]), Int32(split)]),
                                      global: outputs[0].count))
                }
                if g.bias {
                    let reduce = 64   // RED in kernels/conv.cl
                    out.append(Launch(kernel: try bind(try kernel("conv", "conv_backward_bias", c), [inputs[0], outputs[1]]),
                                      global: outputs[1].count, grid: [g.filters * reduce, 1, 1], local: [reduce, 1, 1]))
                }
                return out
            }
        case .maxpool_forward, .maxpool_backward, .avgpool_forward, .avgpool_backward:
            guard case .pool(let g) = step.constants else { fatalError("internal error: \(step.kernel) without its geometry") }
            let c = Self.defines(step.constants), planes = batch * g.channels
            switch step.kernel {
            case .maxpool_forward: return [Launch(kernel: try bind(try kernel("pool", "maxpool_forward", c), [inputs[0], outputs[0], outputs[1]]), global: outputs[0].count)]
            case .maxpool_backward: return [Launch(kernel: try bind(try kernel("pool", "maxpool_backward", c), [inputs[0], inputs[1], outputs[0]]), global: planes)]
            case .avgpool_forward: return [Launch(kernel: try bind(try kernel("pool", "avgpool_forward", c), [inputs[0], outputs[0]]), global: outputs[0].count)]
            default: return [Launch(kernel: try bind(try kernel("pool", "avgpool_backward", c), [inputs[0], outputs[0]]), global: planes)]
            }
        case .lrn_forward, .lrn_backward:
            guard case .lrn(let l) = step.constants else { fatalError("internal error: \(step.kernel) without its constants") }
            // The step's constants; the one derived flag picks the CPU's exact s^−0.75.
            let c = Self.defines(step.constants) + [("BETA_IS_075", l.beta == 0.75 ? "1" : "0")]
            if step.kernel == .lrn_forward {
                let scale = outputs.count > 1 ? outputs[1] : outputs[0]
                return [Launch(kernel: try bind(try kernel("lrn", "lrn_forward", c), [inputs[0], outputs[0], scale, Int32(outputs.count > 1 ? 1 : 0)]),
                           global: batch * l.planeSize)]
            }
            return [Launch(kernel: try bind(try kernel("lrn", "lrn_backward", c), [inputs[0], inputs[1], inputs[2], inputs[3], outputs[0]]), global: batch * l.planeSize)]
        case .relu_forward: return try elementwise("relu_forward", [inputs[0], outputs[0]], outputs[0])
        case .relu_backward: return try elementwise("relu_backward", [inputs[0], inputs[1], outputs[0]], outputs[0])
        case .relu_backward_guided: return try elementwise("relu_backward_guided", [inputs[0], inputs[1], outputs[0]], outputs[0])
        case .tanh_forward: return try elementwise("tanh_forward", [inputs[0], outputs[0]], outputs[0])
        case .tanh_backward: return try elementwise("tanh_backward", [inputs[0], inputs[1], outputs[0]], outputs[0])
        case .dropout_forward:
            guard case .dropout(let rate, let stream) = step.constants else { fatalError("internal error: dropout without its rate") }
            let threshold = UInt64((rate * 0x1.0p53).rounded(.up))
            let k = try bind(try kernel("elementwise", "dropout_forward", []),
                             [inputs[0], outputs[0], outputs[1], count(outputs[0]), UInt64(0), threshold, Float(1 / (1 - rate)), UInt64(0)])
            return [Launch(kernel: k, global: (outputs[0].count + 4095) / 4096 + 1, seeded: true, stream: stream,
                           perImage: outputs[0].count / plan.batch)]
        case .dropout_backward: return try elementwise("dropout_backward", [inputs[0], inputs[1], outputs[0]], outputs[0])
        case .add:
            var out = try elementwise("copy", [inputs[0], outputs[0]], outputs[0])
            for input in inputs.dropFirst() { out += try elementwise("accumulate", [input, outputs[0]], outputs[0]) }
            return out
        case .fc_forward, .fc_backward_data, .fc_backward_filter:
            guard case .fc(let g) = step.constants else { fatalError("internal error: \(step.kernel) without its geometry") }
            let c = Self.defines(step.constants) + tiles.constants
            switch step.kernel {
            case .fc_forward:
                let k = try bind(try kernel("fc", "fc_forward", c), [inputs[0], inputs[1], g.bias ? inputs[2] : inputs[1], outputs[0],
                                                                    Int32(g.bias ? 1 : 0), Int32(step.fusedReLU ? 1 : 0)])
                return [gemm(k, m: batch, n: g.units, groups: 1, tiles: tiles, global: outputs[0].count)]
            case .fc_backward_data:
                let k = try bind(try kernel("fc", "fc_backward_data", c), [inputs[0], inputs[1], outputs[0]])
                return [gemm(k, m: batch, n: g.features, groups: 1, tiles: tiles, global: outputs[0].count)]
            default:
                let k = try bind(try kernel("fc", "fc_backward_filter", c), [inputs[0], inputs[1], outputs[0]])
                var out = [gemm(k, m: g.units, n: g.features, groups: 1, tiles: tiles, global: outputs[0].count)]
                if g.bias { out.append(Launch(kernel: try bind(try kernel("fc", "fc_backward_bias", c), [inputs[0], outputs[1]]), global: outputs[1].count)) }
                return out
            }
        case .concat_forward:
            guard case .concat(let sizes, _) = step.constants else { fatalError("internal error: concat without its sizes") }
            let total = sizes.reduce(0, +)
            return try inputs.enumerated().map { k, input in
                Launch(kernel: try bind(try kernel("concat", "concat_forward", []), [input, outputs[0], Int32(sizes[k]), Int32(sizes[..<k].reduce(0, +)),
                                                                                     Int32(total), Int32(batch)]), global: input.count)
            }
        case .concat_backward:
            guard case .concat(let sizes, let part) = step.constants else { fatalError("internal error: concat without its sizes") }
            return [Launch(kernel: try bind(try kernel("concat", "concat_backward", []), [inputs[0], outputs[0], Int32(sizes[part]), Int32(sizes[..<part].reduce(0, +)),
                                                                                          Int32(sizes.reduce(0, +)), Int32(batch)]), global: outputs[0].count)]
        case .softmax_forward, .softmax_backward, .softmax_cross_entropy, .softmax_cross_entropy_backward:
            guard case .softmax(let classes) = step.constants else { fatalError("internal error: \(step.kernel) without its classes") }
            let c = [("CLASSES", "\(classes)")]
            switch step.kernel {
            case .softmax_forward: return [Launch(kernel: try bind(try kernel("softmax", "softmax_forward", c), [inputs[0], outputs[0]]), global: batch)]
            case .softmax_backward: return [Launch(kernel: try bind(try kernel("softmax", "softmax_backward", c), [inputs[0], inputs[1], outputs[0]]), global: batch)]
            case .softmax_cross_entropy: return [Launch(kernel: try bind(try kernel("softmax", "softmax_cross_entropy", c), [inputs[0], inputs[1], outputs[0]]), global: 1)]
            default: return [Launch(kernel: try bind(try kernel("softmax", "softmax_cross_entropy_backward", c), [inputs[0], inputs[1], outputs[0]]), global: batch)]
            }
        case .sgd_update:
            return [Launch(kernel: try bind(try kernel("optimizer", "sgd_update", []), [inputs[0], inputs[1], inputs[2], inputs[3], count(inputs[0])]), global: inputs[0].count)]
        case .filter_rms_clip:
            guard case .filterClip(let filters, let size, let radius) = step.constants else { fatalError("internal error: clip without its sizes") }
            return [Launch(kernel: try bind(try kernel("optimizer", "filter_rms_clip", []), [outputs[0], Int32(filters), Int32(size), Float(radius)]), global: filters)]
        }
    }

    public var settingsSummary: [(name: String, value: String)] { [("device", context.device.name), ("tiles", tiles.description)] }

    /// Each step's launches: kernel, file, build options, global (and local) sizes.
    public func launchText() -> String {
        var out = "\nopencl launches on \(context.device.name):\n"
        for (k, step) in launches.enumerated() {
            for launch in step {
                let sizes = launch.grid.map { "global \($0.map(String.init).joined(separator: "×"))" + (launch.local.map { " local \($0.map(String.init).joined(separator: "×"))" } ?? "") }
                    ?? "global \(max(launch.global, 1))"
                out += "  \(k) \(launch.kernel.name) (kernels/\(launch.file).cl) \(sizes)\(launch.options.isEmpty ? "" : "  " + launch.options)\n"
            }
        }
        return out
    }

    /// A step's constants (`KernelConstants.pairs`, as `compile --stop-after plan` prints them)
    /// as `-D` values: a number with a fraction or an exponent becomes a float literal (`0.0001f`).
    static func defines(_ constants: KernelConstants) -> [(String, String)] {
        constants.pairs.map { name, value in
            (name, Double(value) != nil && value.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? value + "f" : value)
        }
    }

    /// Every program of the plan as the device compiles it: its `-D` constants as `#define`s, then the source.
    public func specialisedSources() -> String {
        var seen = Set<String>(), out = ""
        for launch in launches.flatMap({ $0 }) where seen.insert(launch.file + "|" + launch.options).inserted {
            out += "// kernels/\(launch.file).cl with \(launch.options.isEmpty ? "no constants" : launch.options)\n"
            for option in launch.options.split(separator: " ") where option != "-D" {
                let parts = option.split(separator: "=", maxSplits: 1)
                out += "#define \(parts[0]) \(parts.count > 1 ? parts[1] : "1")\n"
            }
            out += ((try? KernelSources.source(launch.file).text) ?? "") + "\n\n"
        }
        return out
    }

    @discardableResult public func run(seed: UInt64) throws -> Double? {
        try run(seed: seed) { _, _ in }
    }

    public var imageOffset = 0

    @discardableResult public func run(seed: UInt64, steps: Range<Int>) throws -> Double? {
        guard steps.lowerBound >= 0 && steps.upperBound <= plan.steps.count else {
            throw ExecutorError("steps \(steps) are outside the plan's 0..<\(plan.steps.count)")
        }
        return try run(seed: seed, steps: steps) { _, _ in }
    }

    @discardableResult public func run(seed: UInt64, observe: (TensorID, UnsafeBufferPointer<Float>) throws -> Void) throws -> Double? {
        try run(seed: seed, steps: plan.steps.indices, observe: observe)
    }

    func run(seed: UInt64, steps: Range<Int>, observe: (TensorID, UnsafeBufferPointer<Float>) throws -> Void) throws -> Double? {
        for k in steps {
            let step = launches[k]
            // With timing, each step's time is its kernels' device time (OpenCL profiling events).
            var seconds = 0.0
            for launch in step {
                do {
                    if launch.seeded {
                        try launch.kernel.set(4, DropoutStream.seed(run: seed, stream: launch.stream))
                        try launch.kernel.set(7, UInt64(imageOffset * launch.perImage))  // a long, ≥ 0
                    }
                    if let grid = launch.grid { seconds += try context.run(launch.kernel, global: grid, local: launch.local, timed: timing) }
                    else { seconds += try context.run(launch.kernel, global: [max(launch.global, 1)], timed: timing) }
                } catch {
                    throw atStep(error, k, launch.kernel.name)
                }
            }
            if timing { stepSeconds[k] = seconds }
            if let tensors = plan.observed[k] {
                for t in tensors { try read(t).withUnsafeBufferPointer { try observe(t, $0) } }
            }
        }
        do { try context.finish() } catch { throw atStep(error, steps.upperBound - 1, "the run's last kernels") }
        guard let id = plan.bufferOf[.loss], let b = buffers[id] else { return nil }
        return Double(try context.read(b)[0])
    }

    /// A device fault, with the plan step and kernel that reported it. Launches are asynchronous:
    /// a fault is reported by the first call after it, so the kernel that caused it may be an earlier one.
    func atStep(_ error: OpenCLError, _ k: Int, _ kernel: String) -> OpenCLError {
        let step = plan.steps.indices.contains(k) ? "step \(k) of the plan (\(plan.steps[k].kernel))" : "the run"
        return OpenCLError(error.call, error.status, detail: "reported at \(step), kernel \(kernel) (launches are asynchronous: "
                           + "the fault may be an earlier step's)" + (error.detail.isEmpty ? "" : "; " + error.detail))
    }

    func buffer(for tensor: TensorID) throws -> OpenCLBuffer {
        guard let id = plan.bufferOf[tensor], let b = buffers[id] else {
            throw ExecutorError("the \(plan.mode) plan of '\(plan.networkName)' has no tensor '\(plan.name(of: tensor))'")
        }
        return b
    }

    public func read(_ tensor: TensorID) throws -> [Float] {
        let b = try floats(tensor)
        return try context.read(b)
    }

    public func readDoubles(_ tensor: TensorID) throws -> [Double] { try read(tensor).map(Double.init) }

    public func write(_ tensor: TensorID, _ values: UnsafeBufferPointer<Float>) throws {
        let b = try floats(tensor)
        try context.write(Array(values), to: b)
    }

    public func write(_ tensor: TensorID, doubles values: [Double]) throws {
        let b = try floats(tensor)
        try context.write(values.map(Float.init), to: b)
    }

    public func setLabels(_ labels: [Int32]) throws {
        let b = try buffer(for: .labels)
        guard labels.count == b.count else { throw ExecutorError("\(labels.count) labels for a batch of \(b.count)") }
        try plan.checkLabels(labels)
        try context.write(int32: labels, to: b)
    }

    func floats(_ tensor: TensorID) throws -> OpenCLBuffer {
        guard let id = plan.bufferOf[tensor] else { return try buffer(for: tensor) }
        guard plan.buffers[id].elementType == .float32 else {
            throw ExecutorError("'\(plan.name(of: tensor))' holds \(plan.buffers[id].elementType.rawValue) values, not floats")
        }
        return try buffer(for: tensor)
    }
}
