import Foundation
import StrataFormats
import StrataIR
import StrataMPI
import StrataPlan
import StrataSpec

/// The training loop: SGD exactly as the AlexNet paper writes it (momentum, weight decay, the
/// spec's learning rate and schedule), ZF's feature-scale clipping, validation after each epoch,
/// checkpoints (and snapshots) written atomically, and an exact resume: data order, augmentation
/// and dropout draw from (seed, epoch, image) and (seed, step), so a resumed run computes the same
/// numbers as an uninterrupted one.
///
/// Data-parallel over R ranks (`communicator`, under mpirun): the batch is the global batch; rank r
/// runs images r·B/R..<(r+1)·B/R of each (dropout drawn for their places in the whole batch), the
/// gradients are summed in one fused buffer (MPI_Allreduce) and divided by R between the backward
/// pass and the update, so every rank applies the same update to the same weights: one rank's step
/// at batch B up to float32 summation order. Rank 0 alone writes the run folder.
public final class Trainer {
    public struct Options: Sendable {
        public var epochs: Int
        public var batch: Int
        public var seed: UInt64 = 0
        public var resume = false
        /// Start over in a run folder that holds another run (deleting its metrics and checkpoints).
        public var overwrite = false
        public var snapshotEpochs: Set<Int> = []
        /// Also checkpoint every this many steps (0: only at epoch ends).
        public var checkpointSteps = 0
        /// Stop at the first unreadable image instead of skipping it.
        public var strict = false
        /// Threads that decode and augment a batch's images (default: every core but one, at least 1).
        /// The batch is the same for any count: each image draws from (seed, epoch, image).
        public var loaderThreads = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        /// Stop after this many steps in all (for tests of kill-and-resume); nil: train to the end.
        public var stopAfterSteps: Int?
        /// Early stopping: stop once the validation loss (inference mode) has not improved for this
        /// many epochs; the best epoch's weights are `RUN/checkpoints/best.safetensors`. nil: run
        /// every epoch. Needs a validation split.
        public var earlyStop: Int?
        public init(epochs: Int, batch: Int) {
            self.epochs = epochs
            self.batch = batch
        }
    }

    /// Progress reports for the command's progress bar or log lines.
    public enum Event {
        case started(trainImages: Int, validationImages: Int, stepsPerEpoch: Int, resumedAt: (epoch: Int, step: Int)?)
        case step(epoch: Int, step: Int, of: Int, loss: Double, imagesPerSecond: Double)
        case epoch(EpochMetrics)
        /// Data-parallel runs, after each epoch: the gradients' allreduce per step (its seconds and
        /// bytes) against the whole step's seconds.
        case allreduce(seconds: Double, bytes: Int, stepSeconds: Double)
        /// Early stopping ended the run after `epoch`: the validation loss was lowest at `bestEpoch`.
        case stoppedEarly(epoch: Int, bestEpoch: Int, bestLoss: Double)
        case warning(String)
    }

    public struct EpochMetrics: Sendable {
        public var epoch: Int
        public var step: Int
        public var learningRate: Double
        public var loss: Double
        public var trainError: Double
        public var validationTop1: Double?
        public var validationTop5: Double?
        /// The validation split's mean cross-entropy in inference mode (dropout off).
        public var validationLoss: Double?
        public var imagesPerSecond: Double
        public var dataWaitFraction: Double
        /// Unreadable images skipped in this epoch (each also reported by path as a warning).
        public var skippedImages = 0

        public init(epoch: Int, step: Int, learningRate: Double, loss: Double, trainError: Double, validationTop1: Double?,
                    validationTop5: Double?, imagesPerSecond: Double, dataWaitFraction: Double, skippedImages: Int = 0, validationLoss: Double? = nil) {
            self.skippedImages = skippedImages
            self.validationLoss = validationLoss
            self.epoch = epoch
            self.step = step
            self.learningRate = learningRate
            self.loss = loss
            self.trainError = trainError
            self.validationTop1 = validationTop1
            self.validationTop5 = validationTop5
            self.imagesPerSecond = imagesPerSecond
            self.dataWaitFraction = dataWaitFraction
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    let graph: Graph
    let spec: NetworkSpec
    let settings: TrainingSpec
    let data: DataSplits
    let run: String
    let options: Options
    let specText: String
    let backend: any Backend
    let communicator: any Communicator
    public var report: (Event) -> Void = { _ in }

    public init(graph: Graph, spec: NetworkSpec, data: DataSplits, run: String, options: Options, backend: any Backend,
                communicator: any Communicator = SingleProcess()) {
        self.backend = backend
        self.communicator = communicator
        self.graph = graph
        self.spec = spec
        self.settings = spec.training ?? TrainingSpec(location: spec.name.location)
        self.data = data
        self.run = run
        self.options = options
        self.specText = SpecPrinter.print(spec).split(separator: "\n").filter { !$0.hasPrefix("# resolved from") }.joined(separator: "\n")
    }

    var checkpointPath: String { "\(run)/checkpoints/latest.safetensors" }
    /// With early stopping: the weights of the epoch with the lowest validation loss.
    public var bestPath: String { "\(run)/checkpoints/best.safetensors" }

    /// Trains; returns the metrics of the epochs it ran.
    @discardableResult
    public func train(initialWeights: Safetensors.File) throws -> [EpochMetrics] {
        let input = graph.input
        let stored = data.train.shape
        let classes = try checkData()
        let batch = options.batch
        let ranks = communicator.size, rank = communicator.rank, isRoot = communicator.isRoot
        try Self.checkBatch(batch, ranks: ranks)
        let local = batch / ranks
        // Rank 0 alone writes the run folder.
        var lock: RunLock?
        if isRoot {
            try FileCheck.makeDirectory("\(run)/checkpoints")
            lock = try RunLock(folder: run)
        }
        defer { lock?.release() }
        let stepsPerEpoch = data.train.count / batch
        guard stepsPerEpoch >= 1 else { throw Failure(description: "the training set has \(data.train.count) images, fewer than one batch of \(batch)") }
        let (plan, executor) = try trainingExecutor(local: local, rank: rank)

        var state = try startingState(initialWeights, executor, stored: stored)
        // Rank 0's per-step log; what is buffered is written however train returns.
        let steps = isRoot ? StepLog(path: "\(run)/steps.csv") : nil
        defer { try? steps?.flush() }
        let gradients = try GradientSum(executor: executor, communicator: communicator)

        let preprocessing = Preprocessing(stored: stored, input: (input.height, input.width), mean: state.mean,
                                          flip: settings.augment.flip, randomCrop: settings.augment.crop != nil,
                                          pcaColor: settings.augment.pcaColor, pcaValues: state.pcaValues, pcaVectors: state.pcaVectors)
        report(.started(trainImages: data.train.count, validationImages: data.validation?.count ?? 0, stepsPerEpoch: stepsPerEpoch,
                        resumedAt: state.globalStep > 0 ? (state.epoch, state.stepInEpoch) : nil))
        let evaluator = data.validation.map { _ in Evaluator(graph: graph, preprocessing: preprocessing, batch: min(batch, 256), backend: backend) }
        var results: [EpochMetrics] = []
        var stepsThisRun = 0
        let perImage = input.elementCount!

        for epoch in state.epoch..<options.epochs {
            let order = Self.permutation(count: data.train.count, seed: options.seed, epoch: epoch)
            let train = data.train, strict = options.strict, seed = options.seed, loaderThreads = options.loaderThreads
            let queue = BatchQueue(first: state.stepInEpoch, total: stepsPerEpoch) { k in
                try Self.makeBatch(train, order: Array(order[(k * batch + rank * local)..<(k * batch + (rank + 1) * local)]), preprocessing: preprocessing, threads: loaderThreads,
                                   seed: seed, epoch: epoch, perImage: perImage, strict: strict)
            }
            defer { queue.stop() }
            // Running sums of the epoch, carried through a resume by the checkpoint.
            var sums = EpochSums(loss: state.epochLossSum, wrong: state.epochWrong, seen: state.epochSeen)
            let epochStart = Date()
            let reduceStart = gradients.reduceSeconds, stepsStart = gradients.reduces
            let run = StepLoop(executor: executor, gradients: gradients, plan: plan, classes: classes, batch: batch, stepsPerEpoch: stepsPerEpoch,
                               steps: steps)
            if try runSteps(run, epoch: epoch, queue: queue, state: &state, sums: &sums, started: epochStart, stepsThisRun: &stepsThisRun) {
                return results
            }
            let (lossSum, wrong, seen, computeImages, skippedImages) = (sums.loss, sums.wrong, sums.seen, sums.computeImages, sums.skippedImages)
            let elapsed = Date().timeIntervalSince(epochStart)
            if communicator.isDistributed && gradients.reduces > stepsStart {
                let steps = Double(gradients.reduces - stepsStart)
                report(.allreduce(seconds: (gradients.reduceSeconds - reduceStart) / steps, bytes: gradients.gradientCount * 4, stepSeconds: elapsed / steps))
            }
            let validation = try evaluator.flatMap { try validate($0, executor) }
            // Early stopping's count and the learning rate's schedule, from this epoch's validation.
            let improved = Self.trackBest(&state, validation: validation, epoch: epoch, watching: options.earlyStop != nil)
            let lrUsed = state.learningRate
            Self.schedule(&state, settings.schedule, validation: validation, epoch: epoch)
            let metrics = EpochMetrics(epoch: epoch + 1, step: state.globalStep, learningRate: lrUsed, loss: lossSum / Double(max(1, seen / batch)),
                                       trainError: Double(wrong) / Double(max(1, seen)), validationTop1: validation?.top1, validationTop5: validation?.top5 ?? nil,
                                       imagesPerSecond: Double(computeImages) / max(elapsed, 1e-9), dataWaitFraction: queue.waitSeconds / max(elapsed, 1e-9),
                                       skippedImages: skippedImages, validationLoss: validation?.loss)
            state.epoch = epoch + 1
            state.stepInEpoch = 0
            (state.epochLossSum, state.epochWrong, state.epochSeen) = (0, 0, 0)
            if isRoot { try writeEpoch(metrics, state, executor, improved: improved, steps: steps) }
            results.append(metrics)
            report(.epoch(metrics))
            if let patience = options.earlyStop, let best = state.bestEpoch, let loss = state.bestValidationLoss, state.epochsSinceBest >= patience {
                report(.stoppedEarly(epoch: epoch + 1, bestEpoch: best, bestLoss: loss))
                break
            }
        }
        return results
    }

    /// The state training starts from: the checkpoint's when resuming (and it exists), else fresh
    /// from `initialWeights`; loaded into the executor and checked against the other ranks. Rank 0
    /// writes the spec and cuts metrics.csv and steps.csv back to it.
    func startingState(_ initialWeights: Safetensors.File, _ executor: any Executor,
                       stored: (channels: Int, height: Int, width: Int)) throws -> Checkpoint {
        var state: Checkpoint
        let fingerprint = data.train.fingerprint
        let classNames = data.classNames
        if options.resume, FileManager.default.fileExists(atPath: checkpointPath) {
            let file = try Safetensors.read(path: checkpointPath)
            state = try resumedState(file, stored: stored, fingerprint: fingerprint, classNames: classNames)
            try Checkpoint.restore(file, path: checkpointPath, into: executor)
        } else {
            state = try freshState(initialWeights, stored: stored, fingerprint: fingerprint, classNames: classNames)
            try Checkpoint.restore(initialWeights, path: "the initial weights", into: executor)
        }
        try checkRanksAgree(state, executor, fingerprint: fingerprint)
        if communicator.isRoot {
            try AtomicFile.write(Data(specText.utf8), to: "\(run)/spec.yaml")
            try Metrics.truncate("\(run)/metrics.csv", keepingEpochs: state.epoch)
            try StepLog.truncate("\(run)/steps.csv", keepingSteps: state.globalStep)
        }
        return state
    }

    /// What the steps of an epoch share.
    struct StepLoop {
        let executor: any Executor
        let gradients: GradientSum
        let plan: ExecutionPlan
        let classes: Int
        let batch: Int
        let stepsPerEpoch: Int
        /// steps.csv, on rank 0 (nil on the others).
        let steps: StepLog?
    }

    /// An epoch's running sums: the loss and errors over the images seen (carried through a
    /// resume by the checkpoint), and this run's images computed and skipped.
    struct EpochSums {
        var loss: Double
        var wrong: Int
        var seen: Int
        var computeImages = 0
        var skippedImages = 0
    }

    /// The optimizer steps of one epoch, from `state.stepInEpoch` on: each batch from the queue,
    /// one step, the progress report and the mid-epoch checkpoint. Returns true when
    /// `--stop-after-steps` ends the run here.
    func runSteps(_ run: StepLoop, epoch: Int, queue: BatchQueue, state: inout Checkpoint, sums: inout EpochSums, started: Date,
                  stepsThisRun: inout Int) throws -> Bool {
        let executor = run.executor, batch = run.batch
        for step in state.stepInEpoch..<run.stepsPerEpoch {
            let b = try queue.next()
            for path in b.skipped { report(.warning("skipped unreadable image \(path)")) }
            sums.skippedImages += b.skipped.count
            try b.images.withUnsafeBufferPointer { try executor.setInput($0) }
            try executor.setLabels(b.labels)
            try executor.setOptimizer(learningRate: state.learningRate, momentum: settings.optimizer.momentum,
                                      weightDecay: settings.optimizer.weightDecay)
            let stepSeed = Self.mix(options.seed, UInt64(state.globalStep))
            let (loss, wrongNow) = try self.step(executor, run.gradients, plan: run.plan, labels: b.labels, seed: stepSeed, classes: run.classes,
                                                 at: "epoch \(epoch + 1), step \(step + 1)")
            guard loss.isFinite else {
                throw Failure(description: "the loss became \(loss.isNaN ? "NaN" : "\(loss)") at epoch \(epoch + 1), step \(step + 1); training stopped. "
                              + "\(lastGood()) Try a smaller learning rate (training.optimizer.lr).")
            }
            run.steps?.append(epoch: epoch + 1, step: step + 1, globalStep: state.globalStep + 1, loss: loss, learningRate: state.learningRate)
            sums.loss += loss
            sums.wrong += wrongNow
            sums.seen += batch
            sums.computeImages += batch
            state.globalStep += 1
            state.stepInEpoch = step + 1
            stepsThisRun += 1
            let elapsed = Date().timeIntervalSince(started)
            report(.step(epoch: epoch, step: step + 1, of: run.stepsPerEpoch, loss: sums.loss / Double(max(1, sums.seen / batch)),
                         imagesPerSecond: Double(sums.computeImages) / max(elapsed, 1e-9)))
            if communicator.isRoot && options.checkpointSteps > 0 && state.globalStep % options.checkpointSteps == 0 && state.stepInEpoch < run.stepsPerEpoch {
                (state.epochLossSum, state.epochWrong, state.epochSeen) = (sums.loss, sums.wrong, sums.seen)
                try run.steps?.flush()
                try save(state, executor, to: checkpointPath, at: "epoch \(epoch + 1), step \(step + 1)")
            }
            if let limit = options.stopAfterSteps, stepsThisRun >= limit { return true }
            Self.countStepForKillHook()
        }
        return false
    }

    /// The files of a finished epoch, in an order a kill at any moment survives: the metrics line
    /// and the buffered steps.csv lines before the checkpoint (a run killed between them redoes the
    /// epoch: its lines are dropped on resume and written again, never lost), the best weights before
    /// the state that names them, then the snapshot.
    func writeEpoch(_ metrics: EpochMetrics, _ state: Checkpoint, _ executor: any Executor, improved: Bool, steps: StepLog?) throws {
        let moment = "the end of epoch \(metrics.epoch)"
        try Metrics.append(metrics, to: "\(run)/metrics.csv")
        try steps?.flush()
        if improved { try save(state, executor, to: bestPath, at: moment) }
        try save(state, executor, to: checkpointPath, at: moment)
        if options.snapshotEpochs.contains(metrics.epoch) {
            try save(state, executor, to: "\(run)/checkpoints/epoch-\(metrics.epoch).safetensors", at: moment)
        }
    }

    /// The batch is the global batch: it must divide among the ranks.
    public static func checkBatch(_ batch: Int, ranks: Int) throws {
        guard batch % ranks == 0 else {
            throw Failure(description: "the batch of \(batch) does not divide among \(ranks) ranks; the batch is the global batch: give one that is a multiple of \(ranks)")
        }
    }

    /// The data fits the network (channels, size, labels), the validation split fits the training
    /// split, and early stopping has something to watch. Returns the network's class count.
    func checkData() throws -> Int {
        let input = graph.input
        let stored = data.train.shape
        guard stored.channels == input.channels, stored.height >= input.height, stored.width >= input.width else {
            throw Failure(description: "the data's images are \(stored.channels)×\(stored.height)×\(stored.width) but '\(graph.name)' takes "
                          + "\(input.channels)×\(input.height)×\(input.width); images must have its channels and be at least its size")
        }
        let classes = graph.nodes.last!.shape!.elementCount!
        try data.train.checkLabels(classes: classes, network: graph.name)
        if let held = data.validation {
            let v = held.shape
            guard v == stored else {
                throw Failure(description: "the validation images are \(v.channels)×\(v.height)×\(v.width) but the training images are "
                              + "\(stored.channels)×\(stored.height)×\(stored.width); both splits must have one size (the mean image is per pixel)")
            }
            guard held.count > 0 else { throw Failure(description: "the validation split of \(held.source) has no images") }
            try held.checkLabels(classes: classes, network: graph.name)
        }
        if let patience = options.earlyStop {
            guard patience >= 1 else { throw Failure(description: "early stopping needs a patience of at least 1 epoch, got \(patience)") }
            guard data.validation != nil else {
                throw Failure(description: "early stopping watches the validation loss, but \(data.train.source) has no validation split")
            }
        }
        return classes
    }

    /// The state of the checkpoint a resume continues from, refused unless the run would continue
    /// exactly (the same spec, seed, ranks, batch, data and classes) and has something left to do.
    func resumedState(_ file: Safetensors.File, stored: (channels: Int, height: Int, width: Int), fingerprint: String,
                      classNames: [String]?) throws -> Checkpoint {
        let batch = options.batch, ranks = communicator.size
        let state = try Checkpoint.read(file, path: checkpointPath)
        if state.spec != specText {
            throw Failure(description: "\(checkpointPath) was trained with a different spec; resume with the same spec, or start a new run (a new --out)\n"
                          + Checkpoint.differences(state.spec, specText).map { "  " + $0 }.joined(separator: "\n"))
        }
        if state.seed != options.seed {
            throw Failure(description: "\(checkpointPath) was trained with --seed \(state.seed), not \(options.seed); resume with the same seed")
        }
        // A resumed run computes what the uninterrupted one would have, or does not run.
        if (state.ranks ?? 1) != ranks {
            let trained = state.ranks ?? 1
            throw Failure(description: "\(checkpointPath) was trained on \(trained) rank\(trained == 1 ? "" : "s"), not \(ranks); resume on "
                          + (trained == 1 ? "one (without mpirun)" : "\(trained) (mpirun -np \(trained))")
                          + ": another count sums the gradients in another order, so the run would not continue exactly")
        }
        if let b = state.batch, b != batch {
            throw Failure(description: "\(checkpointPath) was trained with --batch \(b), not \(batch); resume with --batch \(b) "
                          + "(another batch changes every step that follows), or start a new run (a new --out)")
        }
        if let f = state.dataFingerprint, f != fingerprint {
            throw Failure(description: "\(checkpointPath) was trained on other data than \(data.train.source) (another image count, image size or labels); "
                          + "resume with the same --data, or start a new run (a new --out)")
        }
        if state.meanShape != [stored.channels, stored.height, stored.width] {
            throw Failure(description: "\(checkpointPath) was trained on images of \(state.meanShape.map(String.init).joined(separator: "×")), "
                          + "but \(data.train.source) has \(stored.channels)×\(stored.height)×\(stored.width); resume with the same --data")
        }
        if let names = state.classNames, let now = classNames, names != now {
            throw Failure(description: "\(checkpointPath) was trained on the classes \(names.joined(separator: ", ")), but \(data.train.source) has "
                          + "\(now.joined(separator: ", ")); resume with the same --data")
        }
        if state.earlyStop != options.earlyStop {
            throw Failure(description: "\(checkpointPath) was trained with " + (state.earlyStop.map { "--early-stop \($0)" } ?? "no early stopping")
                          + ", not " + (options.earlyStop.map { "--early-stop \($0)" } ?? "without it") + "; resume with the same "
                          + "(another patience would stop at another epoch than the uninterrupted run)")
        }
        if let patience = options.earlyStop, let best = state.bestEpoch, state.epochsSinceBest >= patience {
            throw Failure(description: "nothing to do: \(checkpointPath) stopped early after epoch \(state.epoch) (the validation loss was lowest "
                          + "at epoch \(best), its weights in \(bestPath)); pass a larger early-stop patience to train on")
        }
        if state.epoch >= options.epochs {
            throw Failure(description: "nothing to do: \(checkpointPath) has finished \(state.epoch) of \(options.epochs) epochs; pass a larger --epochs to train on")
        }
        return state
    }

    /// The state of a new run: the folder cleared (with --overwrite), the preprocessing statistics
    /// (a transferred network's source's, else the training images'), the transfer record written.
    func freshState(_ initialWeights: Safetensors.File, stored: (channels: Int, height: Int, width: Int), fingerprint: String,
                    classNames: [String]?) throws -> Checkpoint {
        let batch = options.batch, ranks = communicator.size, isRoot = communicator.isRoot
        if options.resume && !options.overwrite { report(.warning("no checkpoint in \(run)/checkpoints; starting a new run")) }
        if isRoot { try startOver() }
        if options.strict, let held = data.validation { try Self.checkReadable(held) }
        // A transferred network keeps its source's preprocessing (Pretrained.merge brings it along):
        // its features were learned on images prepared that way. Otherwise: the training images' own.
        let stats: (mean: [Float], values: [Float], vectors: [Float])
        if let inherited = initialWeights.tensors["data/mean"] {
            guard inherited.shape == [stored.channels, stored.height, stored.width] else {
                throw Failure(description: "the pretrained weights were trained on images of \(inherited.shape.map(String.init).joined(separator: "×")), but "
                              + "\(data.train.source) has \(stored.channels)×\(stored.height)×\(stored.width); a transferred network keeps its source's "
                              + "preprocessing, so the images must be stored at the same size")
            }
            stats = (inherited.values, initialWeights.tensors["data/pca_values"]?.values ?? [], initialWeights.tensors["data/pca_vectors"]?.values ?? [])
        } else {
            stats = try Preprocessing.statistics(data.train, strict: options.strict)
        }
        if isRoot, let record = initialWeights.metadata[Pretrained.recordKey] {
            try AtomicFile.write(Data(record.utf8), to: run + "/transfer.json")
        }
        if let bad = stats.mean.firstIndex(where: { !$0.isFinite }) {
            throw Failure(description: "the mean of the training images is \(stats.mean[bad]) at position \(bad); the data holds values that are not finite numbers")
        }
        return Checkpoint(epoch: 0, stepInEpoch: 0, globalStep: 0, learningRate: settings.optimizer.learningRate,
                          bestValidationError: .infinity, epochsWithoutImprovement: 0, seed: options.seed, spec: specText,
                          mean: stats.mean, meanShape: [stored.channels, stored.height, stored.width],
                          pcaValues: stats.values, pcaVectors: stats.vectors, epochLossSum: 0, epochWrong: 0, epochSeen: 0,
                          batch: batch, dataFingerprint: fingerprint, classNames: classNames, ranks: ranks > 1 ? ranks : nil,
                          earlyStop: options.earlyStop)
    }

    /// The executor of one training step at `local` images (this rank's share of the batch):
    /// forward, loss, backward, the SGD update (and ZF's clip), the softmax output kept readable
    /// (for the training error). Frozen layers (training.freeze): no gradient where nothing below
    /// needs one, no update, no momentum.
    func trainingExecutor(local: Int, rank: Int) throws -> (ExecutionPlan, any Executor) {
        let derived = try DerivedGraph.derive(graph, backward: .training(graph, freeze: spec.training?.freeze ?? []), dropout: true,
                                               optimizer: OptimizerSteps(filterRMSClip: settings.filterRMSClip))
        let plan = backend.plan(derived, batch: local, keep: [TensorID.value(graph.nodes.count - 1)])
        let executor = try backend.makeExecutor(plan)
        executor.imageOffset = rank * local
        return (plan, executor)
    }

    /// Every rank has read the spec, data and state itself: they must agree before the first step.
    func checkRanksAgree(_ state: Checkpoint, _ executor: any Executor, fingerprint: String) throws {
        guard communicator.isDistributed else { return }
        let start = "epoch \(state.epoch) step \(state.stepInEpoch) weights \(try Self.digest(executor))"
        if let problem = communicator.disagreement(Self.digest(specText), about: "a spec") ?? communicator.disagreement(fingerprint, about: "training data")
            ?? communicator.disagreement(start, about: "a starting point") {
            throw Failure(description: problem)
        }
    }

    /// One training step on the batch already in the executor (forward, loss, backward, update;
    /// over several ranks the gradients summed between backward and update). Returns the batch's
    /// mean loss and wrong predictions over every rank; a device fault is an error with its place.
    func step(_ executor: any Executor, _ gradients: GradientSum, plan: ExecutionPlan, labels: [Int32], seed: UInt64, classes: Int,
              at place: String) throws -> (loss: Double, wrong: Int) {
        let lastNode = graph.nodes.count - 1
        do {
            if communicator.isDistributed {
                let ranks = communicator.size
                let loss = try executor.run(seed: seed, steps: 0..<plan.updateStart) ?? .nan
                var totals = [loss / Double(ranks), Double(Self.wrong(try executor.read(.value(lastNode)), labels: labels, classes: classes))]
                try gradients.sum(andAlso: &totals)
                try executor.run(seed: seed, steps: plan.updateStart..<plan.steps.count)
                return (totals[0], Int(totals[1]))
            }
            let loss = try executor.run(seed: seed) ?? .nan
            return (loss, Self.wrong(try executor.read(.value(lastNode)), labels: labels, classes: classes))
        } catch {
            // A device fault is an error with its place, never a NaN loss; the last checkpoint stays.
            throw Failure(description: "the training step failed at \(place): \(error). Training stopped. \(lastGood())")
        }
    }

    /// The validation split's top-1, top-5 and loss (inference mode) for the executor's weights.
    func validate(_ evaluator: Evaluator, _ executor: any Executor) throws -> (top1: Double, top5: Double?, loss: Double)? {
        guard let held = data.validation else { return nil }
        try evaluator.load(from: executor)
        let p = try evaluator.predictions(held, views: 1, strict: options.strict, communicator: communicator)
        let result = Evaluator.errors(p, held)
        for index in p.unreadable.keys.sorted() { report(.warning("skipped unreadable validation image: \(p.unreadable[index]!)")) }
        if result.images == 0 { throw Failure(description: "no image of the validation split \(held.source) could be read") }
        return (result.top1, result.top5, Evaluator.loss(p, held))
    }

    /// Early stopping: a new lowest validation loss resets the count (the caller keeps its
    /// weights); returns whether this epoch is the new best.
    static func trackBest(_ state: inout Checkpoint, validation: (top1: Double, top5: Double?, loss: Double)?, epoch: Int, watching: Bool) -> Bool {
        guard watching, let loss = validation?.loss else { return false }
        if loss < (state.bestValidationLoss ?? .infinity) {
            (state.bestValidationLoss, state.bestEpoch, state.epochsSinceBest) = (loss, epoch + 1, 0)
            return true
        }
        state.epochsSinceBest += 1
        return false
    }

    /// The learning rate after `epoch`: constant, stepped at the listed epochs, or cut on a plateau
    /// of the validation top-1 error.
    static func schedule(_ state: inout Checkpoint, _ schedule: TrainingSpec.Schedule, validation: (top1: Double, top5: Double?, loss: Double)?, epoch: Int) {
        switch schedule {
        case .constant: break
        case let .step(factor, epochs):
            if epochs.contains(epoch + 1) { state.learningRate *= factor }
        case let .plateau(factor, patience):
            guard let v = validation?.top1 else { return }
            if v < state.bestValidationError - 1e-9 {
                state.bestValidationError = v
                state.epochsWithoutImprovement = 0
            } else {
                state.epochsWithoutImprovement += 1
                if state.epochsWithoutImprovement >= patience {
                    state.learningRate *= factor
                    state.epochsWithoutImprovement = 0
                }
            }
        }
    }

    /// The kill-and-resume tests' hook: with `STRATA_KILL_AFTER_STEPS=N` in its environment the
    /// process SIGKILLs itself right after its N-th training step (counted over every run in the
    /// process; that step's checkpoint, if any, written), a kill at a known place instead of a
    /// race with a poll. Unset, it does nothing.
    static let killAfterSteps: Int? = ProcessInfo.processInfo.environment["STRATA_KILL_AFTER_STEPS"].flatMap { Int($0) }
    nonisolated(unsafe) static var stepsInProcess = 0

    static func countStepForKillHook() {
        guard let limit = killAfterSteps else { return }
        stepsInProcess += 1
        if stepsInProcess >= limit { kill(getpid(), SIGKILL) }
    }

    /// Where training can go back to: the latest checkpoint, which is finite (none is written otherwise).
    func lastGood() -> String {
        guard let file = try? Safetensors.read(path: checkpointPath), let state = try? Checkpoint.read(file, path: checkpointPath) else {
            return "No checkpoint was written before it."
        }
        return "The last good checkpoint is \(checkpointPath) (epoch \(state.epoch + (state.stepInEpoch > 0 ? 1 : 0)), "
            + (state.stepInEpoch > 0 ? "step \(state.stepInEpoch))." : "its end).")
    }

    /// Writes a checkpoint, refusing weights that are not finite numbers.
    func save(_ state: Checkpoint, _ executor: any Executor, to path: String, at moment: String) throws {
        do {
            try state.write(executor: executor, to: path)
        } catch let bad as Checkpoint.NonFinite {
            throw Failure(description: "the weights stopped being finite numbers by \(moment) (\(bad)); training stopped and no checkpoint was written. "
                          + "\(lastGood()) Try a smaller learning rate (training.optimizer.lr).")
        }
    }

    /// A new run in the run folder: refused when it holds another run, unless `overwrite`, which deletes it.
    func startOver() throws {
        let fm = FileManager.default
        let snapshots = ((try? fm.contentsOfDirectory(atPath: "\(run)/checkpoints")) ?? []).filter { $0.hasSuffix(".safetensors") }
        let existing = (fm.fileExists(atPath: "\(run)/metrics.csv") ? ["metrics.csv"] : []) + snapshots.sorted().map { "checkpoints/\($0)" }
        guard !existing.isEmpty else { return }
        guard options.overwrite else {
            throw Failure(description: "\(run) already holds a run (\(existing.prefix(3).joined(separator: ", "))\(existing.count > 3 ? ", ..." : "")); "
                          + "pass --resume to continue it, --overwrite to delete it and start over, or choose another --out")
        }
        for name in existing + ["steps.csv"] { try? fm.removeItem(atPath: "\(run)/\(name)") }
    }

    /// Decodes every image of `data` once, stopping at the first that cannot be read.
    static func checkReadable(_ data: any Dataset) throws {
        for i in 0..<data.count { _ = try data.pixels(i) }
    }

    /// Wrong top-1 predictions of a batch (a row that is not finite is wrong).
    static func wrong(_ probabilities: [Float], labels: [Int32], classes: Int) -> Int {
        var wrong = 0
        for n in 0..<labels.count {
            let row = probabilities[(n * classes)..<((n + 1) * classes)]
            if !row.allSatisfy(\.isFinite) || row.indices.max(by: { row[$0] < row[$1] })! - n * classes != Int(labels[n]) { wrong += 1 }
        }
        return wrong
    }

    /// FNV-1a of a text, as hex digits (to compare what ranks read without sending it all).
    static func digest(_ text: String) -> String {
        var h = FNV1a()
        h.add(text)
        return h.hex
    }

    /// A digest of every parameter's name and bits.
    static func digest(_ executor: any Executor) throws -> String {
        var h = FNV1a()
        for p in executor.plan.parameters {
            h.add(p.name)
            try executor.read(p.tensor).withUnsafeBytes { h.add($0) }
        }
        return h.hex
    }

    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var g = SplitMix64(seed: a ^ (b &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }

    /// The order of the training images in an epoch: a Fisher–Yates shuffle from (seed, epoch).
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var g = SplitMix64(seed: mix(seed, 0xE90C_0000 &+ UInt64(epoch)))
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(g.next() % UInt64(i + 1)))
        }
        return order
    }

    /// Decodes and augments a batch on `threads` threads, each image from (seed, epoch, image), so
    /// the batch does not depend on the thread count. An unreadable image is replaced by the next
    /// readable one (reported in `skipped`, in image order), or stops the run when `strict`.
    static func makeBatch(_ data: any Dataset, order: [Int], preprocessing: Preprocessing, threads: Int = 1, seed: UInt64, epoch: Int, perImage: Int,
                          strict: Bool) throws -> Batch {
        var images = [Float](repeating: 0, count: order.count * perImage)
        var labels = [Int32](repeating: 0, count: order.count)
        let results = ResultSlots(count: order.count)
        images.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let base = out.baseAddress!   // each image writes its own slice
            let workers = max(1, min(threads, order.count))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for n in stride(from: w, to: order.count, by: workers) {
                    let index = order[n]
                    var i = index, pixels: [Float]?, skipped: [String] = []
                    for attempt in 0..<data.count {
                        do {
                            pixels = try data.pixels(i)
                            break
                        } catch {
                            if strict { results.set(n, .failure(error)); return }
                            skipped.append("\(error)")
                            i = (index + attempt + 1) % data.count
                        }
                    }
                    guard let pixels else { results.set(n, .failure(Failure(description: "no image of the training set could be read"))); return }
                    preprocessing.prepare(pixels, into: base + n * perImage, training: true, seed: mix(seed, UInt64(epoch) << 32 | UInt64(i)))
                    results.set(n, .success((Int32(data.label(i)), skipped)))
                }
            }
        }
        var skipped: [String] = []
        for n in 0..<order.count {
            let (label, missed) = try results.get(n)
            labels[n] = label
            skipped += missed
        }
        return Batch(images: images, labels: labels, skipped: skipped)
    }
}

/// One result per image of a batch, filled by the loader's threads.
final class ResultSlots: @unchecked Sendable {
    private var slots: [Result<(Int32, [String]), Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ n: Int, _ r: Result<(Int32, [String]), Error>) { lock.lock(); slots[n] = r; lock.unlock() }
    func get(_ n: Int) throws -> (Int32, [String]) {
        lock.lock(); defer { lock.unlock() }
        guard let r = slots[n] else { throw Trainer.Failure(description: "an image of the batch was not made") }
        return try r.get()
    }
}

/// `RUN/metrics.csv`: one line per epoch.
enum Metrics {
    static let header = "epoch,step,lr,loss,train_top1_error,val_top1_error,val_top5_error,images_per_s,data_wait_fraction,val_loss"

    static func append(_ m: Trainer.EpochMetrics, to path: String) throws {
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        if text.isEmpty { text = header + "\n" }
        // A run begun before a column was added: the new header, and its older lines padded with
        // empty fields for the new columns (every line as wide as the header).
        if let end = text.firstIndex(of: "\n"), text[..<end] != header, header.hasPrefix(text[..<end]) {
            let missing = header.split(separator: ",").count - text[..<end].split(separator: ",").count
            let older = text[text.index(after: end)...].split(separator: "\n").map { $0 + String(repeating: ",", count: missing) }
            text = header + "\n" + older.map { $0 + "\n" }.joined()
        }
        func f(_ x: Double?) -> String { x.map { String(format: "%.6g", $0) } ?? "" }
        text += "\(m.epoch),\(m.step),\(f(m.learningRate)),\(f(m.loss)),\(f(m.trainError)),\(f(m.validationTop1)),\(f(m.validationTop5)),"
            + "\(f(m.imagesPerSecond)),\(f(m.dataWaitFraction)),\(f(m.validationLoss))\n"
        try AtomicFile.write(Data(text.utf8), to: path)
    }

    /// Drops lines of epochs after `keepingEpochs` (written before a kill, redone after the resume).
    static func truncate(_ path: String, keepingEpochs: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let lines = text.split(separator: "\n").filter { line in
            guard let epoch = Int(line.split(separator: ",").first ?? "") else { return true }
            return epoch <= keepingEpochs
        }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: path)
    }
}

/// Keeps two `strata train` processes out of one run folder: an exclusive `flock` on
/// `RUN/.lock`, released when the process ends, however it ends.
final class RunLock {
    let fd: Int32

    init(folder: String) throws {
        let path = "\(folder)/.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError(path: path, reason: "cannot create the run's lock file: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw Trainer.Failure(description: "another strata train (process \(pid)) is using \(folder); wait for it to end, or train into another --out")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
