import Foundation
import StrataFigures
import StrataIR
import StrataTrain

/// Fig. 5 of the ZF paper as a figure (`sweep-TRANSFORM.png|pdf|svg`), one per transform: the
/// distance ‖f(T(x)) − f(x)‖ at a low and at a high layer, and p(true class), against the amount;
/// a thin line per shown image and the mean over all images with its 95% interval as a band.
public struct SweepFigure: Drawing {
    public var transform: Transform
    /// The amounts, in the order swept.
    public var amounts: [Double]
    /// The sweep's rows (every transform's; this figure reads its own).
    public var rows: [SweepRow]
    /// Every image's label (`SweepRow.image` indexes it) and the class names.
    public var input: AnalysisInput
    /// Lines drawn: the first `shown` images.
    public var shown: Int
    /// The distance panels' layers: the low one, then the high one (`Sweep.figureLayers`).
    public var layers: [String]
    /// Every layer swept, for the caption.
    public var swept: [String]
    public var network: String
    /// The weights file's name, for the title.
    public var checkpoint: String
    public var fill: Fill
    public var interpolation: Interpolation
    public var noiseSeed: UInt64

    public init(transform: Transform, amounts: [Double], rows: [SweepRow], input: AnalysisInput, shown: Int, layers: [String], swept: [String],
                network: String, checkpoint: String, fill: Fill, interpolation: Interpolation, noiseSeed: UInt64 = 0) {
        self.transform = transform
        self.amounts = amounts
        self.rows = rows.filter { $0.transform == transform }
        self.input = input
        self.shown = max(0, min(shown, input.count))
        self.layers = layers
        self.swept = swept
        self.network = network
        self.checkpoint = checkpoint
        self.fill = fill
        self.interpolation = interpolation
        self.noiseSeed = noiseSeed
    }

    static let plotWidth = 250.0, plotHeight = 215.0, margin = 12.0, legendRow = 12.0, legendColumns = 3

    var panels: Int { layers.count + 1 }
    var legendRows: Int { (1 + shown + Self.legendColumns - 1) / Self.legendColumns }

    /// The figure's size in points.
    public var width: Double { 2 * Self.margin + Double(panels) * Self.plotWidth }
    public var height: Double {
        Heading.height(captionLines: caption.count) + Self.plotHeight + 8 + Double(legendRows) * Self.legendRow + Self.margin
    }


    /// The title: the transform, the network, the checkpoint and the layers, the less where it would not fit.
    var title: String {
        let name = transform.noun == transform.rawValue ? "" : "\(transform.rawValue), "
        let head = "Invariance to \(transform.noun) (\(name)ZF Fig. 5): \(network)"
        let candidates = ["\(head), checkpoint \(checkpoint), layers \(layers.joined(separator: " and "))", "\(head), checkpoint \(checkpoint)", head]
        return candidates.first { TextLayout.width($0, size: 11, bold: true) <= width - 2 * Self.margin } ?? head
    }

    /// The settings that made the figure, wrapped to its width.
    var caption: [String] {
        // What a short title leaves out goes first.
        let left = title.hasSuffix(network) ? ["Checkpoint \(checkpoint); layers \(layers.joined(separator: " and "))."]
            : title.contains(", layers ") ? [] : ["Layers \(layers.joined(separator: " and "))."]
        return TextLayout.wrap(lines: left + captionText, width: width - 2 * Self.margin, size: 8)
    }

    var captionText: [String] {
        let seed = transform == .noise ? ", noise seed \(noiseSeed)" : ""
        let geometric = [.translateY, .translateX, .scale, .rotate].contains(transform) ? "; fill \(fill.rawValue), interpolation \(interpolation.rawValue)" : ""
        return [
            "Each image transformed on its raw pixels, then the mean subtracted: T(x) − μ\(geometric)\(seed); \(input.count) images, "
                + "\(amounts.count) amounts; layers swept: \(swept.joined(separator: ", ")).",
            "Distance: ‖f(T(x)) − f(x)‖, the Euclidean distance between the layer's flattened outputs for the transformed and the original image "
                + "(absolute, as the paper plots it; the relative distance, over ‖f(x)‖, is in summary.csv and sweep.csv).",
            "Black: the mean over all \(input.count) images, the band its 95% interval (±1.96 s/√n); thin lines: the first \(shown) images.",
        ]
    }

    /// Per amount, the mean and 95% interval over all images, and each shown image's value, of `value` at `layer`.
    func series(_ layer: String, _ value: (SweepRow) -> Double) -> (mean: [Interval], images: [[Double]]) {
        var all = [Double: [Double]](), first = [Double: [Int: Double]]()
        for r in rows where r.layer == layer {
            all[r.amount, default: []].append(value(r))
            if r.image < shown { first[r.amount, default: [:]][r.image] = value(r) }
        }
        let mean = amounts.map { Interval(values: all[$0] ?? []) }
        let images = (0..<shown).map { i in amounts.map { first[$0]?[i] ?? .nan } }
        return (mean, images)
    }

    /// Draws the figure on `canvas` (of `width` × `height`).
    public func draw(_ canvas: Canvas) {
        Heading.draw(canvas, title: title, caption: caption)
        let top = Heading.height(captionLines: caption.count)
        let x = (amounts.min() ?? 0, amounts.max() ?? 1)
        let letters = ["(a)", "(b)", "(c)"]
        for (k, layer) in layers.enumerated() {
            let s = series(layer, \.distance)
            let high = (s.mean.map(\.high) + s.images.flatMap { $0 }).filter(\.isFinite).max() ?? 1
            let plot = Plot(canvas, in: Rect(Self.margin + Double(k) * Self.plotWidth, top, Self.plotWidth, Self.plotHeight), x: x, y: (0, max(high * 1.05, 1e-9)),
                            xLabel: transform.axisLabel, yLabel: "‖f(T(x)) − f(x)‖ at \(layer)", title: "\(letters[k]) distance at \(layer)")
            drawSeries(plot, s)
        }
        let p = series(layers.first ?? "", \.trueProbability)
        let plot = Plot(canvas, in: Rect(Self.margin + Double(layers.count) * Self.plotWidth, top, Self.plotWidth, Self.plotHeight), x: x, y: (0, 1),
                        xLabel: transform.axisLabel, yLabel: "p(true class) (probability)", title: "\(letters[layers.count]) p(true class)")
        drawSeries(plot, p)
        let legendTop = top + Self.plotHeight + 8, column = (width - 2 * Self.margin) / Double(Self.legendColumns)
        Legend.draw(canvas, at: Point(Self.margin, legendTop), entries: [("mean of \(input.count) images ± 95% interval", .black)], mark: .band)
        let images = (0..<shown).map { i in ("image \(i) (\(input.labels.map { input.className($0[i]) } ?? "no label"))", Colour.series(i)) }
        for (k, entry) in images.enumerated() {
            let slot = k + 1
            Legend.draw(canvas, at: Point(Self.margin + Double(slot % Self.legendColumns) * column, legendTop + Double(slot / Self.legendColumns) * Self.legendRow),
                        entries: [entry], mark: .line)
        }
    }

    func drawSeries(_ plot: Plot, _ s: (mean: [Interval], images: [[Double]])) {
        plot.band(amounts, low: s.mean.map(\.low), high: s.mean.map(\.high), .black)
        for (i, values) in s.images.enumerated() { plot.line(amounts, values, Colour.series(i), width: 0.8) }
        plot.line(amounts, s.mean.map(\.mean), .black, width: 1.8)
    }
}

extension Sweep {
    /// The layers of the distance panels of `SweepFigure`, as in the paper's Fig. 5 (layer 1 and
    /// layer 7): the lowest swept layer, and the highest swept layer before the classifier (the
    /// last layer with parameters), where that is another layer; else the highest swept layer,
    /// where that is another. `layers`: node indices, in any order.
    public static func figureLayers(_ graph: Graph, layers: [Int]) -> [Int] {
        guard let low = layers.min() else { return [] }
        let classifier = graph.nodes.indices.last { !graph.parameterShapes($0).isEmpty } ?? graph.nodes.count
        if let high = layers.filter({ $0 < classifier && $0 != low }).max() { return [low, high] }
        if let high = layers.max(), high != low { return [low, high] }
        return [low]
    }
}
