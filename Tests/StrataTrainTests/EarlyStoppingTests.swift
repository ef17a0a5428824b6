import Foundation
import StrataCPU
import StrataFormats
import StrataIR
import StrataPlan
@testable import StrataTrain
import Testing

/// Early stopping on a validation set carved from the training split: what a transfer head trains
/// to (ZF Tables 4–6), never the test split.
@Suite("early stopping")
struct EarlyStoppingTests {
    /// The squares with every label flipped: the better the network learns the squares, the
    /// higher its loss on these, so the validation loss is lowest after the first epoch.
    static func flipped(_ count: Int, seed: UInt64) -> ArrayImages {
        let s = squares(count, seed: seed)
        return ArrayImages(count: count, shape: s.shape, classes: 2, values: s.values, labels: s.labels.map { 1 - $0 }, source: "flipped")
    }

    @Test func aHoldoutIsDisjointFromTheTrainingDrawAndLeavesItUnchanged() {
        let base = squares(200, seed: 4)
        let plain = SubsetDataset(base, classes: [1, 0], perClass: 20, seed: 7)
        let train = SubsetDataset(base, classes: [1, 0], perClass: 20, seed: 7, holdout: 15)
        let held = SubsetDataset(base, classes: [1, 0], perClass: 20, seed: 7, holdout: 15, part: .holdout)
        #expect(train.indices == plain.indices)
        #expect(Set(train.indices).isDisjoint(with: held.indices))
        #expect(held.count == 30 && (0..<held.count).filter { held.label($0) == 0 }.count == 15)
        #expect(train.shortfall.isEmpty)
        // Another seed, another holdout.
        #expect(SubsetDataset(base, classes: [1, 0], perClass: 20, seed: 8, holdout: 15, part: .holdout).indices != held.indices)
        // Without per_class the training part is every image but the holdout.
        let rest = SubsetDataset(base, classes: [0, 1], seed: 7, holdout: 15), restHeld = SubsetDataset(base, classes: [0, 1], seed: 7, holdout: 15, part: .holdout)
        #expect(rest.count + restHeld.count == 200 && Set(rest.indices).isDisjoint(with: restHeld.indices))
        // Asking for more than a class has: the holdout is kept whole, training gets the rest, and the shortfall says so.
        let greedy = SubsetDataset(base, classes: [0, 1], perClass: 500, seed: 7, holdout: 15)
        let counts = (0...1).map { c in (0..<base.count).filter { base.label($0) == c }.count }
        #expect(greedy.shortfall == [0: counts[0], 1: counts[1]])
        #expect(greedy.count == counts[0] + counts[1] - 30)
    }

    @Test func theLossIsTheMeanCrossEntropyOfTheLabels() {
        let data = ArrayImages(count: 2, shape: (1, 1, 1), classes: 2, values: [0, 0], labels: [0, 1])
        let p = Evaluator.Predictions(probabilities: [0.5, 0.5, 0.9, 0.1], classes: 2)
        #expect(abs(Evaluator.loss(p, data) - (log(2.0) + log(10.0)) / 2) < 1e-6)
        // An unreadable image counts for nothing; a zero probability is a large finite loss.
        let q = Evaluator.Predictions(probabilities: [0.5, 0.5, 1, 0], classes: 2, unreadable: [1: "bad"])
        #expect(abs(Evaluator.loss(q, data) - log(2.0)) < 1e-6)
        #expect(abs(Evaluator.loss(.init(probabilities: [0, 1, 0, 1], classes: 2), data) - (-log(1e-30)) / 2) < 1e-3)
    }

    /// The validation loss is lowest after epoch 1, so a patience of 3 stops after epoch 4 with the
    /// weights of epoch 1 in best.safetensors; a run killed on the way stops at the same place with
    /// the same best weights, and resuming a stopped run has nothing to do.
    @Test func stopsAfterThePatienceKeepingTheBestEpochAndResumesExactly() throws {
        let (graph, spec) = try compileTiny()
        let data = DataSplits(train: squares(64, seed: 1), validation: Self.flipped(32, seed: 2), description: "squares")
        let whole = try scratch(), parts = try scratch()
        defer { try? FileManager.default.removeItem(atPath: whole); try? FileManager.default.removeItem(atPath: parts) }
        var options = Trainer.Options(epochs: 40, batch: 8)
        options.earlyStop = 3
        options.snapshotEpochs = [1]
        var stopped: (Int, Int)?
        let trainer = Trainer(graph: graph, spec: spec, data: data, run: whole, options: options, backend: CPUBackend())
        trainer.report = { if case let .stoppedEarly(epoch, best, _) = $0 { stopped = (epoch, best) } }
        let results = try trainer.train(initialWeights: initialWeights(graph))
        #expect(results.count == 4 && stopped.map { $0 == (4, 1) } == true, "\(results.map { $0.validationLoss ?? -1 })")
        let losses = results.compactMap(\.validationLoss)
        #expect(losses.count == 4 && losses.dropFirst().allSatisfy { $0 >= losses[0] })
        let best = try Safetensors.read(path: whole + "/checkpoints/best.safetensors")
        let state = try Checkpoint.read(best, path: "best")
        #expect(state.epoch == 1 && state.bestEpoch == 1 && state.bestValidationLoss == losses[0])
        #expect(best.tensors["f1.weight"] == (try Safetensors.read(path: whole + "/checkpoints/epoch-1.safetensors")).tensors["f1.weight"])
        let csv = try String(contentsOfFile: whole + "/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first?.hasSuffix(",val_loss") == true && csv.count == 5)
        // Resuming a run that stopped early: nothing to do, said so; with another patience: refused.
        options.resume = true
        let done = #expect(throws: Trainer.Failure.self) { try Trainer(graph: graph, spec: spec, data: data, run: whole, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph)) }
        #expect(done?.description.contains("stopped early after epoch 4") == true)
        options.earlyStop = 5
        let other = #expect(throws: Trainer.Failure.self) { try Trainer(graph: graph, spec: spec, data: data, run: whole, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph)) }
        #expect(other?.description.contains("was trained with --early-stop 3, not --early-stop 5") == true, "\(other?.description ?? "")")
        options.earlyStop = 3
        // Killed after 13 steps (8 per epoch: inside epoch 2), then resumed: the same stop and best weights.
        options.resume = false
        options.checkpointSteps = 1
        options.stopAfterSteps = 13
        try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        options.resume = true
        options.stopAfterSteps = nil
        let rest = try Trainer(graph: graph, spec: spec, data: data, run: parts, options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(rest.last?.epoch == 4)
        #expect(try Safetensors.read(path: parts + "/checkpoints/best.safetensors").tensors == best.tensors)
        // Without a validation split there is nothing to watch.
        options.resume = false
        #expect(throws: Trainer.Failure.self) {
            try Trainer(graph: graph, spec: spec, data: DataSplits(train: squares(64, seed: 1), validation: nil, description: "squares"), run: try scratch(),
                        options: options, backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        }
    }
}

/// A backend whose executors fail their `failAt`-th run as a device would (a failed enqueue): the
/// fault must surface as an error with its place, never as a NaN loss.
final class FaultyBackend: Backend, @unchecked Sendable {
    let base = CPUBackend()
    let failAt: Int
    init(failAt: Int) { self.failAt = failAt }
    var traits: BackendTraits { base.traits }
    func makeExecutor(_ plan: ExecutionPlan) throws -> any Executor { FaultyExecutor(try base.makeExecutor(plan), failAt: failAt) }
}

final class FaultyExecutor: Executor {
    struct DeviceFault: Error, CustomStringConvertible { var description: String }
    let base: any Executor
    let failAt: Int
    var runs = 0
    init(_ base: any Executor, failAt: Int) { (self.base, self.failAt) = (base, failAt) }
    var plan: ExecutionPlan { base.plan }
    var settingsSummary: [(name: String, value: String)] { base.settingsSummary }
    func run(seed: UInt64) throws -> Double? {
        runs += 1
        if runs == failAt { throw DeviceFault(description: "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES at step 3 of the plan (conv_forward)") }
        return try base.run(seed: seed)
    }
    func run(seed: UInt64, steps: Range<Int>) throws -> Double? { try base.run(seed: seed, steps: steps) }
    var imageOffset: Int { get { base.imageOffset } set { base.imageOffset = newValue } }
    func run(seed: UInt64, observe: (TensorID, UnsafeBufferPointer<Float>) throws -> Void) throws -> Double? { try base.run(seed: seed, observe: observe) }
    func read(_ tensor: TensorID) throws -> [Float] { try base.read(tensor) }
    func readDoubles(_ tensor: TensorID) throws -> [Double] { try base.readDoubles(tensor) }
    func write(_ tensor: TensorID, _ values: UnsafeBufferPointer<Float>) throws { try base.write(tensor, values) }
    func write(_ tensor: TensorID, doubles values: [Double]) throws { try base.write(tensor, doubles: values) }
    func setLabels(_ labels: [Int32]) throws { try base.setLabels(labels) }
    var timing: Bool { get { base.timing } set { base.timing = newValue } }
    var stepSeconds: [Double] { base.stepSeconds }
}

@Suite("device faults")
struct DeviceFaultTests {
    /// The 11th step fails (8 steps an epoch): the run stops with the fault and its place, and the
    /// checkpoint of epoch 1 is what stays on disk.
    @Test func aFailingStepStopsTrainingWithItsPlaceAndKeepsTheCheckpoint() throws {
        let (graph, spec) = try compileTiny()
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(64, seed: 1), validation: nil, description: "squares")
        let trainer = Trainer(graph: graph, spec: spec, data: data, run: d, options: .init(epochs: 3, batch: 8), backend: FaultyBackend(failAt: 11))
        let error = #expect(throws: Trainer.Failure.self) { try trainer.train(initialWeights: initialWeights(graph)) }
        let message = error?.description ?? ""
        #expect(message.contains("failed at epoch 2, step 3") && message.contains("CL_OUT_OF_RESOURCES at step 3 of the plan") && !message.contains("NaN"), "\(message)")
        #expect(message.contains("latest.safetensors (epoch 1, its end)"), "\(message)")
        let state = try Checkpoint.read(try Safetensors.read(path: d + "/checkpoints/latest.safetensors"), path: "latest")
        #expect(state.epoch == 1 && state.stepInEpoch == 0)
    }
}
