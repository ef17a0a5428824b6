import Foundation
import StrataFormats
import StrataIR
import StrataPlan

/// Everything a run needs to continue exactly where it stopped, in one safetensors file:
/// weights (`LAYER.weight`, as `strata init` writes them, so a checkpoint is also a weights file),
/// momentum (`momentum/LAYER.weight`), the data statistics (`data/mean`, `data/pca_values`,
/// `data/pca_vectors`) and the state in the metadata. Written atomically (temp file, fsync, rename).
public struct Checkpoint: Sendable {
    public var epoch: Int               // completed epochs
    public var stepInEpoch: Int         // steps done in the current epoch
    public var globalStep: Int
    public var learningRate: Double
    public var bestValidationError: Double
    public var epochsWithoutImprovement: Int
    public var seed: UInt64
    /// The resolved spec the run trains (SpecPrinter's text), to refuse resuming with another.
    public var spec: String
    public var mean: [Float]
    public var meanShape: [Int]
    public var pcaValues: [Float]
    public var pcaVectors: [Float]
    /// The current epoch's running sums (loss, wrong predictions, images), for its metrics line.
    public var epochLossSum: Double
    public var epochWrong: Int
    public var epochSeen: Int
    /// What a resume must match to continue exactly (nil in checkpoints written before they were recorded).
    public var batch: Int?
    public var dataFingerprint: String?
    /// An image tree's class folders, in the order of the network's outputs (nil for other data).
    public var classNames: [String]?
    /// The data-parallel ranks that trained it (nil: one, or written before ranks were recorded).
    public var ranks: Int? = nil
    /// Early stopping (`Trainer.Options.earlyStop`): the lowest validation loss so far, the epoch
    /// that reached it (its weights are `checkpoints/best.safetensors`), and the epochs since.
    public var bestValidationLoss: Double? = nil
    public var bestEpoch: Int? = nil
    public var epochsSinceBest = 0
    /// The early-stopping patience the run trains with (nil: none): a resume must keep it.
    public var earlyStop: Int? = nil

    public static let format = "strata-checkpoint"

    /// Weights or momentum that are not finite numbers: such a checkpoint is never written.
    public struct NonFinite: Error, CustomStringConvertible {
        public var tensor: String
        public var value: Float
        public var description: String { "\(tensor) holds \(value)" }
    }

    public func write(executor: any Executor, to path: String) throws {
        let parameters = try executor.parameterTensors(momentum: true)
        for p in parameters {
            if let bad = p.values.first(where: { !$0.isFinite }) { throw NonFinite(tensor: p.name, value: bad) }
        }
        var tensors: [(String, Safetensors.Tensor)] = parameters.map {
            ($0.name, Safetensors.Tensor(shape: $0.shape, values: $0.values))
        }
        tensors.append(("data/mean", .init(shape: meanShape, values: mean)))
        if !pcaValues.isEmpty {
            tensors.append(("data/pca_values", .init(shape: [3], values: pcaValues)))
            tensors.append(("data/pca_vectors", .init(shape: [3, 3], values: pcaVectors)))
        }
        var metadata: [String: String] = [
            "format": Self.format, "network": executor.plan.networkName, "epoch": "\(epoch)", "step_in_epoch": "\(stepInEpoch)",
            "global_step": "\(globalStep)", "learning_rate": "\(learningRate)", "best_val_error": "\(bestValidationError)",
            "epochs_without_improvement": "\(epochsWithoutImprovement)", "seed": "\(seed)", "spec": spec,
            "epoch_loss_sum": "\(epochLossSum)", "epoch_wrong": "\(epochWrong)", "epoch_seen": "\(epochSeen)",
        ]
        if let batch { metadata["batch"] = "\(batch)" }
        if let ranks { metadata["ranks"] = "\(ranks)" }
        if let earlyStop { metadata["early_stop"] = "\(earlyStop)" }
        if let bestValidationLoss, let bestEpoch {
            metadata["best_val_loss"] = "\(bestValidationLoss)"
            metadata["best_epoch"] = "\(bestEpoch)"
            metadata["epochs_since_best"] = "\(epochsSinceBest)"
        }
        if let dataFingerprint { metadata["data_fingerprint"] = dataFingerprint }
        if let classNames { metadata["classes"] = JSONValue.strings(classNames).text(.minimal) }
        try Safetensors.write(Safetensors.File(tensors: tensors, metadata: metadata), path: path)
    }

    /// Reads the state; the tensors stay in `file` for `restore`.
    public static func read(_ file: Safetensors.File, path: String) throws -> Checkpoint {
        let m = file.metadata
        guard m["format"] == format, let epoch = Int(m["epoch"] ?? ""), let step = Int(m["step_in_epoch"] ?? ""),
              let global = Int(m["global_step"] ?? ""), let lr = Double(m["learning_rate"] ?? ""),
              let best = Double(m["best_val_error"] ?? ""), let bad = Int(m["epochs_without_improvement"] ?? ""),
              let seed = UInt64(m["seed"] ?? ""), let spec = m["spec"], let mean = file.tensors["data/mean"] else {
            throw FormatError(path: path, reason: "it is not a complete Strata checkpoint")
        }
        func corrupt(_ what: String) -> FormatError { FormatError(path: path, reason: "its checkpoint state is corrupt: \(what)") }
        guard epoch >= 0, step >= 0, global >= 0 else { throw corrupt("a negative epoch or step") }
        guard lr.isFinite, lr >= 0 else { throw corrupt("learning rate \(lr)") }
        guard bad >= 0, !best.isNaN else { throw corrupt("the plateau schedule's state") }
        guard mean.shape.count == 3, mean.values.allSatisfy(\.isFinite) else { throw corrupt("data/mean is not a finite (C, H, W) image") }
        let pcaValues = file.tensors["data/pca_values"]?.values ?? [], pcaVectors = file.tensors["data/pca_vectors"]?.values ?? []
        guard pcaValues.isEmpty && pcaVectors.isEmpty || pcaValues.count == 3 && pcaVectors.count == 9 else {
            throw corrupt("data/pca_values and data/pca_vectors must be 3 values and a 3×3 matrix")
        }
        if let b = m["batch"] { guard let n = Int(b), n >= 1 else { throw corrupt("batch '\(b)'") } }
        var bestLoss: Double?, bestEpoch: Int?, sinceBest = 0
        if let text = m["best_val_loss"] {
            guard let loss = Double(text), !loss.isNaN, loss >= 0, let e = Int(m["best_epoch"] ?? ""), (1...max(1, epoch)).contains(e),
                  let since = Int(m["epochs_since_best"] ?? ""), since >= 0 else { throw corrupt("the early stopping state") }
            (bestLoss, bestEpoch, sinceBest) = (loss, e, since)
        }
        return Checkpoint(epoch: epoch, stepInEpoch: step, globalStep: global, learningRate: lr, bestValidationError: best,
                          epochsWithoutImprovement: bad, seed: seed, spec: spec, mean: mean.values, meanShape: mean.shape,
                          pcaValues: pcaValues, pcaVectors: pcaVectors,
                          epochLossSum: Double(m["epoch_loss_sum"] ?? "") ?? 0, epochWrong: Int(m["epoch_wrong"] ?? "") ?? 0,
                          epochSeen: Int(m["epoch_seen"] ?? "") ?? 0, batch: Int(m["batch"] ?? ""), dataFingerprint: m["data_fingerprint"],
                          classNames: try classNames(file, path: path), ranks: Int(m["ranks"] ?? ""),
                          bestValidationLoss: bestLoss, bestEpoch: bestEpoch, epochsSinceBest: sinceBest,
                          earlyStop: try m["early_stop"].map { text in
                              guard let n = Int(text), n >= 1 else { throw corrupt("early_stop '\(text)'") }
                              return n
                          })
    }

    /// The class names a checkpoint stores (`"classes"` in the metadata, a JSON list of strings), or nil.
    public static func classNames(_ file: Safetensors.File, path: String) throws -> [String]? {
        guard let text = file.metadata["classes"] else { return nil }
        guard case .array(let items)? = try? JSONValue.parse(Array(text.utf8)),
              case let names = items.compactMap(\.text), names.count == items.count, Set(names).count == names.count else {
            throw FormatError(path: path, reason: "its 'classes' metadata is not a list of distinct class names")
        }
        return names
    }

    /// Copies weights and momentum from a checkpoint (or weights) file into an executor; a tensor
    /// that is missing or of another shape is an error naming it.
    public static func restore(_ file: Safetensors.File, path: String, into executor: any Executor) throws {
        do {
            try executor.loadParameters(file.parameterTensors, momentum: true)
        } catch let mismatch as ParameterMismatch {
            throw FormatError(path: path, reason: "\(mismatch)")
        }
    }

    /// The lines of `a` and `b` that differ, for "resuming with a different spec" messages.
    public static func differences(_ a: String, _ b: String) -> [String] {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false), y = b.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [String] = []
        for i in 0..<max(x.count, y.count) {
            let l = i < x.count ? String(x[i]) : "", r = i < y.count ? String(y[i]) : ""
            if l != r { out.append("- \(l)"); out.append("+ \(r)") }
            if out.count >= 12 { break }
        }
        return out
    }
}

extension Safetensors.File {
    /// The tensors by name, as `Executor.loadParameters` takes them.
    public var parameterTensors: [String: (shape: [Int], values: [Float])] {
        tensors.mapValues { ($0.shape, $0.values) }
    }
}
