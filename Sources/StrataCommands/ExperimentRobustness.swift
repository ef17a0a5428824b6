import Foundation
import StrataAnalysis
import StrataFormats
import StrataIR
import StrataPlan
import StrataTrain

/// An experiment's `robustness:` block: `Robustness.run` on every row's checkpoint of every seed
/// (the first `limit` test images, the defaults of `strata robustness`), the first row measured
/// being the baseline of the others' mCE (the same seed's checkpoint). Writes OUT/robustness.csv
/// (every measure of every row and seed) and OUT/robustness.md (per row, mean ± sd over seeds).
enum ExperimentRobustness {
    static let columns = [("clean_accuracy", "clean accuracy"), ("shift_consistency", "shift consistency"), ("worst_of_k_accuracy", "worst-of-10 accuracy"),
                          ("grid_worst_accuracy", "grid-worst accuracy"), ("mean_corruption_error", "CE"), ("mCE", "mCE vs first row")]

    static func run(_ experiment: Experiment, runner: ExperimentRunner, only: String?, backend: any Backend, log: (String) -> Void) throws {
        guard let block = experiment.robustness else { return }
        var csvText = "row,seed,measure,setting,layer,value,ci95_low,ci95_high,images\n"
        var table: [(row: String, values: [String: [Double]])] = []
        var baseline: (name: String, graph: Graph, paths: [UInt64: String])?
        for row in experiment.rows where only == nil || row.name.value == only {
            let name = row.name.value
            guard row.classes == nil else { log("robustness: row \(name) trains on a subset of the classes; not measured"); continue }
            var values: [String: [Double]] = [:], paths: [UInt64: String] = [:]
            for seed in row.seeds ?? experiment.seeds {
                let path = runner.folder(row: name, seed: seed) + (row.earlyStop != nil ? "/checkpoints/best.safetensors" : "/checkpoints/latest.safetensors")
                guard FileManager.default.fileExists(atPath: path) else { log("robustness: row \(name) seed \(seed) has no checkpoint; not measured"); continue }
                paths[seed] = path
                let weights = try Safetensors.read(path: path)
                let input = try AnalysisInput.load(.data(experiment.data, split: "test", limit: block.limit, indices: nil), limit: block.limit, graph: row.graph,
                                                   weights: weights, weightsPath: path, mean: nil)
                let layers = Sweep.defaultLayers(row.graph), batch = experiment.batch ?? row.spec.training?.batch ?? 64
                let network = try BatchRunner(graph: row.graph, backend: backend, batch: batch, keeping: layers + [row.graph.nodes.count - 1],
                                              weights: weights.parameterTensors)
                // The first row measured is its own baseline (mCE 1); the others are measured against it.
                var other: BatchRunner? = baseline == nil ? network : nil
                if let b = baseline, let p = b.paths[seed], b.graph.input == row.graph.input, b.graph.classes == row.graph.classes {
                    other = try BatchRunner(graph: b.graph, backend: backend, batch: batch, keeping: [b.graph.nodes.count - 1],
                                            weights: try Safetensors.read(path: p).parameterTensors)
                }
                let settings = RobustnessSettings(side: max(row.graph.input.height, row.graph.input.width), seed: block.seed)
                let rows = try Robustness.run(input, runner: network, layers: layers, settings: settings, baseline: other)
                for r in rows {
                    csvText += "\(name),\(seed),\(r.measure),\(Robustness.quoted(r.setting)),\(r.layer),\(csv(r.value.mean)),\(csv(r.value.low)),\(csv(r.value.high)),\(r.images)\n"
                }
                for (measure, _) in columns { if let r = rows.first(where: { $0.measure == measure }) { values[measure, default: []].append(r.value.mean) } }
                log("robustness: row \(name) seed \(seed): " + columns.compactMap { m in values[m.0]?.last.map { "\(m.0) \(String(format: "%.4f", $0))" } }.joined(separator: ", "))
            }
            if baseline == nil && !paths.isEmpty { baseline = (name, row.graph, paths) }
            table.append((name, values))
        }
        try AtomicFile.write(Data(csvText.utf8), to: runner.out + "/robustness.csv")
        try AtomicFile.write(Data(markdown(table, experiment: experiment, limit: block.limit, baseline: baseline?.name).utf8), to: runner.out + "/robustness.md")
    }

    /// Per row, each measure's mean ± sd over the seeds measured.
    static func markdown(_ table: [(row: String, values: [String: [Double]])], experiment: Experiment, limit: Int, baseline: String?) -> String {
        var out = "# Robustness of \(experiment.name)'s rows\n\n`strata robustness`'s measures with its defaults on the first \(limit) test images of "
            + "\(experiment.data), mean ± sd over the seeds; mCE relative to row \(baseline ?? "–") (the same seed). Every value per seed: robustness.csv.\n\n"
        out += "| row | seeds | " + columns.map(\.1).joined(separator: " | ") + " |\n|---|---|" + String(repeating: "---|", count: columns.count) + "\n"
        for (row, values) in table {
            let cells = columns.map { m -> String in
                guard let v = values[m.0], !v.isEmpty else { return "–" }
                let mean = v.reduce(0, +) / Double(v.count)
                let sd = v.count > 1 ? (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot() : 0
                return String(format: "%.4f ± %.4f", mean, sd)
            }
            out += "| \(row) | \(values["clean_accuracy"]?.count ?? 0) | " + cells.joined(separator: " | ") + " |\n"
        }
        return out
    }
}
