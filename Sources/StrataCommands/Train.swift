import ArgumentParser
import Foundation
import StrataFormats
import StrataIR
import StrataMPI
import StrataTrain

/// `strata train SPEC --data DATA --out RUN`: trains on the CPU, writing RUN/metrics.csv,
/// RUN/checkpoints/ and RUN/spec.yaml; `--resume` continues a killed run exactly.
struct Train: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on a data folder; checkpoints are atomic and --resume continues exactly.",
        discussion: """
            DATA: IDX files (MNIST, Fashion-MNIST; gzip or plain), CIFAR-10 binary batches, an image tree \
            with train/ and val/ (one subfolder per class; PNG or JPEG), or images.npy + labels.npy \
            (+ val_images.npy, val_labels.npy). Writes RUN/metrics.csv (one line per epoch), \
            RUN/checkpoints/latest.safetensors (and epoch-N.safetensors for --snapshot-epochs) and RUN/spec.yaml.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "The data folder.")
    var data: String

    @Option(help: "The run folder (created if missing).")
    var out: String

    @Option(help: "Epochs in all (default: the spec's training.epochs).")
    var epochs: Int?

    @Option(help: "Batch size (default: the spec's training.batch).")
    var batch: Int?


    @Option(help: "Seed of the initial weights, the data order, augmentation and dropout.")
    var seed: UInt64 = 0

    @Flag(help: "Continue from RUN/checkpoints/latest.safetensors (same spec, data, --batch and --seed).")
    var resume = false

    @Flag(help: "Delete the run already in RUN (metrics.csv, checkpoints) and start over.")
    var overwrite = false

    @Option(help: "Epochs after which to keep a separate checkpoint (the ZF feature-evolution epochs: 1,2,5,10,20,30,40,64).")
    var snapshotEpochs: String = ""

    @Option(help: "Also write a checkpoint every N steps (0: at epoch ends only).")
    var checkpointSteps = 0

    @Option(name: .customLong("early-stop"), help: ArgumentHelp("Stop once the validation loss has not improved for N epochs (--epochs stays the most).",
                                                                discussion: "The loss is measured in inference mode (dropout off) after each epoch; the weights of its best epoch are kept in RUN/checkpoints/best.safetensors."))
    var earlyStop: Int?

    @Flag(help: "Stop at the first unreadable image instead of skipping it.")
    var strict = false

    @Option(help: "Threads that decode and augment images (default: every core but one). The batches are the same for any count.")
    var loaderThreads: Int?

    @Option(name: .customLong("init-from"), help: ArgumentHelp("Pretrained weights (.safetensors, weights or a checkpoint) for the layers they fit by name (default: the spec's training.weights).",
                                                               discussion: "A layer they lack or have in another shape is an error, unless a variant of the spec changed or added it (set, insert): it starts fresh. Layers in training.freeze keep these weights."))
    var initFrom: String?

    func validate() throws {
        if let epochs, epochs < 1 || epochs > 1_000_000 { throw ValidationError("--epochs must be between 1 and 1000000") }
        if let batch, batch < 1 || batch > CommandSupport.maximumBatch { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
        guard !(resume && overwrite) else { throw ValidationError("--resume continues the run in --out and --overwrite deletes it; give one") }
        if let loaderThreads, loaderThreads < 1 || loaderThreads > 1024 { throw ValidationError("--loader-threads must be between 1 and 1024") }
        if let earlyStop, earlyStop < 1 || earlyStop > 1_000_000 { throw ValidationError("--early-stop takes a patience in epochs, at least 1") }
        guard checkpointSteps >= 0 else { throw ValidationError("--checkpoint-steps must be 0 or more") }
        guard snapshotEpochs.split(separator: ",").allSatisfy({ Int($0.trimmingCharacters(in: .whitespaces)).map { $0 >= 1 } ?? false }) else {
            throw ValidationError("--snapshot-epochs takes epoch numbers, e.g. 1,2,5,10")
        }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        // Progress goes straight to stderr when that is where errors go (live); otherwise (tests) it is
        // collected and written to the errors stream when training ends.
        let live = errors is StandardStream
        let settings = spec.training
        var options = Trainer.Options(epochs: epochs ?? settings?.epochs ?? 10, batch: batch ?? settings?.batch ?? 128)
        options.seed = seed
        options.resume = resume
        options.overwrite = overwrite
        options.snapshotEpochs = Set(snapshotEpochs.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        options.checkpointSteps = checkpointSteps
        options.strict = strict
        options.earlyStop = earlyStop
        if let loaderThreads { options.loaderThreads = loaderThreads }
        let progress = Progress(terminal: live && isatty(2) == 1, epochs: options.epochs, live: live)
        var summary = ""
        let status = CommandSupport.run(errors: &errors) {
            let backend = try network.backend
            let splits = try DataLoader.open(data, channels: graph.input.channels, side: max(graph.input.height, graph.input.width))
            // Under mpirun: data-parallel over the job's ranks; rank 0 reports progress, the others their warnings.
            let world = World.current
            let trainer = Trainer(graph: graph, spec: spec, data: splits, run: out, options: options, backend: backend, communicator: world)
            trainer.report = { event in
                if world.isRoot { progress.handle(event) } else if case .warning = event { progress.handle(event) }
            }
            if !world.isRoot { progress.prefix = "[rank \(world.rank)/\(world.size)] " }
            // One clear error, before any line that would assume the split.
            try Trainer.checkBatch(options.batch, ranks: world.size)
            if world.isDistributed && world.isRoot { progress.write("data-parallel on \(world.size) ranks: \(options.batch / world.size) images each per step of \(options.batch)\n") }
            let started = Date()
            defer { progress.finish() }
            var initial = Initialization.weights(graph: graph, spec: spec, seed: seed)
            if let path = initFrom ?? Pretrained.path(in: spec), !resume {
                let pretrained = try Safetensors.read(path: path)
                initial = try Pretrained.merge(initial, with: pretrained, source: path, graph: graph, spec: spec).weights
            }
            let results = try trainer.train(initialWeights: initial)
            if let last = results.last {
                let seconds = Date().timeIntervalSince(started)
                summary = "trained \(graph.name) for \(results.count) epoch(s) in \(Int(seconds.rounded())) s; "
                    + "validation top-1 error \(percent(last.validationTop1)), top-5 \(percent(last.validationTop5)); "
                    + "checkpoint \(out)/checkpoints/latest.safetensors"
                    + (earlyStop != nil ? ", the lowest validation loss's in \(out)/checkpoints/best.safetensors" : "") + "\n"
            }
            return 0
        }
        if !live { errors.write(progress.collected) }
        output.write(summary)
        return status
    }
}

func percent(_ x: Double?) -> String { x.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }

/// Progress: a redrawn bar on a terminal, plain log lines otherwise (both on stderr).
final class Progress: @unchecked Sendable {
    let terminal: Bool
    let epochs: Int
    var lastLog = Date.distantPast
    var stepsPerEpoch = 1
    var currentEpoch = -1
    var firstStep: (Int, Date)?

    let live: Bool
    /// What was written, when not live.
    var collected = ""

    init(terminal: Bool, epochs: Int, live: Bool) {
        self.terminal = terminal
        self.epochs = epochs
        self.live = live
    }

    /// Put before each line (`[rank r/R] ` on the ranks of a job other than 0, which report only warnings).
    var prefix = ""

    func write(_ s: String) {
        let text = prefix.isEmpty ? s : prefix + s
        if live { FileHandle.standardError.write(Data(text.utf8)) } else { collected += text }
    }

    func handle(_ event: Trainer.Event) {
        switch event {
        case let .started(train, validation, steps, resumed):
            stepsPerEpoch = steps
            var line = "training on \(train) images (\(steps) steps per epoch), validating on \(validation)"
            if let (e, s) = resumed { line += "; resumed at epoch \(e + 1), step \(s)" }
            write(line + "\n")
        case let .step(epoch, step, of, loss, speed):
            // ETA from the steps seen since this epoch (or this resumed part of it) began.
            if epoch != currentEpoch || firstStep == nil {
                currentEpoch = epoch
                firstStep = (step, Date())
            }
            let (startStep, startTime) = firstStep!
            let perStep = step > startStep ? Date().timeIntervalSince(startTime) / Double(step - startStep) : 0
            let eta = perStep * Double(of - step)
            if terminal {
                // Redraw at most ten times a second.
                guard Date().timeIntervalSince(lastLog) >= 0.1 || step == of else { return }
                lastLog = Date()
                let width = 30, filled = Int(Double(width) * Double(step) / Double(max(of, 1)))
                let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
                write(String(format: "\r\u{1B}[Kepoch %ld/%ld %@ %ld/%ld loss %.4f %.0f img/s ETA %@", epoch + 1, epochs, bar, step, of, loss, speed, clock(eta)))
            } else if Date().timeIntervalSince(lastLog) >= 10 || step == of {
                lastLog = Date()
                write(String(format: "epoch %ld/%ld step %ld/%ld loss %.4f %.0f img/s eta %@\n", epoch + 1, epochs, step, of, loss, speed, clock(eta)))
            }
        case let .epoch(m):
            if terminal { write("\r\u{1B}[K") }
            write(String(format: "epoch %ld: loss %.4f, train error %@, val %@top-1 %@ top-5 %@, %.0f img/s, data wait %.1f%%\n",
                         m.epoch, m.loss, percent(m.trainError), m.validationLoss.map { String(format: "loss %.4f, ", $0) } ?? "", percent(m.validationTop1), percent(m.validationTop5),
                         m.imagesPerSecond, m.dataWaitFraction * 100))
            if m.skippedImages > 0 { write("epoch \(m.epoch): \(m.skippedImages) unreadable image(s) skipped\n") }
        case let .allreduce(seconds, bytes, step):
            if terminal { write("\r\u{1B}[K") }
            write(String(format: "epoch %ld: allreduce %.1f ms per step (%.1f MB of gradients), %.1f%% of a %.1f ms step\n",
                         currentEpoch + 1, seconds * 1e3, Double(bytes) / 1e6, 100 * seconds / max(step, 1e-12), step * 1e3))
        case let .stoppedEarly(epoch, best, loss):
            if terminal { write("\r\u{1B}[K") }
            write(String(format: "stopped early after epoch %ld: the validation loss was lowest at epoch %ld (%.4f) and has not improved since\n", epoch, best, loss))
        case let .warning(message):
            if terminal { write("\r\u{1B}[K") }
            write("warning: \(message)\n")
        }
    }

    func finish() { if terminal { write("\r\u{1B}[K") } }

    func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60) : String(format: "%ld:%02ld", s / 60, s % 60)
    }
}
