import Foundation
import StrataFormats
import StrataSpec

/// The report's section of a training run: its settings, the loss of every step, error and
/// learning rate per epoch, and metrics.csv's numbers as a table.
extension Report {
    /// A CSV's header and rows, as `table` reads it.
    typealias CSVTable = (header: [String], rows: [[Substring]])

    /// The column `name` of `t` as numbers (nil where a field is empty or not a finite number; all
    /// nil where there is no such column).
    static func column(_ t: CSVTable, _ name: String) -> [Double?] {
        guard let k = t.header.firstIndex(of: name) else { return Array(repeating: nil, count: t.rows.count) }
        return t.rows.map { row in Double(row[k]).flatMap { $0.isFinite ? $0 : nil } }
    }

    /// (x, y) pairs of two columns, leaving out rows without an x.
    static func pairs(_ xs: [Double?], _ ys: [Double?]) -> [(Double, Double?)] {
        zip(xs, ys).compactMap { x, y in x.map { ($0, y) } }
    }

    /// A run folder's `metrics.csv` and `steps.csv` (either is enough): the settings table, the loss
    /// per step (or per epoch, for a run from before steps.csv), error and learning rate per epoch,
    /// and the metrics table.
    static func metricsCharts(_ folder: String, _ counts: inout Counts) -> String {
        let metrics = table("\(folder)/metrics.csv", warnings: &counts.warnings)
        let steps = table("\(folder)/steps.csv", warnings: &counts.warnings)
        guard metrics != nil || steps != nil else { return "" }
        var body = "<h3>Training</h3>\n" + settingsTable(folder, epochs: metrics?.rows.count, steps: steps?.rows.count)
        body += counts.add(lossChart(steps: steps, metrics: metrics))
        if let metrics, !metrics.rows.isEmpty {
            body += counts.add(errorChart(metrics)) + counts.add(learningRateChart(metrics)) + metricsTable(metrics)
        }
        return body
    }

    /// The loss of every step (thin; the lowest and highest of each bucket where there are more than
    /// 3000 steps), its exponential moving average, and from metrics.csv the epoch's mean training
    /// loss and the held-out loss at each epoch's end, against the step. Without steps.csv: the
    /// training and held-out loss per epoch.
    static func lossChart(steps: CSVTable?, metrics: CSVTable?) -> ReportChart {
        let yLabel = "cross-entropy loss (nats)"
        guard let steps, !steps.rows.isEmpty else {
            var chart = ReportChart(title: "training loss per epoch", xLabel: "epoch", yLabel: yLabel)
            chart.wholeX = true
            if let m = metrics {
                let epoch = column(m, "epoch")
                chart.line("training loss (mean over the epoch's steps)", pairs(epoch, column(m, "loss")), colour: ReportChart.colour(0))
                if column(m, "val_loss").contains(where: { $0 != nil }) {
                    chart.line("held-out loss (dropout off)", pairs(epoch, column(m, "val_loss")), colour: ReportChart.colour(2))
                }
            }
            return chart
        }
        let loss = pairs(column(steps, "global_step"), column(steps, "loss"))
        let span = min(200, max(5, loss.count / 25))
        let smooth = movingAverage(loss.map { $0.1 }, span: span)
        let (kept, bucket) = decimated(loss.map { $0.1 })
        var chart = ReportChart(title: "training loss per step", subtitle: "steps.csv: the loss of each step's batch, before its update",
                                xLabel: "step (optimizer steps since the start of the run)", yLabel: yLabel)
        chart.wholeX = true
        chart.width = 1100
        chart.line(bucket == 1 ? "loss of each step (raw)" : "loss of each step (raw; lowest and highest of every \(bucket) steps)",
                   kept.map { loss[$0] }, colour: "#9ecae1", style: .thin, background: true)
        let every = Swift.max(1, loss.count / 1500)
        chart.line("exponential moving average of the step loss (span \(span) steps, α = 2/\(span + 1))",
                   stride(from: 0, to: loss.count, by: every).map { (loss[$0].0, smooth[$0]) }, colour: ReportChart.colour(0))
        if let m = metrics, !m.rows.isEmpty {
            let at = column(m, "step")
            chart.line("mean loss of the epoch (metrics.csv)", pairs(at, column(m, "loss")), colour: ReportChart.colour(1), style: .points)
            if column(m, "val_loss").contains(where: { $0 != nil }) {
                chart.line("held-out loss at the epoch's end (dropout off)", pairs(at, column(m, "val_loss")), colour: ReportChart.colour(2), style: .points)
            }
        }
        return chart
    }

    /// The exponential moving average with α = 2/(span + 1), divided by the weight it has
    /// gathered (so the first values are not pulled towards 0); a missing value keeps the average.
    static func movingAverage(_ values: [Double?], span: Int) -> [Double?] {
        let alpha = 2 / Double(span + 1)
        var sum = 0.0, weight = 0.0
        return values.map { v in
            if let v {
                sum = (1 - alpha) * sum + alpha * v
                weight = (1 - alpha) * weight + alpha
            }
            return weight > 0 ? sum / weight : nil
        }
    }

    /// The indices to draw of a long series: all of up to 3000 values; otherwise, of each bucket of
    /// consecutive values, the lowest and the highest (in order), so the envelope stays. Returns the
    /// indices and the bucket's size.
    static func decimated(_ values: [Double?]) -> (indices: [Int], bucket: Int) {
        guard values.count > 3000 else { return (Array(values.indices), 1) }
        let bucket = (values.count + 1499) / 1500
        var kept: [Int] = []
        for start in stride(from: 0, to: values.count, by: bucket) {
            let range = start..<Swift.min(values.count, start + bucket)
            let present = range.filter { values[$0] != nil }
            guard let low = present.min(by: { values[$0]! < values[$1]! }), let high = present.max(by: { values[$0]! < values[$1]! }) else { continue }
            kept += low == high ? [low] : [Swift.min(low, high), Swift.max(low, high)]
        }
        return (kept, bucket)
    }

    /// Training and held-out top-1 (and top-5) error per epoch, in percent.
    static func errorChart(_ m: CSVTable) -> ReportChart {
        var chart = ReportChart(title: "error per epoch", subtitle: "training: during the epoch (dropout on); held-out: at its end (dropout off)",
                                xLabel: "epoch", yLabel: "error (% of images misclassified)")
        chart.fromZero = true
        chart.wholeX = true
        let epoch = column(m, "epoch")
        for (k, (name, label)) in [("train_top1_error", "training top-1"), ("val_top1_error", "held-out top-1"), ("val_top5_error", "held-out top-5")].enumerated() {
            let values = column(m, name)
            guard values.contains(where: { $0 != nil }) else { continue }
            chart.line(label, pairs(epoch, values.map { $0.map { $0 * 100 } }), colour: ReportChart.colour(k))
        }
        return chart
    }

    /// The learning rate each epoch ran at (metrics.csv's `lr`), on a log scale where it spans a factor of 10 or more.
    static func learningRateChart(_ m: CSVTable) -> ReportChart {
        let rates = column(m, "lr")
        let known = rates.compactMap { $0 }
        let logarithmic = !known.isEmpty && known.allSatisfy { $0 > 0 } && known.max()! >= 10 * known.min()!
        var chart = ReportChart(title: "learning rate per epoch", xLabel: "epoch",
                                yLabel: "learning rate" + (logarithmic ? " (log scale)" : ""))
        chart.logarithmic = logarithmic
        chart.wholeX = true
        chart.line("learning rate", pairs(column(m, "epoch"), rates), colour: ReportChart.colour(3), style: .stepped)
        return chart
    }

    /// metrics.csv's numbers, a row per epoch, as written.
    static func metricsTable(_ m: CSVTable) -> String {
        let names: [(String, String)] = [("epoch", "epoch"), ("step", "steps done"), ("lr", "learning rate"), ("loss", "training loss"),
                                         ("train_top1_error", "training top-1 error"), ("val_top1_error", "held-out top-1 error"),
                                         ("val_top5_error", "held-out top-5 error"), ("val_loss", "held-out loss"), ("images_per_s", "images/s"),
                                         ("data_wait_fraction", "waiting for data")]
        // The columns metrics.csv has and fills (a run without a held-out split leaves its columns empty).
        let shown = names.compactMap { name, label in
            m.header.firstIndex(of: name).flatMap { k in m.rows.contains { !$0[k].isEmpty } ? (k, label) : nil }
        }
        return htmlTable(shown.map { $0.1 }, m.rows.map { row in shown.map { String(row[$0.0]) } },
                         summary: "metrics.csv: \(m.rows.count) epoch(s) (errors as fractions)")
    }

    /// The run's settings: each key of spec.yaml's `training` block (nested values in YAML flow
    /// form), then the batch and seed its checkpoint records and the epochs and steps it has done.
    static func settingsTable(_ folder: String, epochs: Int?, steps: Int?) -> String {
        var rows: [[String]] = []
        if let text = try? String(contentsOfFile: "\(folder)/spec.yaml", encoding: .utf8),
           let root = try? YAMLReader.parse(text: text, file: "\(folder)/spec.yaml"),
           let training = root.mapping?[key: "training"]?.value.mapping {
            for entry in training {
                let value = entry.value.mapping.map { $0.map { "\($0.key): \(SpecPrinter.flow($0.value))" }.joined(separator: ", ") }
                    ?? SpecPrinter.flow(entry.value)
                rows.append([entry.key, value])
            }
        }
        let metadata = checkpointMetadata("\(folder)/checkpoints/latest.safetensors")
        if let batch = metadata["batch"] { rows.append(["batch (the checkpoint's)", batch]) }
        if let seed = metadata["seed"] { rows.append(["seed (the checkpoint's)", seed]) }
        if let epochs { rows.append(["epochs done (metrics.csv)", "\(epochs)"]) }
        if let steps { rows.append(["steps done (steps.csv)", "\(steps)"]) }
        guard !rows.isEmpty else { return "" }
        return "<table class=\"settings\">\n<tr><th>setting</th><th>value</th></tr>\n"
            + rows.map { "<tr><td>\(escape($0[0]))</td><td>\(escape($0[1]))</td></tr>\n" }.joined()
            + "</table>\n<p class=\"note\">From spec.yaml's training block; <code>strata train --epochs</code> and <code>--batch</code> "
            + "override it, and the checkpoint's batch is the one used.</p>\n"
    }

    /// The `__metadata__` of a safetensors file, from its header alone (empty where there is none).
    static func checkpointMetadata(_ path: String) -> [String: String] {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped), data.count >= 8 else { return [:] }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(Safetensors.maximumHeaderBytes), Int(length) <= data.count - 8,
              let header = try? JSONValue.parse(data[(data.startIndex + 8)..<(data.startIndex + 8 + Int(length))]),
              case .object(let members)? = header["__metadata__"] else { return [:] }
        var out: [String: String] = [:]
        for (key, value) in members { out[key] = value.text }
        return out
    }
}
