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

    public static let format = "strata-checkpoint"

    public func write(executor: any Executor, to path: String) throws {
        var tensors: [(String, Safetensors.Tensor)] = try executor.parameterTensors(momentum: true).map {
            ($0.name, Safetensors.Tensor(shape: $0.shape, values: $0.values))
        }
        tensors.append(("data/mean", .init(shape: meanShape, values: mean)))
        if !pcaValues.isEmpty {
            tensors.append(("data/pca_values", .init(shape: [3], values: pcaValues)))
            tensors.append(("data/pca_vectors", .init(shape: [3, 3], values: pcaVectors)))
        }
        let metadata: [String: String] = [
            "format": Self.format, "network": executor.plan.graph.name, "epoch": "\(epoch)", "step_in_epoch": "\(stepInEpoch)",
            "global_step": "\(globalStep)", "learning_rate": "\(learningRate)", "best_val_error": "\(bestValidationError)",
            "epochs_without_improvement": "\(epochsWithoutImprovement)", "seed": "\(seed)", "spec": spec,
            "epoch_loss_sum": "\(epochLossSum)", "epoch_wrong": "\(epochWrong)", "epoch_seen": "\(epochSeen)",
        ]
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
        return Checkpoint(epoch: epoch, stepInEpoch: step, globalStep: global, learningRate: lr, bestValidationError: best,
                          epochsWithoutImprovement: bad, seed: seed, spec: spec, mean: mean.values, meanShape: mean.shape,
                          pcaValues: file.tensors["data/pca_values"]?.values ?? [], pcaVectors: file.tensors["data/pca_vectors"]?.values ?? [],
                          epochLossSum: Double(m["epoch_loss_sum"] ?? "") ?? 0, epochWrong: Int(m["epoch_wrong"] ?? "") ?? 0,
                          epochSeen: Int(m["epoch_seen"] ?? "") ?? 0)
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
