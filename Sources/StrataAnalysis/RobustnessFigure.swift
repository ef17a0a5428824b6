import Foundation
import StrataFigures
import StrataTrain

/// robustness.png|pdf|svg: (a) the error against the corruption's severity, a line per corruption
/// with its Wilson 95% band (severity 0: the clean error); (b) the relative feature distance between
/// the two shifted copies at each layer with its 95% interval; (c) clean accuracy, shift
/// consistency, worst-of-k and worst-on-the-grid accuracy with their intervals.
public struct RobustnessFigure: Drawing {
    public var rows: [RobustnessRow]
    public var network: String
    /// The weights file's name, and the baseline's (if any).
    public var checkpoint: String
    public var baseline: String?
    public var split: String
    public var images: Int
    public var settings: RobustnessSettings
    public var corruptions: [(Transform, [Double])]

    /// `rows`: `Robustness.run`'s; `corruptions`: the severity table they were measured with.
    public init(rows: [RobustnessRow], network: String, checkpoint: String, baseline: String?, split: String, images: Int,
                settings: RobustnessSettings, corruptions: [(Transform, [Double])]) {
        (self.rows, self.network, self.checkpoint, self.baseline) = (rows, network, checkpoint, baseline)
        (self.split, self.images, self.settings, self.corruptions) = (split, images, settings, corruptions)
    }

    static let plotWidth = 270.0, plotHeight = 230.0, margin = 12.0

    /// The figure's size in points.
    public var width: Double { 2 * Self.margin + 3 * Self.plotWidth }
    /// Below the panels: panel (a)'s legend, a line per corruption.
    public var height: Double { Heading.height(captionLines: caption.count) + Self.plotHeight + 4 + Double(corruptions.count) * 12 + Self.margin }

    var title: String { "Robustness of \(network), checkpoint \(checkpoint): corruptions, shifts, rotations" }

    func value(_ measure: String) -> RobustnessRow? { rows.first { $0.measure == measure } }

    var caption: [String] {
        let n = Robustness.number
        var lines = [
            "\(images) images of the \(split) split; each transform acts on the raw image, then the mean is subtracted (T(x) − μ); seed \(settings.seed).",
            "(a) Top-1 error per severity (0: clean), band: Wilson 95%. Severities 1–5: "
                + corruptions.map { "\($0.0.rawValue) \($0.1.map(n).joined(separator: ", "))" }.joined(separator: "; ")
                + " (noise uniform ±w/2, blur Gaussian σ px, contrast factor c).",
            "(b) Two shifts per image, dx, dy uniform whole pixels in ±\(settings.shiftRange) px, fill black; distance ‖f(x₁) − f(x₂)‖ / mean norm, mean ± 1.96 s/√n.",
            "(c) Worst-of-\(settings.k): random |dx|, |dy| ≤ \(n(settings.translation)) px, |θ| ≤ \(n(settings.rotation))°; grid: dx, dy by \(n(settings.translationStep)) px × θ by "
                + "\(n(settings.rotationStep))° (\(settings.grid.count) copies), bilinear, fill black; an image counts only if every copy is right; Wilson 95%.",
        ]
        if let mce = value("mCE") {
            lines.append("mCE against baseline \(baseline ?? "?"): \(String(format: "%.3f", mce.value.mean)) (Σ error over severities ÷ the baseline's, mean over corruptions; "
                         + "bootstrap 95% \(String(format: "%.3f", mce.value.low))–\(String(format: "%.3f", mce.value.high))).")
        } else if let ce = value("mean_corruption_error") {
            lines.append("Mean corruption error (CE, no baseline): \(String(format: "%.3f", ce.value.mean)).")
        }
        return TextLayout.wrap(lines: lines, width: width - 2 * Self.margin, size: 8)
    }

    /// Draws the heading and the three panels on `canvas` (of `width` × `height`).
    public func draw(_ canvas: Canvas) {
        Heading.draw(canvas, title: title, caption: caption)
        let top = Heading.height(captionLines: caption.count)
        drawCorruptions(canvas, Rect(Self.margin, top, Self.plotWidth, Self.plotHeight))
        drawShift(canvas, Rect(Self.margin + Self.plotWidth, top, Self.plotWidth, Self.plotHeight))
        drawSpatial(canvas, Rect(Self.margin + 2 * Self.plotWidth, top, Self.plotWidth, Self.plotHeight))
    }

    func drawCorruptions(_ canvas: Canvas, _ r: Rect) {
        let levels = (corruptions.map(\.1.count).max() ?? 5)
        let xs = (0...levels).map(Double.init)
        let all = rows.filter { $0.measure == "corruption_error" }
        let high = min(1, (all.map(\.value.high).max() ?? 1) * 1.05)
        let plot = Plot(canvas, in: r, x: (0, Double(levels)), y: (0, max(high, 0.05)), xLabel: "severity (0 = clean)",
                        yLabel: "top-1 error (fraction)", title: "(a) error under corruption")
        var entries: [(String, Colour)] = []
        for (k, (t, _)) in corruptions.enumerated() {
            let mine = all.filter { $0.setting.hasPrefix("\(t.rawValue) severity") }.map(\.value)
            guard mine.count == xs.count else { continue }
            plot.band(xs, low: mine.map(\.low), high: mine.map(\.high), Colour.series(k))
            plot.line(xs, mine.map(\.mean), Colour.series(k), width: 1.6)
            let mean = rows.first { $0.measure == "corruption_mean_error" && $0.setting.hasPrefix(t.rawValue) }
            let relative = rows.first { $0.measure == "relative_corruption_error" && $0.setting.hasPrefix(t.rawValue + ":") }
            let notes = [mean.map { String(format: "mean %.3f", $0.value.mean) }, relative.map { String(format: "CE %.2f of the baseline", $0.value.mean) }].compactMap { $0 }
            entries.append(("\(t.rawValue)" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))"), Colour.series(k)))
        }
        Legend.draw(canvas, at: Point(plot.area.x, r.maxY + 4), entries: entries, mark: .band)
    }

    func drawShift(_ canvas: Canvas, _ r: Rect) {
        let layers = rows.filter { $0.measure == "shift_feature_distance" }
        let high = max((layers.map(\.value.high).filter(\.isFinite).max() ?? 1) * 1.1, 1e-3)
        let plot = Plot(canvas, in: r, x: (0, 1), y: (0, high), xLabel: "layer", yLabel: "relative distance ‖f(x₁) − f(x₂)‖ / norm",
                        title: "(b) feature distance between two shifts", categories: layers.map(\.layer))
        for (k, row) in layers.enumerated() { plot.interval(Double(k), row.value.mean, low: row.value.low, high: row.value.high, .black) }
    }

    func drawSpatial(_ canvas: Canvas, _ r: Rect) {
        let entries: [(String, String)] = [("clean_accuracy", "clean"), ("shift_consistency", "shift agree"),
                                           ("worst_of_k_accuracy", "worst of \(settings.k)"), ("grid_worst_accuracy", "grid worst")]
        let shown = entries.compactMap { e in value(e.0).map { (e.1, $0) } }
        let plot = Plot(canvas, in: r, x: (0, 1), y: (0, 1), xLabel: "measure", yLabel: "accuracy / agreement (fraction)",
                        title: "(c) clean vs spatial worst case", categories: shown.map(\.0))
        for (k, (_, row)) in shown.enumerated() {
            plot.interval(Double(k), row.value.mean, low: row.value.low, high: row.value.high, Colour.series(k))
            let p = plot.point(Double(k), row.value.high)
            canvas.text(String(format: "%.3f", row.value.mean), at: Point(p.x, p.y - 4), size: 7, align: .centre, baseline: .bottom)
        }
    }
}
