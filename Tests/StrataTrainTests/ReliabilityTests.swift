import Foundation
import StrataCPU
import StrataFormats
import StrataIR
import StrataPlan
@testable import StrataTrain
import Testing

/// The training loop and the evaluator on hostile data and run folders: a wrong number is never
/// reported as right, bad labels and sizes stop before any work, and a run is never destroyed.
@Suite("Training reliability")
struct ReliabilityTests {
    func trainer(_ data: DataSplits, run: String, _ options: Trainer.Options = .init(epochs: 1, batch: 8), spec text: String = tinySpec) throws -> Trainer {
        let (graph, spec) = try compileTiny(text)
        return Trainer(graph: graph, spec: spec, data: data, run: run, options: options, backend: CPUBackend())
    }

    @discardableResult
    func train(_ t: Trainer) throws -> [Trainer.EpochMetrics] { try t.train(initialWeights: initialWeights(t.graph)) }

    func relabelled(_ d: ArrayImages, _ change: (inout [Int]) -> Void) -> ArrayImages {
        var labels = (0..<d.count).map(d.label)
        change(&labels)
        return ArrayImages(count: d.count, shape: d.shape, classes: (labels.max() ?? 0) + 1, values: d.values, labels: labels, source: "labels.npy")
    }

    @Test func nanPredictionsAreCountedWrong() throws {
        let (graph, _) = try compileTiny()
        let data = squares(16, seed: 2)
        let preprocessing = Preprocessing(stored: (1, 6, 6), input: (6, 6), mean: [Float](repeating: 0, count: 36), flip: false,
                                          randomCrop: false, pcaColor: 0, pcaValues: [], pcaVectors: [])
        let evaluator = Evaluator(graph: graph, preprocessing: preprocessing, batch: 8, backend: CPUBackend())
        var weights = initialWeights(graph)
        weights.tensors["c1.weight"]!.values = [Float](repeating: .nan, count: weights.tensors["c1.weight"]!.values.count)
        evaluator.load(weights)
        let result = try evaluator.errors(data, views: 1)
        #expect(result.top1 == 1 && result.top5 == nil && result.images == 16)   // 2 classes: no top-5
        // And the static count on its own: one NaN anywhere in a row makes it wrong.
        let p = Evaluator.Predictions(probabilities: [0.9, 0.1, .nan, 1], classes: 2)
        let two = ArrayImages(count: 2, shape: (1, 6, 6), classes: 2, values: [Float](repeating: 0, count: 72), labels: [0, 1])
        #expect(Evaluator.errors(p, two).top1 == 0.5)
        // With more than 5 classes top-5 is reported, and a NaN row is wrong there too.
        let six = Evaluator.Predictions(probabilities: [Float](repeating: 1.0 / 6, count: 6) + [.nan] + [Float](repeating: 0.1, count: 5), classes: 6)
        let sixClasses = ArrayImages(count: 2, shape: (1, 6, 6), classes: 6, values: [Float](repeating: 0, count: 72), labels: [0, 1])
        #expect(Evaluator.errors(six, sixClasses).top5 == 0.5)
    }

    @Test func labelsOutsideTheClassesStopBeforeTraining() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let bad = relabelled(squares(16, seed: 2)) { $0[5] = 48 }
        for data in [DataSplits(train: squares(64, seed: 1), validation: bad, description: "x"), DataSplits(train: bad, validation: nil, description: "x")] {
            let failure = #expect(throws: FormatError.self) { try train(trainer(data, run: d)) }
            #expect(failure?.description == "labels.npy: image 5 has label 48, outside 0..<2, the classes of 'tiny'")
        }
        #expect(!FileManager.default.fileExists(atPath: d + "/metrics.csv"))
    }

    @Test func cifarLabelsAreRangeChecked() {
        let record = [UInt8(200)] + [UInt8](repeating: 0, count: 3072)
        let error = #expect(throws: FormatError.self) { try DataLoader.cifar([(record, "data_batch_1.bin")]) }
        #expect(error?.reason.contains("record 0 has label 200") == true)
    }

    @Test func idxHeadersThatOverflowAreErrors() {
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 1, 0]
        for header: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]] {
            let error = #expect(throws: FormatError.self) { try DataLoader.idx(imageBytes: [0, 0, 8, 3] + header + [1], labelBytes: labels, images: "i", labels: "l") }
            #expect(error != nil)
        }
    }

    @Test func validationImagesOfAnotherSizeStopBeforeTraining() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let big = ArrayImages(count: 4, shape: (1, 8, 8), classes: 2, values: [Float](repeating: 0.5, count: 256), labels: [0, 1, 0, 1])
        let failure = #expect(throws: Trainer.Failure.self) { try train(trainer(DataSplits(train: squares(64, seed: 1), validation: big, description: "x"), run: d)) }
        #expect(failure?.description.contains("the validation images are 1×8×8 but the training images are 1×6×6") == true)
        #expect(!FileManager.default.fileExists(atPath: d + "/checkpoints/latest.safetensors"))
    }

    @Test func anExistingRunIsNeitherOverwrittenNorShared() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(64, seed: 1), validation: nil, description: "x")
        try train(trainer(data, run: d))
        let before = try String(contentsOfFile: d + "/metrics.csv", encoding: .utf8)
        let refused = #expect(throws: Trainer.Failure.self) { try train(trainer(data, run: d)) }
        #expect(refused?.description.contains("already holds a run (metrics.csv, checkpoints/latest.safetensors); pass --resume") == true, "\(refused?.description ?? "")")
        #expect(try String(contentsOfFile: d + "/metrics.csv", encoding: .utf8) == before)
        // --overwrite starts over (and clears old snapshots).
        _ = FileManager.default.createFile(atPath: d + "/checkpoints/epoch-7.safetensors", contents: Data("old".utf8))
        var options = Trainer.Options(epochs: 1, batch: 8)
        options.overwrite = true
        try train(trainer(data, run: d, options))
        #expect(!FileManager.default.fileExists(atPath: d + "/checkpoints/epoch-7.safetensors"))
        // A second trainer in the same folder waits for nobody: it is refused while the lock is held.
        let lock = try RunLock(folder: d)
        options.resume = true
        options.overwrite = false
        options.epochs = 2
        let busy = #expect(throws: Trainer.Failure.self) { try train(trainer(data, run: d, options)) }
        #expect(busy?.description.contains("another strata train (process \(getpid())) is using") == true, "\(busy?.description ?? "")")
        lock.release()
        try train(trainer(data, run: d, options))
    }

    @Test func resumingWithAnotherBatchOrOtherDataIsRefused() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(64, seed: 1), validation: nil, description: "x")
        var options = Trainer.Options(epochs: 2, batch: 8)
        options.checkpointSteps = 3
        options.stopAfterSteps = 3
        try train(trainer(data, run: d, options))
        options.resume = true
        options.stopAfterSteps = nil
        options.batch = 4
        let batch = #expect(throws: Trainer.Failure.self) { try train(trainer(data, run: d, options)) }
        #expect(batch?.description.contains("was trained with --batch 8, not 4") == true)
        options.batch = 8
        let other = DataSplits(train: relabelled(squares(64, seed: 1)) { $0[0] = 1 - $0[0] }, validation: nil, description: "x")
        let moved = #expect(throws: Trainer.Failure.self) { try train(trainer(other, run: d, options)) }
        #expect(moved?.description.contains("was trained on other data") == true)
        try train(trainer(data, run: d, options))
    }

    @Test func aDivergedRunNeverWritesNonFiniteWeightsAndNamesARealCheckpoint() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var options = Trainer.Options(epochs: 5, batch: 8)
        options.checkpointSteps = 1
        let t = try trainer(DataSplits(train: squares(64, seed: 1), validation: nil, description: "x"), run: d, options,
                            spec: tinySpec.replacingOccurrences(of: "lr: 0.1", with: "lr: 1000000"))
        let failure = #expect(throws: Trainer.Failure.self) { try train(t) }
        let message = failure?.description ?? ""
        #expect(message.contains("stopped") && message.contains("Try a smaller learning rate"), "\(message)")
        if FileManager.default.fileExists(atPath: d + "/checkpoints/latest.safetensors") {
            #expect(message.contains("The last good checkpoint is \(d)/checkpoints/latest.safetensors"), "\(message)")
            let file = try Safetensors.read(path: d + "/checkpoints/latest.safetensors")
            #expect(file.tensors.values.allSatisfy { $0.values.allSatisfy { $0.isFinite } })
        } else {
            #expect(message.contains("No checkpoint was written before it"), "\(message)")
        }
    }

    @Test func aCheckpointOfNonFiniteWeightsIsRefused() throws {
        let (graph, _) = try compileTiny()
        let backend = CPUBackend()
        let executor = try backend.makeExecutor(backend.plan(DerivedGraph.derive(graph, training: false), batch: 1))
        var weights = initialWeights(graph)
        weights.tensors["f1.bias"]!.values[1] = .infinity
        try executor.loadParameters(weights.parameterTensors)
        let state = Checkpoint(epoch: 1, stepInEpoch: 0, globalStep: 8, learningRate: 0.1, bestValidationError: 1, epochsWithoutImprovement: 0,
                               seed: 0, spec: "", mean: [Float](repeating: 0, count: 36), meanShape: [1, 6, 6], pcaValues: [], pcaVectors: [],
                               epochLossSum: 0, epochWrong: 0, epochSeen: 0)
        let path = NSTemporaryDirectory() + "strata-\(UUID().uuidString).safetensors"
        let error = #expect(throws: Checkpoint.NonFinite.self) { try state.write(executor: executor, to: path) }
        #expect(error?.description == "f1.bias holds inf")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func nonFiniteTrainingImagesAreNamed() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var x = squares(8, seed: 1).values
        x[3 * 36 + 7] = .nan
        try NumpyArray.write(.init(shape: [8, 1, 6, 6], values: x), path: d + "/images.npy")
        try NumpyArray.write(.init(shape: [8], values: [0, 1, 0, 1, 0, 1, 0, 1]), path: d + "/labels.npy")
        let error = #expect(throws: FormatError.self) { try DataLoader.open(d, channels: 1, side: 6) }
        #expect(error?.reason == "image 3 holds nan at position 7; images must be finite numbers")
    }

    /// An image tree: a val/ folder that train/ lacks is an error, and a checkpoint's class list
    /// numbers the folders even when train/ is missing one.
    @Test func imageTreeClassesComeFromTrainOrTheCheckpoint() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let png = try Images.encodePNG(Images.Image(channels: 1, height: 6, width: 6, pixels: [Float](repeating: 100, count: 36)))
        for (split, cls) in [("train", "a"), ("train", "c"), ("val", "a"), ("val", "b"), ("val", "c")] {
            try FileManager.default.createDirectory(atPath: "\(d)/\(split)/\(cls)", withIntermediateDirectories: true)
            try png.write(to: URL(fileURLWithPath: "\(d)/\(split)/\(cls)/1.png"))
        }
        let stray = #expect(throws: FormatError.self) { try DataLoader.open(d, channels: 1, side: 6) }
        #expect(stray?.description.contains("val/b: it is not one of the network's classes (a, c)") == true, "\(stray?.description ?? "")")
        let named = try DataLoader.open(d, channels: 1, side: 6, classNames: ["a", "b", "c"])
        let val = try #require(named.validation)
        #expect((0..<val.count).map(val.label) == [0, 1, 2])
    }

    @Test func unreadableValidationImagesAreSkippedWithAWarning() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let png = try Images.encodePNG(Images.Image(channels: 1, height: 6, width: 6, pixels: [Float](repeating: 100, count: 36)))
        for split in ["train", "val"] { for cls in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(d)/tree/\(split)/\(cls)", withIntermediateDirectories: true)
            for i in 0..<8 { try png.write(to: URL(fileURLWithPath: "\(d)/tree/\(split)/\(cls)/\(i).png")) }
        } }
        try Data("broken".utf8).write(to: URL(fileURLWithPath: "\(d)/tree/val/b/broken.png"))
        let data = try DataLoader.open(d + "/tree", channels: 1, side: 6)
        let t = try trainer(data, run: d + "/run")
        var warnings: [String] = []
        t.report = { if case .warning(let w) = $0 { warnings.append(w) } }
        let results = try train(t)
        #expect(results.count == 1 && results[0].validationTop1 != nil)
        #expect(warnings.contains { $0.contains("skipped unreadable validation image") && $0.contains("broken.png") })
        // --strict stops before training instead.
        var options = Trainer.Options(epochs: 1, batch: 8)
        options.strict = true
        let strict = #expect(throws: FormatError.self) { try train(trainer(data, run: d + "/strict", options)) }
        #expect(strict?.path.hasSuffix("broken.png") == true)
        #expect(!FileManager.default.fileExists(atPath: d + "/strict/metrics.csv"))
    }
}

@Suite("The loader")
struct LoaderTests {
    /// A batch is a function of (seed, epoch, images), whatever the thread count; unreadable
    /// images are replaced and reported in image order.
    @Test func batchesAreTheSameOnAnyNumberOfThreads() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        for cls in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(d)/train/\(cls)", withIntermediateDirectories: true)
            for i in 0..<12 {
                let pixels = (0..<(3 * 20 * 24)).map { Float(($0 * 7 + i * 13 + (cls == "a" ? 0 : 50)) % 256) }
                try Images.encodePNG(Images.Image(channels: 3, height: 20, width: 24, pixels: pixels)).write(to: URL(fileURLWithPath: "\(d)/train/\(cls)/\(i).png"))
            }
        }
        try Data("broken".utf8).write(to: URL(fileURLWithPath: "\(d)/train/a/5.png"))
        let data = try DataLoader.open(d, channels: 3, side: 16).train
        let preprocessing = Preprocessing(stored: (3, 16, 16), input: (12, 12), mean: [Float](repeating: 0.5, count: 768), flip: true, randomCrop: true,
                                          pcaColor: 0.1, pcaValues: [0.2, 0.05, 0.01], pcaVectors: [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let order = Trainer.permutation(count: data.count, seed: 4, epoch: 1)
        let one = try Trainer.makeBatch(data, order: order, preprocessing: preprocessing, threads: 1, seed: 4, epoch: 1, perImage: 432, strict: false)
        for threads in [2, 3, 8] {
            let many = try Trainer.makeBatch(data, order: order, preprocessing: preprocessing, threads: threads, seed: 4, epoch: 1, perImage: 432, strict: false)
            #expect(many.images == one.images && many.labels == one.labels && many.skipped == one.skipped, "\(threads) threads")
        }
        #expect(one.skipped.count == 1 && one.skipped[0].contains("5.png"))
        #expect(throws: FormatError.self) {
            try Trainer.makeBatch(data, order: order, preprocessing: preprocessing, threads: 3, seed: 4, epoch: 1, perImage: 432, strict: true)
        }
    }
}
