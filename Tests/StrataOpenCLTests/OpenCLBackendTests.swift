import Foundation
import StrataCPU
import StrataIR
import StrataPlan
import StrataSpec
import Testing
@testable import StrataOpenCL

/// The OpenCL backend computes what the CPU backend computes, on the same plan: every layer kind,
/// forward, backward (every rule), the SGD update and the filter clip, with the same dropout masks.
@Suite("OpenCL backend against the CPU", .serialized)
struct OpenCLBackendTests {
    static let spec = """
        name: every-op
        input: {channels: 2, height: 10, width: 10}
        layers:
          - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1, groups: 2}
          - {name: r1, op: relu}
          - {name: n1, op: lrn, size: 3}
          - {name: p1, op: maxpool, kernel: 3, stride: 2, pad: 1}
          - {name: c2, op: conv, filters: 6, kernel: 3, stride: 2, pad: 1}
          - {name: t2, op: tanh}
          - {name: a2, op: avgpool, kernel: 3, stride: 1, pad: 1}
          - {name: c3, op: conv, filters: 3, kernel: 1, from: p1}
          - {name: r3, op: relu}
          - {name: p3, op: maxpool, kernel: 2, pad: 1}
          - {name: cat, op: concat, from: [a2, p3]}
          - {name: d1, op: dropout, rate: 0.4}
          - {name: f1, op: fc, units: 7}
          - {name: r4, op: relu}
          - {name: f2, op: fc, units: 5}
          - {name: prob, op: softmax}

        """

    func graph() throws -> Graph {
        try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: Self.spec, file: "every-op.yaml")))
    }

    /// Runs `derived` on both backends with the same weights, input, labels and seed; compares every
    /// tensor both plans hold at the end (relative error ≤ 1e-4 of each tensor's largest value).
    func compare(_ derived: DerivedGraph, keep: Set<TensorID>, seed extra: ((any Executor) throws -> Void)? = nil, runs: Int = 1,
                 options: OpenCLBackend.Options = .init()) throws -> Double {
        let cpuBackend = CPUBackend(CPUSettings(threads: 2))
        let clBackend = try OpenCLBackend(options: options)
        let cpu = try cpuBackend.makeExecutor(cpuBackend.plan(derived, batch: 3, keep: keep))
        let cl = try clBackend.makeExecutor(clBackend.plan(derived, batch: 3, keep: keep))
        var g = SplitMix64(seed: 9)
        func uniform() -> Float { Float(Double(g.next() >> 11) * 0x1.0p-53 * 2 - 1) }
        for p in cpu.plan.parameters {
            let values = (0..<p.elementCount).map { _ in uniform() * 0.5 }
            for e in [cpu, cl] { try e.write(p.tensor, values) }
        }
        let input = (0..<cpu.plan.buffer(.input)!.elements).map { _ in uniform() }
        for e in [cpu, cl] {
            try e.write(.input, input)
            if e.plan.bufferOf[.labels] != nil { try e.setLabels([1, 4, 0]) }
            if e.plan.bufferOf[.hyperparameters] != nil { try e.setOptimizer(learningRate: 0.05, momentum: 0.9, weightDecay: 0.0005) }
            try extra?(e)
        }
        var lossCPU: Double?, lossCL: Double?
        for r in 0..<runs {
            lossCPU = try cpu.run(seed: 77 + UInt64(r))
            lossCL = try cl.run(seed: 77 + UInt64(r)) { _, _ in }
        }
        if let a = lossCPU, let b = lossCL { #expect(abs(a - b) <= 1e-4 * max(1, abs(a)), "loss \(a) vs \(b)") }
        var worst = 0.0
        let persistent = cpu.plan.bufferOf.keys.filter { t in
            guard let id = cpu.plan.bufferOf[t], cl.plan.bufferOf[t] != nil, cpu.plan.buffers[id].elementType == .float32 else { return false }
            return cpu.plan.buffers[id].storage != .arena || keep.contains(t)
        }
        for t in persistent where t != .input {
            let a = try cpu.read(t), b = try cl.read(t)
            let scale = Double(a.map { abs($0) }.max() ?? 0)
            let diff = zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
            let relative = scale > 0 ? diff / scale : diff
            worst = max(worst, relative)
            #expect(relative <= 1e-4, "\(t.name(in: derived.graph)): largest difference \(diff) of \(scale)")
        }
        return worst
    }

    @Test func inferenceMatchesTheCPU() throws {
        let g = try graph()
        let keep = Set(g.nodes.indices.map { TensorID.value($0) })
        let worst = try compare(try DerivedGraph.derive(g, training: false), keep: keep)
        #expect(worst <= 1e-4)
    }

    /// Three training steps (forward, loss, backward, SGD, clip) with dropout: weights, momentum and
    /// every gradient agree.
    @Test func threeTrainingStepsMatchTheCPU() throws {
        let g = try graph()
        let keep = Set(g.nodes.indices.map { TensorID.value($0) })
        let derived = try DerivedGraph.derive(g, backward: .training, dropout: true, optimizer: OptimizerSteps(filterRMSClip: 0.3))
        _ = try compare(derived, keep: keep, runs: Int(ProcessInfo.processInfo.environment["RUNS"] ?? "3")!)
    }

    /// A data-parallel rank's share of a batch (images 1..<3 of 4, `imageOffset` 1) draws the
    /// dropout masks the whole batch draws for those images, on both backends, and both backends draw
    /// the same. 3000 values per image: the share starts and ends inside 4096-value blocks.
    @Test func aShareOfTheBatchDrawsTheWholeBatchsDropoutMasks() throws {
        let g = try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: """
            name: drop
            input: {channels: 3000, height: 1, width: 1}
            layers:
              - {name: d, op: dropout, rate: 0.5}

            """, file: "drop.yaml")))
        let derived = try DerivedGraph.derive(g, backward: nil, dropout: true)
        let keep: Set<TensorID> = [.value(0)]
        let input = (0..<(4 * 3000)).map { Float($0 % 97) + 1 }
        var wholes: [[Float]] = []
        for backend: any Backend in [CPUBackend(CPUSettings(threads: 2)), try OpenCLBackend()] {
            let whole = try backend.makeExecutor(backend.plan(derived, batch: 4, keep: keep))
            try whole.write(.input, input)
            try whole.run(seed: 11)
            let all = try whole.read(.value(0))
            wholes.append(all)
            let share = try backend.makeExecutor(backend.plan(derived, batch: 2, keep: keep))
            try share.write(.input, Array(input[3000..<9000]))
            try share.run(seed: 11)
            #expect(try share.read(.value(0)) != Array(all[3000..<9000]), "without the offset the share draws the first images' masks")
            share.imageOffset = 1
            try share.run(seed: 11)
            #expect(try share.read(.value(0)) == Array(all[3000..<9000]), "\(backend.traits.name)")
        }
        #expect(wholes[0] == wholes[1])
    }

    @Test(arguments: [BackwardRule.deconvnet, .guided, .gradient])
    func projectionsMatchTheCPU(_ rule: BackwardRule) throws {
        let g = try graph()
        let from = g.nodes.firstIndex { $0.name == "cat" }!
        let derived = try DerivedGraph.derive(g, backward: .projection(from: from, rule: rule))
        var r = SplitMix64(seed: 4)
        _ = try compare(derived, keep: [.value(from)]) { e in
            let n = e.plan.buffer(.gradient(from))!.elements
            try e.write(.gradient(from), (0..<n).map { _ in Float(Double(r.next() >> 11) * 0x1.0p-53) })
            r = SplitMix64(seed: 4)
        }
    }
}

/// The GEMM kernels (kernels/gemm.cl) in several tiles, with and without the filter gradients'
/// depth split, on layers larger than a tile in every dimension and not a multiple of it: two
/// training steps (forward, both gradients, SGD) against the CPU.
@Suite("OpenCL GEMM tiles", .serialized)
struct OpenCLGemmTileTests {
    static let spec = """
        name: gemm-shapes
        input: {channels: 4, height: 19, width: 17}
        layers:
          - {name: c1, op: conv, filters: 34, kernel: 3, pad: 1, groups: 2}
          - {name: r1, op: relu}
          - {name: c2, op: conv, filters: 70, kernel: 5, stride: 2, pad: 2}
          - {name: r2, op: relu}
          - {name: c3, op: conv, filters: 9, kernel: 3, pad: 1, groups: 1}
          - {name: f1, op: fc, units: 67}
          - {name: r3, op: relu}
          - {name: f2, op: fc, units: 5}
          - {name: prob, op: softmax}

        """

    @Test(arguments: [("32x32x8/4x4", nil), ("64x64x16/4x4", 3), ("128x128x16/8x8", 2), ("16x16x8/2x2", 5), ("32x64x0/8x8", 3), ("16x32x0/4x4", nil)] as [(String, Int?)])
    func trainingStepsMatchTheCPU(_ tiles: String, split: Int?) throws {
        let graph = try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: Self.spec, file: "gemm-shapes.yaml")))
        let derived = try DerivedGraph.derive(graph, backward: .training, optimizer: OptimizerSteps())
        let worst = try OpenCLBackendTests().compare(derived, keep: Set(graph.nodes.indices.map { TensorID.value($0) }), runs: 2,
                                                     options: .init(tiles: GemmTiles(tiles)!, split: split))
        print("GEMM tile \(tiles), split \(split.map(String.init) ?? "auto"): worst difference \(worst) of each tensor's largest value")
    }

    /// The autotuner is a library function: it times each candidate's step (here a CPU executor
    /// stands in for a device's) and reports the median of its timed runs, in candidate order.
    @Test func theTunerTimesEveryCandidateInOrder() throws {
        let graph = try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: Self.spec, file: "every-op.yaml")))
        let derived = try DerivedGraph.derive(graph, training: false)
        let candidates = [GemmTiles("32x32x8/4x4")!, GemmTiles("64x64x16/4x4")!]
        var made: [GemmTiles] = [], reported: [GemmTiles] = []
        let results = try Tuning.time(candidates, iterations: 3, executor: { tiles in
            made.append(tiles)
            let backend = CPUBackend()
            return try backend.makeExecutor(backend.plan(derived, batch: 2))
        }, progress: { tiles, _ in reported.append(tiles) })
        #expect(results.map(\.0) == candidates && made == candidates && reported == candidates)
        #expect(results.allSatisfy { $0.1 >= 0 && $0.1.isFinite })
    }

    @Test func tilesAreWrittenReadAndCheckedAgainstTheDevice() throws {
        let device = try OpenCL.select("opencl")
        let tiles = GemmTiles(tm: 64, tn: 32, tk: 16, wm: 8, wn: 4)
        #expect(tiles.description == "64x32x16/8x4" && GemmTiles("64x32x16/8x4") == tiles && GemmTiles("64x32") == nil)
        #expect(tiles.items == 64 && tiles.localBytes == 4 * 16 * (65 + 33))
        #expect(GemmTiles(tm: 30, tn: 32, tk: 8, wm: 4, wn: 4).problem(on: device)?.contains("multiples") == true)
        var small = device
        small.maxWorkGroupSize = 32
        #expect(tiles.problem(on: small) == "tile 64x32x16/8x4 needs work-groups of 64 items; \(device.name) allows 32")
        small.maxWorkGroupSize = 1024
        small.localMemory = 4096
        #expect(tiles.problem(on: small)?.contains("local memory") == true)
        #expect(Tuning.table(for: small).problem(on: small) == nil)
        for t in Tuning.candidates(for: small) { #expect(t.problem(on: small) == nil) }
        // Stored per device and driver, beside the program cache; other devices' entries are kept.
        let file = NSTemporaryDirectory() + "strata-tuning-\(UUID().uuidString)/tuning.json"
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        #expect(Tuning.stored(for: device, file: file) == nil)
        var other = device
        other.name = "another device"
        try Tuning.store(GemmTiles("32x32x8/4x4")!, for: other, file: file)
        try Tuning.store(tiles, for: device, file: file)
        #expect(Tuning.stored(for: device, file: file) == tiles)
        #expect(Tuning.stored(for: other, file: file) == GemmTiles("32x32x8/4x4"))
        other.driver = "a newer driver"
        #expect(Tuning.stored(for: other, file: file) == nil)
        // A tuning file that is not one is refused, never overwritten with this device's entry alone.
        let damaged = Data("{\"another device | x\": {\"tm\": 64, \"tn\": 64}".utf8)
        try damaged.write(to: URL(fileURLWithPath: file))
        #expect(throws: OpenCLError.self) { try Tuning.store(tiles, for: device, file: file) }
        #expect(FileManager.default.contents(atPath: file) == damaged)
        #expect(throws: OpenCLError.self) { try OpenCLBackend(options: .init(tiles: GemmTiles(tm: 4096, tn: 4096, tk: 16, wm: 1, wn: 1))) }
    }

    /// tuning.json as Foundation's JSONEncoder wrote it (" : ", keys sorted, a number per line)
    /// still reads; a store keeps its entry and writes one device per line, keys sorted.
    @Test func tuningFilesOfEarlierVersionsReadAndStoreWritesTheSameShape() throws {
        let device = try OpenCL.select("opencl")
        let folder = NSTemporaryDirectory() + "strata-tuning-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/tuning.json"
        let old = "{\n  \"An old \\/ device | gpu | 1.0\" : {\n    \"tk\" : 0,\n    \"tm\" : 32,\n    \"tn\" : 64,\n    \"wm\" : 8,\n    \"wn\" : 8\n  }\n}"
        try Data(old.utf8).write(to: URL(fileURLWithPath: file))
        #expect(try Tuning.read(file) == ["An old / device | gpu | 1.0": GemmTiles("32x64x0/8x8")!])
        try Tuning.store(GemmTiles("32x32x8/4x4")!, for: device, file: file)
        let lines = [("An old / device | gpu | 1.0", "{\"tm\": 32, \"tn\": 64, \"tk\": 0, \"wm\": 8, \"wn\": 8}"),
                     (Tuning.key(device), "{\"tm\": 32, \"tn\": 32, \"tk\": 8, \"wm\": 4, \"wn\": 4}")].sorted { $0.0 < $1.0 }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "{\n" + lines.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n")
        #expect(Tuning.stored(for: device, file: file) == GemmTiles("32x32x8/4x4"))
        // A damaged entry is refused with the file, the entry and the key.
        try Data(#"{"GPU | 1": {"tm": "x", "tn": 64, "tk": 0, "wm": 8, "wn": 8}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: OpenCLError.self) { try Tuning.read(file) }
        #expect(error?.detail.hasPrefix(file + #": in 'GPU | 1', 'tm' is not a whole number (it is "x")"#) == true, "\(error?.detail ?? "")")
        try Data(#"{"GPU | 1": {"tm": 32}}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect((#expect(throws: OpenCLError.self) { try Tuning.read(file) })?.detail.hasPrefix(file + ": 'GPU | 1' lacks 'tn'") == true)
    }
}

/// The paper networks at batch 2: the loss and every parameter gradient on OpenCL equal the CPU's,
/// value by value (relative to each tensor's largest). The weights are chosen so that few ReLU
/// inputs sit at 0 and few max-pool windows hold near-ties: weights uniform in ±0.02 with biases in
/// ±0.1 (AlexNet) or 0 (ZFNet). Under the specs' own initialisation (std 0.01, AlexNet's biases of 1)
/// the early layers' gradients are ill-conditioned: there even the CPU backend's two GEMM paths
/// (Strata's and OpenBLAS) differ by 0.9% in conv1's weight gradient (measured with `strata grad`),
/// so such a comparison tests rounding, not kernels.
@Suite("Paper networks on OpenCL", .serialized)
struct OpenCLPaperNetworkTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    @Test(arguments: [("alexnet", Float(0.1)), ("zfnet", Float(0))])
    func lossAndGradientsMatchTheCPU(_ name: String, biasRange: Float) throws {
        let spec = try SpecLoader().load(path: Self.root + "/networks/\(name).yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        let derived = try DerivedGraph.derive(graph, training: true, dropout: false)
        let cpuBackend = CPUBackend(CPUSettings(threads: 2)), clBackend = try OpenCLBackend()
        let cpu = try cpuBackend.makeExecutor(cpuBackend.plan(derived, batch: 2))
        let cl = try clBackend.makeExecutor(clBackend.plan(derived, batch: 2))
        var g = SplitMix64(seed: 21)
        func uniform() -> Float { Float(Double(g.next() >> 11) * 0x1.0p-53 * 2 - 1) }
        for p in cpu.plan.parameters {
            let values = (0..<p.elementCount).map { _ in uniform() * (p.parameter == "bias" ? biasRange : 0.02) }
            for e in [cpu, cl] { try e.write(p.tensor, values) }
        }
        let input = (0..<cpu.plan.buffer(.input)!.elements).map { _ in uniform() }
        for e in [cpu, cl] {
            try e.write(.input, input)
            try e.setLabels([3, 997])
        }
        let a = try cpu.run(seed: 1)!, b = try cl.run(seed: 1) { _, _ in }!
        #expect(abs(a - b) <= 1e-4 * max(1, abs(a)), "\(name): loss \(a) vs \(b)")
        var worst = 0.0
        for p in cpu.plan.parameters {
            let x = try cpu.read(.parameterGradient(p.node, p.parameter)), y = try cl.read(.parameterGradient(p.node, p.parameter))
            let scale = Double(x.map { abs($0) }.max() ?? 0)
            let diff = Double(zip(x, y).map { abs($0 - $1) }.max() ?? 0)
            worst = max(worst, scale > 0 ? diff / scale : diff)
            #expect(diff <= 1e-4 * max(scale, 1e-12), "\(name) d.\(p.name): largest difference \(diff) of \(scale)")
        }
        print("\(name) on OpenCL: loss \(b) (CPU \(a)); worst gradient difference \(worst) of each tensor's largest value")
    }
}
