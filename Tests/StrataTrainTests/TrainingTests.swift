import Foundation
import StrataCPU
import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
@testable import StrataTrain
import Testing

/// A small learnable problem: 2 classes of 1×6×6 images, a bright square on the left or the right.
func squares(_ count: Int, seed: UInt64) -> ArrayImages {
    var g = SplitMix64(seed: seed)
    var values: [Float] = [], labels: [Int] = []
    for _ in 0..<count {
        let label = Int(g.next() % 2)
        for y in 0..<6 { for x in 0..<6 {
            let inside = (1...4).contains(y) && (label == 0 ? (0...2).contains(x) : (3...5).contains(x))
            values.append((inside ? 0.8 : 0.1) + Float(Double(g.next() >> 11) * 0x1.0p-53 * 0.2))
        } }
        labels.append(label)
    }
    return ArrayImages(count: count, shape: (1, 6, 6), classes: 2, values: values, labels: labels)
}

let tinySpec = """
    name: tiny
    input: {channels: 1, height: 6, width: 6}
    layers:
      - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1}
      - {name: r1, op: relu}
      - {name: p1, op: maxpool, kernel: 2}
      - {name: d1, op: dropout, rate: 0.2}
      - {name: f1, op: fc, units: 2}
      - {name: prob, op: softmax}
    training:
      batch: 8
      epochs: 3
      optimizer: {type: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.0005}
      init: {std: 0.3, bias: 0}

    """

func compileTiny(_ text: String = tinySpec) throws -> (Graph, NetworkSpec) {
    let spec = try SpecLoader().load(text: text, file: "tiny.yaml")
    return (try ShapeInference.infer(GraphBuilder.build(spec)), spec)
}

func scratch() throws -> String {
    let d = NSTemporaryDirectory() + "strata-train-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func initialWeights(_ graph: Graph, seed: UInt64 = 1) -> Safetensors.File {
    var tensors: [(String, Safetensors.Tensor)] = []
    var g = SplitMix64(seed: seed)
    for node in graph.nodes {
        for p in node.layer.definition.parameters(inputs: node.inputs.compactMap { graph.shape(of: $0) }) {
            tensors.append(("\(node.name).\(p.name)", .init(shape: p.dims, values: (0..<p.elementCount).map { _ in Float(Double(g.next() >> 11) * 0x1.0p-53 - 0.5) * 0.6 })))
        }
    }
    return Safetensors.File(tensors: tensors)
}

@Suite("Training")
struct TrainingTests {
    @Test func overfitsAFixedBatch() throws {
        let (graph, spec) = try compileTiny(tinySpec.replacingOccurrences(of: "rate: 0.2", with: "rate: 0"))
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var options = Trainer.Options(epochs: 150, batch: 8)
        options.seed = 3
        let data = DataSplits(train: squares(8, seed: 1), validation: nil, description: "squares")
        let results = try Trainer(graph: graph, spec: spec, data: data, run: d, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(results.count == 150)
        #expect(results.first!.loss > 0.3)
        #expect(results.last!.loss < 0.01, "final loss \(results.last!.loss)")
        #expect(results.last!.trainError == 0)
    }

    @Test func learnsAndValidates() throws {
        let (graph, spec) = try compileTiny()
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(256, seed: 1), validation: squares(64, seed: 2), description: "squares")
        let results = try Trainer(graph: graph, spec: spec, data: data, run: d, options: .init(epochs: 3, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(results.last!.validationTop1! < 0.05)
        #expect(results.last!.validationTop5 == nil)   // 2 classes: top-5 measures nothing, so it is not reported
        let csv = try String(contentsOfFile: d + "/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "epoch,step,lr,loss,train_top1_error,val_top1_error,val_top5_error,images_per_s,data_wait_fraction,val_loss")
        #expect(csv.count == 4)
        #expect(csv[3].hasPrefix("3,96,0.1,"))
        #expect(FileManager.default.fileExists(atPath: d + "/spec.yaml"))
    }

    @Test func aFixedSeedGivesIdenticalRuns() throws {
        let (graph, spec) = try compileTiny()
        var weights: [[Float]] = []
        for _ in 0..<2 {
            let d = try scratch()
            defer { try? FileManager.default.removeItem(atPath: d) }
            let data = DataSplits(train: squares(64, seed: 1), validation: nil, description: "squares")
            var options = Trainer.Options(epochs: 2, batch: 8)
            options.seed = 11
            try Trainer(graph: graph, spec: spec, data: data, run: d, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
            weights.append(try Safetensors.read(path: d + "/checkpoints/latest.safetensors").tensors["c1.weight"]!.values)
        }
        #expect(weights[0] == weights[1])
    }

    @Test func aStoppedRunResumesBitIdentically() throws {
        let (graph, spec) = try compileTiny()
        let data = DataSplits(train: squares(64, seed: 1), validation: squares(16, seed: 2), description: "squares")
        let whole = try scratch(), parts = try scratch()
        defer { try? FileManager.default.removeItem(atPath: whole); try? FileManager.default.removeItem(atPath: parts) }
        try Trainer(graph: graph, spec: spec, data: data, run: whole, options: .init(epochs: 3, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        // The same run stopped after 5 and then 7 more steps (checkpoints every step), then resumed to the end.
        var options = Trainer.Options(epochs: 3, batch: 8)
        options.checkpointSteps = 1
        options.stopAfterSteps = 5
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        options.resume = true
        options.stopAfterSteps = 7
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph, seed: 99))
        options.stopAfterSteps = nil
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph, seed: 99))
        let a = try Safetensors.read(path: whole + "/checkpoints/latest.safetensors"), b = try Safetensors.read(path: parts + "/checkpoints/latest.safetensors")
        for name in a.order where !name.hasPrefix("data/") { #expect(a.tensors[name] == b.tensors[name], "\(name)") }
        #expect(try String(contentsOfFile: whole + "/metrics.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7) }
                == (try String(contentsOfFile: parts + "/metrics.csv", encoding: .utf8)).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7) })
    }

    /// steps.csv of a run stopped twice (each time past its last checkpoint, so lines written after
    /// it are dropped on resume and written again) equals the uninterrupted run's: each global step once.
    @Test func stepsCSVHasEachStepOnceAcrossStopsAndResumes() throws {
        let (graph, spec) = try compileTiny()
        let data = DataSplits(train: squares(64, seed: 1), validation: nil, description: "squares")
        let whole = try scratch(), parts = try scratch()
        defer { try? FileManager.default.removeItem(atPath: whole); try? FileManager.default.removeItem(atPath: parts) }
        try Trainer(graph: graph, spec: spec, data: data, run: whole, options: .init(epochs: 3, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        let lines = { (run: String) in try String(contentsOfFile: run + "/steps.csv", encoding: .utf8).split(separator: "\n") }
        let expected = try lines(whole)
        #expect(expected.first == "epoch,step,global_step,loss,learning_rate")
        #expect(expected.count == 1 + 24)   // 3 epochs of 64 / 8 steps
        for (k, line) in expected.dropFirst().enumerated() {
            let f = line.split(separator: ",")
            #expect(f.count == 5 && f[0] == "\(k / 8 + 1)" && f[1] == "\(k % 8 + 1)" && f[2] == "\(k + 1)" && f[4] == "0.1", "\(line)")
            #expect(Double(f[3]).map { $0.isFinite && $0 > 0 } == true, "\(line)")
        }
        // Checkpoints every 3 steps; stopped after step 5 (checkpoint at 3), then after 5 more: step 8,
        // the last of epoch 1, before the epoch's end is written (checkpoint at 6).
        var options = Trainer.Options(epochs: 3, batch: 8)
        options.checkpointSteps = 3
        options.stopAfterSteps = 5
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(try lines(parts).count == 1 + 5)
        #expect(try Safetensors.read(path: parts + "/checkpoints/latest.safetensors").metadata["global_step"] == "3")
        options.resume = true
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(try lines(parts).count == 1 + 8)
        #expect(try Safetensors.read(path: parts + "/checkpoints/latest.safetensors").metadata["global_step"] == "6")
        options.stopAfterSteps = nil
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(try lines(parts) == expected)
    }

    /// Resuming keeps the checkpoint's steps and drops later lines and one cut short by a kill.
    @Test func stepLogTruncationDropsLinesPastTheCheckpoint() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = d + "/steps.csv"
        try "epoch,step,global_step,loss,learning_rate\n1,1,1,0.7,0.1\n1,2,2,0.6,0.1\n1,3,3,0.5,0.1\n1,4,4,0.4"
            .write(toFile: path, atomically: true, encoding: .utf8)
        try StepLog.truncate(path, keepingSteps: 9)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "epoch,step,global_step,loss,learning_rate\n1,1,1,0.7,0.1\n1,2,2,0.6,0.1\n1,3,3,0.5,0.1\n")
        try StepLog.truncate(path, keepingSteps: 2)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "epoch,step,global_step,loss,learning_rate\n1,1,1,0.7,0.1\n1,2,2,0.6,0.1\n")
        let log = StepLog(path: path)
        log.append(epoch: 1, step: 3, globalStep: 3, loss: 0.25, learningRate: 0.1)
        try log.flush()
        try StepLog.truncate(path, keepingSteps: 0)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "epoch,step,global_step,loss,learning_rate\n")
        try log.flush()   // nothing buffered: nothing written
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == 1)
    }

    @Test func resumingRefusesAnotherSpecAndSaysWhenThereIsNothingToDo() throws {
        let (graph, spec) = try compileTiny()
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(32, seed: 1), validation: nil, description: "squares")
        try Trainer(graph: graph, spec: spec, data: data, run: d, options: .init(epochs: 1, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        var options = Trainer.Options(epochs: 1, batch: 8)
        options.resume = true
        let done = #expect(throws: Trainer.Failure.self) {
            try Trainer(graph: graph, spec: spec, data: data, run: d, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        }
        #expect(done?.description.contains("nothing to do") == true)
        let (graph2, spec2) = try compileTiny(tinySpec.replacingOccurrences(of: "filters: 4", with: "filters: 5"))
        options.epochs = 2
        let other = #expect(throws: Trainer.Failure.self) {
            try Trainer(graph: graph2, spec: spec2, data: data, run: d, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph2))
        }
        #expect(other?.description.contains("different spec") == true)
        #expect(other?.description.contains("+   - {name: c1, op: conv, filters: 5") == true)
    }

    @Test func aNonFiniteLossStopsTheRunAndKeepsTheLastCheckpoint() throws {
        let (graph, spec) = try compileTiny(tinySpec.replacingOccurrences(of: "lr: 0.1", with: "lr: 1000000"))
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(64, seed: 1), validation: nil, description: "squares")
        var options = Trainer.Options(epochs: 5, batch: 8)
        options.checkpointSteps = 1
        let failure = #expect(throws: Trainer.Failure.self) {
            try Trainer(graph: graph, spec: spec, data: data, run: d, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        }
        #expect(failure?.description.contains("the loss became") == true)
        let checkpoint = try Safetensors.read(path: d + "/checkpoints/latest.safetensors")
        let finite = checkpoint.tensors["c1.weight"]!.values.allSatisfy { $0.isFinite }
        #expect(finite)
    }

    @Test func filterClippingBoundsEveryConvFiltersRMS() throws {
        let (graph, spec) = try compileTiny(tinySpec.replacingOccurrences(of: "init: {std: 0.3, bias: 0}", with: "init: {std: 0.3, bias: 0}\n  filter_rms_clip: 0.05"))
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(32, seed: 1), validation: nil, description: "squares")
        try Trainer(graph: graph, spec: spec, data: data, run: d, options: .init(epochs: 1, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        let w = try Safetensors.read(path: d + "/checkpoints/latest.safetensors").tensors["c1.weight"]!.values
        for f in 0..<4 {
            let row = w[(f * 9)..<((f + 1) * 9)]
            let rms = (row.reduce(0) { $0 + Double($1) * Double($1) } / 9).squareRoot()
            #expect(rms <= 0.05 + 1e-6)
        }
    }
}

@Suite("Preprocessing")
struct PreprocessingTests {
    @Test func eigenDecompositionOfAKnownCovariance() {
        // A symmetric matrix with eigenvalues 3, 1, 0.5 along known axes.
        let s = 1 / 2.0.squareRoot()
        let q: [Double] = [s, -s, 0, s, s, 0, 0, 0, 1]          // columns are the eigenvectors
        let lambda: [Double] = [3, 1, 0.5]
        var m = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { m[i * 3 + j] += q[i * 3 + k] * lambda[k] * q[j * 3 + k] } } }
        let (values, vectors) = Preprocessing.symmetricEigen3(m)
        // The eigenvalues, in any order, are the known ones.
        for (found, known) in zip(values.sorted(), lambda.sorted()) { #expect(abs(found - known) < 1e-9, "eigenvalue \(found), expected \(known)") }
        for k in 0..<3 {
            // A·v = λ·v for each returned pair, and each λ is one of the known ones.
            let v = (0..<3).map { vectors[$0 * 3 + k] }
            for i in 0..<3 {
                let av = (0..<3).reduce(0) { $0 + m[i * 3 + $1] * v[$1] }
                #expect(abs(av - values[k] * v[i]) < 1e-9)
            }
            #expect(lambda.contains { abs($0 - values[k]) < 1e-9 })
            #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-9)
        }
    }

    @Test func pcaColourNoiseKeepsTheMeanColour() {
        let p = Preprocessing(stored: (3, 2, 2), input: (2, 2), mean: .init(repeating: 0, count: 12), flip: false, randomCrop: false,
                              pcaColor: 0.1, pcaValues: [0.2, 0.05, 0.01], pcaVectors: [0.58, -0.7, 0.41, 0.58, 0, -0.82, 0.58, 0.7, 0.41])
        let pixels = [Float](repeating: 0.5, count: 12)
        var sums = [Double](repeating: 0, count: 3), squares = [Double](repeating: 0, count: 3)
        var out = [Float](repeating: 0, count: 12)
        let draws = 20_000
        for i in 0..<draws {
            out.withUnsafeMutableBufferPointer { p.prepare(pixels, into: $0.baseAddress!, training: true, seed: UInt64(i)) }
            for c in 0..<3 { let shift = Double(out[c * 4]) - 0.5; sums[c] += shift; squares[c] += shift * shift }
        }
        for c in 0..<3 {
            let mean = sums[c] / Double(draws)
            let std = (squares[c] / Double(draws) - mean * mean).squareRoot()
            // The shift has mean 0; its spread is σ·sqrt(Σ_i (λ_i p_ci)²), ~0.01 here.
            #expect(abs(mean) < 4 * std / Double(draws).squareRoot() + 1e-6, "channel \(c): mean shift \(mean)")
            let expected = 0.1 * (0..<3).reduce(0.0) { $0 + pow(Double([0.2, 0.05, 0.01][$1]) * Double(p.pcaVectors[c * 3 + $1]), 2) }.squareRoot()
            #expect(abs(std - expected) < 0.05 * expected)
        }
        // Without training (evaluation), no noise at all.
        out.withUnsafeMutableBufferPointer { p.prepare(pixels, into: $0.baseAddress!, training: false, seed: 1) }
        #expect(out.allSatisfy { $0 == 0.5 })
    }

    @Test func cropsFlipsAndTheTenViews() {
        // A 1×3×4 image 0…11, network input 2×2.
        let p = Preprocessing(stored: (1, 3, 4), input: (2, 2), mean: .init(repeating: 0, count: 12), flip: true, randomCrop: true,
                              pcaColor: 0, pcaValues: [], pcaVectors: [])
        let pixels = (0..<12).map(Float.init)
        var out = [Float](repeating: 0, count: 4)
        func view(_ v: Int) -> [Float] { out.withUnsafeMutableBufferPointer { p.prepare(pixels, into: $0.baseAddress!, training: false, seed: 0, view: v) }; return out }
        #expect(view(0) == [1, 2, 5, 6])       // centre: rows 0–1 (of 3), columns 1–2
        #expect(view(1) == [0, 1, 4, 5])       // top left
        #expect(view(4) == [6, 7, 10, 11])     // bottom right
        #expect(view(5) == [2, 1, 6, 5])       // the centre, mirrored
        var seen = Set<[Float]>()
        for seed in 0..<200 { out.withUnsafeMutableBufferPointer { p.prepare(pixels, into: $0.baseAddress!, training: true, seed: UInt64(seed)) }; seen.insert(out) }
        #expect(seen.count == 12)              // 2 × 3 crop positions × 2 mirrorings
    }
}
