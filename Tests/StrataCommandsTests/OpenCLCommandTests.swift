import Foundation
import StrataFormats
import Testing

/// The commands on `--device opencl` (PoCL here and in CI) give the CPU's results: one executor
/// interface, no second copy of a command per device.
@Suite("commands on OpenCL", .serialized)
struct OpenCLCommandTests {
    @Test func featuresGradAndTrainingAgreeWithTheCPU() throws {
        let d = NSTemporaryDirectory() + "strata-opencl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors", "--seed", "3").status == 0)
        for device in ["cpu", "opencl"] {
            let f = strata("features", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/data/val_images.npy", "--layers", "r1,f1",
                           "--out", d + "/f-" + device, "--device", device)
            #expect(f.status == 0, "\(f.errors)")
            let g = strata("grad", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--input", d + "/data/val_images.npy", "--labels", d + "/data/val_labels.npy",
                           "--out", d + "/g-\(device).safetensors", "--device", device)
            #expect(g.status == 0, "\(g.errors)")
            let t = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run-" + device, "--epochs", "2", "--seed", "5", "--device", device)
            #expect(t.status == 0, "\(t.errors)")
        }
        func close(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-4) {
            let scale = max(a.map(abs).max() ?? 0, 1e-12)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(a.count == b.count && worst <= tolerance * scale, "\(what): largest difference \(worst) of \(scale)")
        }
        for layer in ["r1", "f1"] {
            close(try NumpyArray.readFloats(path: d + "/f-cpu/\(layer).npy").values, try NumpyArray.readFloats(path: d + "/f-opencl/\(layer).npy").values, layer)
        }
        let gc = try Safetensors.read(path: d + "/g-cpu.safetensors"), go = try Safetensors.read(path: d + "/g-opencl.safetensors")
        for name in gc.order { close(gc.tensors[name]!.values, go.tensors[name]!.values, "gradient of \(name)") }
        // Two epochs of SGD with dropout from the same seed: the same weights to float32 rounding.
        let wc = try Safetensors.read(path: d + "/run-cpu/checkpoints/latest.safetensors"), wo = try Safetensors.read(path: d + "/run-opencl/checkpoints/latest.safetensors")
        for name in wc.order where !name.hasPrefix("data/") { close(wc.tensors[name]!.values, wo.tensors[name]!.values, "trained \(name)", tolerance: 1e-3) }
    }

    /// deconv --sanity on OpenCL: the same projections as the CPU to float32 rounding (1e-4 of the
    /// largest magnitude) and the same measures within 1e-3 (a rank can swap between two values
    /// that differ by rounding).
    @Test func sanityAgreesWithTheCPU() throws {
        let d = NSTemporaryDirectory() + "strata-opencl-sanity-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 32)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors", "--seed", "3").status == 0)
        for device in ["cpu", "opencl"] {
            let s = strata("deconv", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--limit", "16", "--layer", "c1",
                           "--maps", "0,2", "--top", "4", "--sanity", "--seed", "5", "--out", d + "/s-" + device, "--device", device)
            #expect(s.status == 0, "\(s.errors)")
        }
        let pc = try NumpyArray.readFloats(path: d + "/s-cpu/sanity-projections.npy").values
        let po = try NumpyArray.readFloats(path: d + "/s-opencl/sanity-projections.npy").values
        let scale = max(pc.map(abs).max() ?? 0, 1e-12)
        #expect(pc.count == po.count && zip(pc, po).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        let rc = try String(contentsOfFile: d + "/s-cpu/sanity.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let ro = try String(contentsOfFile: d + "/s-opencl/sanity.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rc.count == ro.count && rc.count == 3 * 3 * 8)
        for (a, b) in zip(rc, ro) {
            let (x, y) = (a.split(separator: ","), b.split(separator: ","))
            #expect(x.prefix(5) == y.prefix(5), "\(a) / \(b)")
            for k in 5...6 { #expect(abs(Double(x[k])! - Double(y[k])!) <= 1e-3, "\(a) / \(b)") }
        }
    }

    /// Incremental occlusion on OpenCL: the same maps as the full path on OpenCL and as the CPU's,
    /// to float32 rounding (1e-5 of probabilities in [0, 1]; the activations to 1e-4 relative).
    @Test func incrementalOcclusionAgreesWithTheFullPathAndTheCPU() throws {
        let d = NSTemporaryDirectory() + "strata-opencl-incremental-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 16)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors", "--seed", "3").status == 0)
        var maps: [String: ([Float], [Float])] = [:]
        for (device, path) in [("opencl", "--incremental"), ("opencl", "--full"), ("cpu", "--incremental")] {
            let out = "\(d)/\(device)\(path)"
            let run = strata("occlude", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--limit", "4",
                             "--patch", "2", "--stride", "1", "--show", "0", path, "--device", device, "--out", out)
            #expect(run.status == 0 && run.output.contains(path == "--full" ? "full" : "incremental"), "\(run.errors)")
            maps[out] = (try NumpyArray.readFloats(path: out + "/probability.npy").values, try NumpyArray.readFloats(path: out + "/activation.npy").values)
        }
        let reference = maps["\(d)/opencl--full"]!
        for (name, (p, a)) in maps {
            #expect(p.count == reference.0.count && zip(p, reference.0).allSatisfy { abs($0 - $1) < 1e-5 }, "\(name): p(true class)")
            #expect(zip(a, reference.1).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) }, "\(name): the tracked map's total")
        }
        // The approximate path: τ = 1 without a drill-down is exact; τ = 0.5 is the same
        // approximation on OpenCL as on the CPU.
        func approximate(_ device: String, _ tau: String) throws -> [Float] {
            let out = "\(d)/\(device)-approximate-\(tau)"
            let run = strata("occlude", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--limit", "4",
                             "--patch", "2", "--stride", "1", "--show", "0", "--approximate", tau, "--drill-step", "1", "--device", device, "--out", out)
            #expect(run.status == 0 && run.output.contains("measured on 1 image against the exact maps"), "\(run.errors)")
            return try NumpyArray.readFloats(path: out + "/probability.npy").values
        }
        #expect(zip(try approximate("opencl", "1"), reference.0).allSatisfy { abs($0 - $1) < 1e-5 })
        let (gpu, cpu) = (try approximate("opencl", "0.5"), try approximate("cpu", "0.5"))
        #expect(gpu.count == cpu.count && zip(gpu, cpu).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(cpu, reference.0).contains { abs($0 - $1) > 1e-4 }, "τ = 0.5 leaves some of the occluder's effect out")
    }

    /// strata robustness on OpenCL: the same table as on the CPU, the proportions to one image in
    /// the 32 (a top-1 tie decided by float32 rounding) and the distances to 1e-3 relative.
    @Test func robustnessAgreesWithTheCPU() throws {
        let d = NSTemporaryDirectory() + "strata-opencl-robustness-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors", "--seed", "3").status == 0)
        var tables: [[[Substring]]] = []
        for device in ["cpu", "opencl"] {
            let run = strata("robustness", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--limit", "32",
                             "--k", "2", "--out", d + "/r-" + device, "--device", device)
            #expect(run.status == 0, "\(run.errors)")
            // The value column counted from the end (a setting may hold commas).
            tables.append(try String(contentsOfFile: d + "/r-\(device)/robustness.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") })
        }
        #expect(tables[0].count == tables[1].count && !tables[0].isEmpty)
        for (a, b) in zip(tables[0], tables[1]) {
            let (x, y) = (Double(a[a.count - 4])!, Double(b[b.count - 4])!)
            let tolerance = a[0] == "shift_feature_distance" ? 1e-3 * max(abs(x), 1e-6) : 1.0 / 32 + 1e-12
            #expect(a[0] == b[0] && abs(x - y) <= tolerance, "\(a.joined(separator: ",")) vs \(b.joined(separator: ","))")
        }
    }
}

import StrataIR
import StrataOpenCL
import StrataSpec
import StrataTrain

@Suite("compile for OpenCL")
struct OpenCLCompileTests {
    @Test func thePlanShowsEachLaunchAndEmitsTheSpecialisedSources() {
        let spec = packageRoot + "/networks/zfnet-mini.yaml"
        let plan = strata("compile", spec, "--stop-after", "plan", "--device", "opencl", "--batch", "4")
        #expect(plan.status == 0, "\(plan.errors)")
        #expect(plan.output.contains("opencl launches on "))
        // conv1: a GEMM of 32 filters × 4·28·28 columns in the device's tile (it may be tuned, so it is read back).
        let line = plan.output.split(separator: "\n").first { $0.contains("0 conv_forward (kernels/conv.cl) global ") }
        #expect(line != nil, "\(plan.output.suffix(2000))")
        if let line, let tiles = GemmTiles(line.components(separatedBy: "-D TM=")[1].split(separator: " ")[0] + "x"
                                           + line.components(separatedBy: "-D TN=")[1].split(separator: " ")[0] + "x16/"
                                           + line.components(separatedBy: "-D WM=")[1].split(separator: " ")[0] + "x"
                                           + line.components(separatedBy: "-D WN=")[1].split(separator: " ")[0]) {
            let across = tiles.tn / tiles.wn, down = tiles.tm / tiles.wm
            #expect(line.contains("global \((3136 + tiles.tn - 1) / tiles.tn * across)×\((32 + tiles.tm - 1) / tiles.tm * down)×1 local \(across)×\(down)×1  -D C=1 -D H=28 -D W=28 -D F=32"), "\(line)")
        }
        let sources = strata("compile", spec, "--stop-after", "plan", "--device", "opencl", "--batch", "4", "--emit", "opencl")
        #expect(sources.status == 0 && sources.output.contains("#define KH 5\n") && sources.output.contains("#line 1 \"kernels/gemm.cl\""), "\(sources.errors)")
        #expect(strata("compile", spec, "--emit", "opencl").status == 2)
    }

    /// `strata tune` times each tile it is given and names the fastest; a tile the device cannot run is refused.
    @Test func tuneTimesTheTilesAndNamesTheFastest() throws {
        let d = NSTemporaryDirectory() + "strata-tune-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        let r = strata("tune", d + "/tiny.yaml", "--tiles", "32x32x8/4x4,16x16x8/2x2", "--batch", "4", "--iterations", "1", "--dry-run", "--json")
        #expect(r.status == 0, "\(r.errors)")
        let json = try JSONValue.parse(Array(r.output.utf8))
        guard case .array(let rows) = json["candidates"] else { Issue.record("no candidates: \(r.output)"); return }
        #expect(rows.map { $0["tiles"]?.text } == ["32x32x8/4x4", "16x16x8/2x2"])
        #expect(rows.allSatisfy { if case .number(let ms) = $0["ms"] { Double(ms)! > 0 } else { false } })
        #expect(["32x32x8/4x4", "16x16x8/2x2"].contains(json["best"]?.text ?? ""))
        #expect(json["stored"] == .null)
        let bad = strata("tune", d + "/tiny.yaml", "--tiles", "4096x4096x16/1x1", "--dry-run")
        #expect(bad.status == 1 && bad.errors.contains("work-groups of"), "\(bad.errors)")
        #expect(strata("tune", d + "/tiny.yaml", "--tiles", "64x64").status == 2)
        #expect(strata("tune", d + "/tiny.yaml", "--device", "cpu").status == 2)
    }
}

@Suite("training on OpenCL", .serialized)
struct OpenCLTrainingTests {
    /// zfnet-mini learns Fashion-MNIST on OpenCL as on the CPU: one epoch on the first 10,000
    /// training images from the same seed, then the test error on all 10,000 test images (evaluated
    /// on the CPU, so only the training differs) within two points. The two runs are not the same run:
    /// float32 rounding differs from the first step on, and 312 SGD steps amplify it: the CPU alone
    /// moved from 25.75% to 26.62% when its GEMM changed only the order of its K-block sums (OpenCL:
    /// 25.06%). A wrong gradient or update on either side costs far more, or does not learn (< 35%).
    @Test func zfnetMiniLearnsFashionMNISTAsOnTheCPU() throws {
        let d = NSTemporaryDirectory() + "strata-opencl-fashion-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: d) }
        guard let fashion = try fashionMNISTSlice(count: 10_000, in: d + "/slice") else { return }
        let spec = packageRoot + "/networks/zfnet-mini.yaml"
        var errors: [String: Double] = [:]
        for device in ["cpu", "opencl"] {
            let t = strata("train", spec, "--data", d + "/slice", "--out", d + "/run-" + device, "--epochs", "1", "--seed", "3", "--device", device)
            #expect(t.status == 0, "\(t.errors)")
            let e = strata("eval", spec, "--weights", d + "/run-\(device)/checkpoints/latest.safetensors", "--data", fashion, "--json", "--batch", "500")
            #expect(e.status == 0, "\(e.errors)")
            guard case .number(let error) = try JSONValue.parse(Array(e.output.utf8))["top1_error"] else { Issue.record("no top1_error: \(e.output)"); return }
            errors[device] = Double(error)!
        }
        print("zfnet-mini, one epoch on 10,000 Fashion-MNIST images: test top-1 error \(errors["cpu"]!) (CPU), \(errors["opencl"]!) (OpenCL)")
        #expect(errors["cpu"]! < 0.35, "the CPU run did not learn: \(errors["cpu"]!)")
        #expect(abs(errors["cpu"]! - errors["opencl"]!) <= 0.02, "test error \(errors["cpu"]!) on the CPU, \(errors["opencl"]!) on OpenCL")
    }

    /// A run stopped after 5 and then 7 more steps (checkpoints every step) and resumed ends with the
    /// weights of an uninterrupted run, bit for bit, on the same OpenCL device.
    @Test func aStoppedRunResumesBitIdenticallyOnOpenCL() throws {
        let spec = try SpecLoader().load(text: TrainCommandTests.spec, file: "tiny.yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        let base = NSTemporaryDirectory() + "strata-opencl-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try TrainCommandTests.makeData(base + "/data", count: 64)
        let data = try DataLoader.open(base + "/data", channels: 1, side: 6)
        let backend = try OpenCLBackend()
        var g = SplitMix64(seed: 2)
        let initial = Safetensors.File(tensors: graph.namedParameters().map { p in
            (p.name, Safetensors.Tensor(shape: p.dims, values: (0..<p.elementCount).map { _ in Float(Double(g.next() >> 11) * 0x1.0p-53 - 0.5) * 0.6 }))
        })
        try Trainer(graph: graph, spec: spec, data: data, run: base + "/whole", options: .init(epochs: 3, batch: 8), backend: backend).train(initialWeights: initial)
        var options = Trainer.Options(epochs: 3, batch: 8)
        options.checkpointSteps = 1
        options.stopAfterSteps = 5
        try Trainer(graph: graph, spec: spec, data: data, run: base + "/parts", options: options, backend: backend).train(initialWeights: initial)
        options.resume = true
        options.stopAfterSteps = 7
        try Trainer(graph: graph, spec: spec, data: data, run: base + "/parts", options: options, backend: backend).train(initialWeights: initial)
        options.stopAfterSteps = nil
        try Trainer(graph: graph, spec: spec, data: data, run: base + "/parts", options: options, backend: backend).train(initialWeights: initial)
        let a = try Safetensors.read(path: base + "/whole/checkpoints/latest.safetensors"), b = try Safetensors.read(path: base + "/parts/checkpoints/latest.safetensors")
        for name in a.order where !name.hasPrefix("data/") { #expect(a.tensors[name] == b.tensors[name], "\(name)") }
    }
}
