import Foundation
import StrataFormats
import StrataCPU
import Testing

@Suite("strata init, features, grad, bench")
struct RunCommandTests {
    let mini = packageRoot + "/networks/zfnet-mini.yaml"

    func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "strata-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// `init` is deterministic in the seed and follows the spec's `training.init`: AlexNet's rule
    /// (biases 1 in conv2, conv4, conv5, fc6, fc7; weights N(0, 0.01²)) on alexnet-mini, which has
    /// the same rule at a size a debug build draws in well under a second.
    @Test func initFollowsTheSpecAndTheSeed() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let spec = packageRoot + "/networks/alexnet-mini.yaml"
        #expect(strata("init", spec, "--out", d + "/a.safetensors", "--seed", "1").status == 0)
        #expect(strata("init", spec, "--out", d + "/b.safetensors", "--seed", "1").status == 0)
        #expect(strata("init", spec, "--out", d + "/c.safetensors", "--seed", "2").status == 0)
        let a = try Data(contentsOf: URL(fileURLWithPath: d + "/a.safetensors"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: d + "/b.safetensors"))))
        #expect(a != (try Data(contentsOf: URL(fileURLWithPath: d + "/c.safetensors"))))
        let w = try Safetensors.read(path: d + "/a.safetensors")
        #expect(w.order.first == "conv1.weight" && w.order.count == 16)
        #expect(w.tensors["conv1.weight"]?.shape == [32, 1, 5, 5])
        #expect(w.tensors["conv2.weight"]?.shape == [64, 16, 5, 5])
        for (name, bias) in [("conv1", 0), ("conv2", 1), ("conv3", 0), ("conv4", 1), ("conv5", 1), ("fc6", 1), ("fc7", 1), ("fc8", 0)] {
            #expect(w.tensors["\(name).bias"]?.values.allSatisfy { $0 == Float(bias) } == true, "\(name).bias")
        }
        let values = w.tensors["fc6.weight"]!.values.map(Double.init)
        #expect(values.count > 100_000)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        // 10⁵ draws: the sample mean's standard error is 3e-5 and the std's 2e-5; 1e-4 is over 3 of them.
        #expect(abs(mean) < 1e-4 && abs(std - 0.01) < 1e-4)
    }

    @Test func weightsThatDoNotFitNameTheLayerAndBothShapes() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("init", mini, "--out", d + "/w.safetensors").status == 0)
        try NumpyArray.write(.init(shape: [1, 1, 28, 28], values: .init(repeating: 0.5, count: 784)), path: d + "/x.npy")
        let run = strata("features", packageRoot + "/networks/alexnet-mini.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/x.npy",
                         "--layers", "fc8", "--out", d + "/f")
        #expect(run.status == 1)
        #expect(run.errors.contains("does not fit 'alexnet-mini'"))
        #expect(run.errors.contains("'conv2.weight' is (64, 32, 5, 5) but the spec needs (64, 16, 5, 5)"))
        #expect(run.errors.contains("make weights for this spec with 'strata init'"))
    }

    @Test func badInputsAreErrorsNotCrashes() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("init", mini, "--out", d + "/w.safetensors").status == 0)
        try NumpyArray.write(.init(shape: [2, 3, 28, 28], values: .init(repeating: 0, count: 2 * 3 * 784)), path: d + "/rgb.npy")
        try NumpyArray.write(.init(shape: [2, 1, 28, 28], values: .init(repeating: 0, count: 2 * 784)), path: d + "/x.npy")
        try writeInt64Npy([1, 10], path: d + "/y.npy")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: d + "/w.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: d + "/cut.safetensors"))
        let cases: [([String], String)] = [
            (["features", mini, "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/rgb.npy", "--layers", "fc8", "--out", d + "/f"],
             "the array is (2, 3, 28, 28) but 'zfnet-mini' takes (N, 1, 28, 28) float32 images"),
            (["features", mini, "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/x.npy", "--layers", "fc9", "--out", d + "/f"],
             "'zfnet-mini' has no layer 'fc9'; did you mean 'fc"),
            (["features", mini, "--weights", d + "/cut.safetensors", "--input", d + "/x.npy", "--layers", "fc8", "--out", d + "/f"],
             "the file is truncated or corrupt"),
            (["features", mini, "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/missing.npy", "--layers", "fc8", "--out", d + "/f"],
             "missing.npy: cannot read it: No such file or directory"),
            (["grad", mini, "--weights", d + "/w.safetensors", "--input", d + "/x.npy", "--labels", d + "/y.npy", "--out", d + "/g.safetensors"],
             "label 10 (image 1) is outside 0..<10"),
            (["grad", packageRoot + "/networks/variants/../zfnet-mini.yaml", "--weights", d + "/w.safetensors", "--input", d + "/x.npy",
              "--labels", d + "/x.npy", "--out", d + "/g.safetensors"],
             "1568 labels of shape (2, 1, 28, 28) for 2 images"),
        ]
        for (arguments, expected) in cases {
            let run = strata(arguments)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.errors.contains(expected), "\(arguments): \(run.errors)")
        }
        // A device this build lacks is a usage error (2) that lists the ones it has.
        let device = strata("features", mini, "--weights", d + "/w.safetensors", "--input", d + "/x.npy", "--layers", "fc8", "--out", d + "/f", "--device", "gpu")
        #expect(device.status == 2)
        #expect(device.errors.contains("The value 'gpu' is invalid for '--device <device>'. Please provide one of 'cpu', 'opencl' or 'opencl:P:D'."), "\(device.errors)")
        // An OpenCL device the machine lacks is an error naming the devices it has.
        let missing = strata("features", mini, "--weights", d + "/w.safetensors", "--input", d + "/x.npy", "--layers", "fc8", "--out", d + "/f", "--device", "opencl:9:9")
        #expect(missing.status == 1 && missing.errors.contains("there is no device opencl:9:9; the devices are"), "\(missing.errors)")
    }

    @Test func featuresWritesOneArrayPerLayer() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("init", mini, "--out", d + "/w.safetensors").status == 0)
        var generator = SplitMix64(seed: 1)
        let values = (0..<(5 * 784)).map { _ in Float(generator.next() % 256) / 255 }
        try NumpyArray.write(.init(shape: [5, 1, 28, 28], values: values), path: d + "/x.npy")
        let run = strata("features", mini, "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/x.npy", "--layers", "conv1,pool5,fc8,prob",
                         "--out", d + "/f", "--batch", "2")
        #expect(run.status == 0, "\(run.errors)")
        #expect(try NumpyArray.readFloats(path: d + "/f/conv1.npy").shape == [5, 32, 28, 28])
        #expect(try NumpyArray.readFloats(path: d + "/f/pool5.npy").shape == [5, 64, 2, 2])
        let prob = try NumpyArray.readFloats(path: d + "/f/prob.npy")
        #expect(prob.shape == [5, 10])
        for n in 0..<5 { #expect(abs(prob.values[(n * 10)..<(n * 10 + 10)].reduce(0, +) - 1) < 1e-5) }
        // conv1 is kept before its ReLU: some values are negative.
        #expect(try NumpyArray.readFloats(path: d + "/f/conv1.npy").values.contains { $0 < 0 })
        // Batching does not change the result.
        #expect(strata("features", mini, "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/x.npy", "--layers", "prob", "--out", d + "/g", "--batch", "5").status == 0)
        // (Different batch sizes tile the GEMMs differently, so float32 rounding may differ slightly.)
        let rebatched = try NumpyArray.readFloats(path: d + "/g/prob.npy")
        #expect(rebatched.shape == prob.shape && zip(rebatched.values, prob.values).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func featuresReadsAFolderOfImages() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let cifar = packageRoot + "/networks/zfnet-mini-cifar.yaml"
        #expect(strata("init", cifar, "--out", d + "/w.safetensors").status == 0)
        let fixtures = packageRoot + "/Tests/StrataFormatsTests/Fixtures"
        let run = strata("features", cifar, "--weights", d + "/w.safetensors", "--mean", "none", "--input", fixtures, "--layers", "conv1,prob", "--out", d + "/f")
        #expect(run.status == 0, "\(run.errors)")
        #expect(try NumpyArray.readFloats(path: d + "/f/prob.npy").shape == [3, 10])
        #expect(try NumpyArray.readFloats(path: d + "/f/conv1.npy").shape == [3, 32, 32, 32])
        let listed = try String(contentsOfFile: d + "/f/images.txt", encoding: .utf8).split(separator: "\n").map { ($0 as NSString).lastPathComponent }
        #expect(listed == ["gradient.jpg", "gradient.png", "grey.jpg"])
        let one = strata("features", cifar, "--weights", d + "/w.safetensors", "--mean", "none", "--input", fixtures + "/gradient.png", "--layers", "prob", "--out", d + "/g")
        #expect(one.status == 0)
        let all = try NumpyArray.readFloats(path: d + "/f/prob.npy").values, single = try NumpyArray.readFloats(path: d + "/g/prob.npy").values
        #expect(zip(Array(all[10..<20]), single).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func compilePrintsTheTrainingGraphAndThePlan() throws {
        let grad = strata("compile", mini, "--training", "--stop-after", "grad")
        #expect(grad.status == 0)
        try expectGolden(grad.output, "zfnet-mini.grad.txt")
        let plan = strata("compile", mini, "--training", "--stop-after", "plan", "--batch", "128", "--device", "cpu", "--threads", "2")
        #expect(plan.status == 0)
        try expectGolden(plan.output, "zfnet-mini.plan.txt")
        // The printed training plan is the one train runs: the optimizer's steps included.
        #expect(plan.output.contains("sgd_update fc8") && grad.output.contains("sgd_update(%fc8.weight"))
        let inference = strata("compile", mini, "--stop-after", "plan")
        #expect(!inference.output.contains("dropout") && !inference.output.contains("backward"))
        let noSoftmax = try scratch()
        defer { try? FileManager.default.removeItem(atPath: noSoftmax) }
        try "name: x\ninput: {channels: 1, height: 2, width: 2}\nlayers:\n  - {name: f, op: fc, units: 2}\n".write(toFile: noSoftmax + "/x.yaml", atomically: true, encoding: .utf8)
        let refused = strata("compile", noSoftmax + "/x.yaml", "--training", "--stop-after", "grad")
        #expect(refused.status == 1)
        #expect(refused.errors.contains("x.yaml:4:19: error: training needs the network to end in a 'softmax' layer"))
    }

    @Test func anAbsurdBatchIsAnErrorNotAnOutOfMemoryKill() {
        let run = strata("bench", packageRoot + "/networks/alexnet.yaml", "--batch", "1000000", "--iterations", "1")
        #expect(run.status == 1)
        #expect(run.errors.contains("at batch 1000000 needs") && run.errors.contains("use a smaller batch"))
    }

    @Test func benchReportsLayersAndThroughput() throws {
        let run = strata("bench", mini, "--batch", "4", "--iterations", "2", "--training", "--json")
        #expect(run.status == 0, "\(run.errors)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect((object["images_per_s"] as? Double ?? 0) > 0)
        #expect((object["layers"] as? [[String: Any]])?.count == 23)
        #expect(object["batch"] as? Int == 4 && object["training"] as? Bool == true)
        #expect(object["gemm"] as? String == GEMMPath.default.family)
        #expect(object["isa"] as? String == GEMMPath.default.isa)
        let forced = try strataProcess(["bench", mini, "--batch", "2", "--iterations", "1", "--json"], environment: ["STRATA_GEMM": "openblas"])
        #expect(forced.status == 0, "\(forced.errors)")
        #expect(forced.output.contains("\"gemm\": \"openblas\""))
        let table = strata("bench", mini, "--batch", "4", "--iterations", "1")
        #expect(table.output.contains("images/s"))
    }

    /// STRATA_ISA picks the instruction set of Strata's GEMM, which bench reports; a name it does not
    /// know, or one this CPU lacks, is refused with what the CPU has.
    @Test func strataISAPicksThePathAndRefusesOneTheCPULacks() throws {
        let generic = try strataProcess(["bench", mini, "--batch", "2", "--iterations", "1", "--json"], environment: ["STRATA_ISA": "generic"])
        #expect(generic.status == 0, "\(generic.errors)")
        #expect(generic.output.contains("\"isa\": \"generic\"") && generic.output.contains("\"gemm\": \"strata\""))
        let has = GEMMPath.supported.compactMap(\.isa).joined(separator: ", ")
        let bogus = try strataProcess(["check", mini], environment: ["STRATA_ISA": "sse9"])
        #expect(bogus.status == 2 && bogus.errors.contains("STRATA_ISA=sse9: expected avx512, avx2 or generic (this CPU runs \(has))"), "\(bogus.errors)")
        if let missing = GEMMPath.allCases.first(where: { !$0.isSupported }) {
            let refused = try strataProcess(["check", mini], environment: ["STRATA_ISA": missing.rawValue])
            #expect(refused.status == 2 && refused.errors.contains("this CPU does not have \(missing.rawValue); it runs \(has)"), "\(refused.errors)")
        }
    }
}
