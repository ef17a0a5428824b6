import Foundation

/// The report's sweep section (the ZF paper's Fig. 5): per transform, each layer's absolute and
/// relative distance and the classifier against the amount, each with its 95% band, and the
/// numbers as a table.
extension Report {
    /// One quantity of summary.csv: its mean column and its 95% interval's columns (absent in a
    /// summary.csv from before the intervals were written).
    struct SweepMeasure {
        var mean: String
        var low: String
        var high: String
        var label: String
    }

    static let distance = SweepMeasure(mean: "mean_distance", low: "distance_ci95_low", high: "distance_ci95_high", label: "distance")
    static let relative = SweepMeasure(mean: "mean_relative_distance", low: "ci95_low", high: "ci95_high", label: "relative distance")
    static let trueProbability = SweepMeasure(mean: "mean_true_prob", low: "true_prob_ci95_low", high: "true_prob_ci95_high", label: "p(true class)")
    static let accuracy = SweepMeasure(mean: "top1_accuracy", low: "top1_ci95_low", high: "top1_ci95_high", label: "top-1 accuracy")

    /// What a transform's amount is, with its unit: the x axis of its charts. (A private mapping:
    /// `Transform` itself says how each transform reads its amount.)
    static func amountLabel(_ transform: String) -> String {
        switch transform {
        case "translate-y": "vertical shift (pixels; positive moves the image down)"
        case "translate-x": "horizontal shift (pixels; positive moves the image right)"
        case "scale": "scale factor (× the size; above 1 zooms in)"
        case "rotate": "rotation (degrees, counter-clockwise)"
        case "contrast": "contrast factor (× each pixel's distance from the image's mean)"
        case "blur": "Gaussian blur σ (pixels)"
        case "noise": "noise width w (uniform in ±w/2; pixels in [0, 1])"
        default: "amount of \(transform)"
        }
    }

    /// A sweep's `summary.csv`: per transform, three charts (each layer's distance, each layer's
    /// relative distance, the classifier's true-class probability and accuracy; each with its 95%
    /// band where summary.csv has one) and the table of their numbers.
    static func sweepCharts(_ folder: String, _ counts: inout Counts) -> String {
        guard let s = table("\(folder)/summary.csv", warnings: &counts.warnings), s.header.starts(with: ["transform", "amount", "layer"]),
              [relative, trueProbability, accuracy].allSatisfy({ s.header.contains($0.mean) }) else { return "" }
        var body = ""
        var transforms: [Substring] = []
        for r in s.rows where !transforms.contains(r[0]) { transforms.append(r[0]) }
        for t in transforms {
            let rows = s.rows.filter { $0[0] == t }.sorted { (Double($0[1]) ?? 0) < (Double($1[1]) ?? 0) }
            let sub: CSVTable = (s.header, rows)
            var layers: [Substring] = []
            for r in rows where !layers.contains(r[2]) { layers.append(r[2]) }
            let images = Set(rows.map { $0[3] }).sorted().joined(separator: " or ")
            let note = "mean over \(images) images; shaded: the 95% confidence interval of the mean"
            body += "<h3>Sweep: \(escape(String(t)))</h3>\n"
            if s.header.contains(distance.mean) {
                body += counts.add(layerChart(sub, layers, distance, title: "\(t): distance of each layer's output from the original's", note: note,
                                              yLabel: "‖f(T(x)) − f(x)‖ (Euclidean)"))
            }
            body += counts.add(layerChart(sub, layers, relative, title: "\(t): relative distance of each layer's output", note: note,
                                          yLabel: "relative distance (fraction of ‖f(x)‖)"))
            body += counts.add(classifierChart(sub, layers[0], note: note))
            body += sweepTable(sub, transform: String(t))
        }
        return body
    }

    /// The rows of one layer as (amount, mean) and, where summary.csv has them, the interval's edges.
    static func series(_ t: CSVTable, layer: Substring, _ m: SweepMeasure) -> (mean: [(Double, Double?)], band: (low: [(Double, Double?)], high: [(Double, Double?)])?) {
        let rows: CSVTable = (t.header, t.rows.filter { $0[2] == layer })
        let amount = column(rows, "amount")
        let mean = pairs(amount, column(rows, m.mean))
        guard t.header.contains(m.low) && t.header.contains(m.high) else { return (mean, nil) }
        return (mean, (pairs(amount, column(rows, m.low)), pairs(amount, column(rows, m.high))))
    }

    /// One measure of every layer against the amount, a colour per layer.
    static func layerChart(_ t: CSVTable, _ layers: [Substring], _ m: SweepMeasure, title: String, note: String, yLabel: String) -> ReportChart {
        var chart = ReportChart(title: title, subtitle: note, xLabel: amountLabel(String(t.rows[0][0])), yLabel: yLabel)
        chart.fromZero = true
        for (k, layer) in layers.enumerated() {
            let (mean, band) = series(t, layer: layer, m)
            if let band { chart.band(String(layer), low: band.low, high: band.high, colour: ReportChart.colour(k)) }
            chart.line(String(layer), mean, colour: ReportChart.colour(k))
        }
        return chart
    }

    /// The classifier's mean true-class probability and top-1 accuracy against the amount (the
    /// same on every layer's rows; `layer`'s are read).
    static func classifierChart(_ t: CSVTable, _ layer: Substring, note: String) -> ReportChart {
        var chart = ReportChart(title: "\(t.rows[0][0]): the classifier", subtitle: note, xLabel: amountLabel(String(t.rows[0][0])),
                                yLabel: "probability (accuracy: fraction correct)")
        chart.fromZero = true
        for (k, m) in [trueProbability, accuracy].enumerated() {
            let (mean, band) = series(t, layer: layer, m)
            if let band { chart.band(m.label, low: band.low, high: band.high, colour: ReportChart.colour(k + 4)) }
            chart.line(m.label, mean, colour: ReportChart.colour(k + 4))
        }
        return chart
    }

    /// One transform's summary.csv rows as a table: each measure as "mean [low, high]" (3 significant digits).
    static func sweepTable(_ t: CSVTable, transform: String) -> String {
        let measures = [distance, relative, trueProbability, accuracy].filter { t.header.contains($0.mean) }
        func cell(_ row: [Substring], _ m: SweepMeasure) -> String {
            func value(_ name: String) -> String {
                guard let k = t.header.firstIndex(of: name), let v = Double(row[k]) else { return "–" }
                return String(format: "%.3g", v)
            }
            guard t.header.contains(m.low) else { return value(m.mean) }
            return "\(value(m.mean)) [\(value(m.low)), \(value(m.high))]"
        }
        let rows = t.rows.map { row in [String(row[1]), String(row[2]), String(row[3])] + measures.map { cell(row, $0) } }
        return htmlTable(["amount", "layer", "images"] + measures.map { "\($0.label): mean [95% CI]" }, rows,
                         summary: "summary.csv, \(transform): \(rows.count) row(s), mean [95% confidence interval]")
    }
}
