import StrataFigures
import StrataIR
import StrataTrain

/// `sanity.png` of `deconv --sanity`: (a) a line plot per measure (Spearman, SSIM) of the mean
/// similarity to the trained network's projections against the cascade step, with its 95%
/// interval (`Interval`) as a band, a line per rule and a legend; (b) the example unit's
/// projections, a row per rule and a column per step, in diverging colours with a colour bar; the
/// settings in the caption.
public struct SanityFigure: Drawing {
    public var result: Sanity.Result
    public var settings: ProjectionSettings
    /// The maps and units per map compared, and the initialisation's seed (for the caption).
    public var maps: [Int]
    public var top: Int
    public var seed: UInt64
    /// The example unit's image's class (e.g. `class 2: Pullover`), where labels are known.
    public var exampleClass: String?
    let colours: CropColours
    let field: (top: Int, left: Int, height: Int, width: Int)
    let inputChannels: Int
    /// The re-initialised layers above the projected one: they do not enter its projection.
    let above: [String]

    /// `settings.rule` is ignored (every rule of `result` is drawn).
    public init(graph: Graph, node: Int, result: Sanity.Result, settings: ProjectionSettings, maps: [Int], top: Int, seed: UInt64,
                exampleClass: String? = nil) {
        (self.result, self.settings, self.maps, self.top, self.seed, self.exampleClass) = (result, settings, maps, top, seed, exampleClass)
        let e = result.example
        let f = ReceptiveField.of(graph, node: node, row: e.row, column: e.column)
        field = f
        inputChannels = graph.input.channels
        above = Sanity.cascade(graph).filter { $0 > node }.map { graph.nodes[$0].name }
        let crops = result.examples.flatMap { $0 }.map { p in
            Crop(values: Projection.crop(p[...], shape: graph.input, field: f), channels: graph.input.channels, height: f.height, width: f.width)
        }
        colours = ProjectionFigure.colours(crops, scale: settings.scale, clipPercent: settings.clipPercent)
    }

    var steps: Int { result.cascade.count + 1 }
    var labels: [String] { (0..<steps).map(result.stepLabel) }

    var title: String {
        "\(settings.network) \(settings.layer): do the projections depend on the learned weights? Cascading randomisation (Adebayo et al. 2018)"
    }

    var sentences: [String] {
        let e = result.example
        let summed = inputChannels == 1 || inputChannels == 3 ? "" : " Projections summed over the input's \(inputChannels) channels."
        return [
            "Weights: \(settings.weights); searched: \(settings.images). Units: the trained network's \(top) strongest activations (one per image) "
                + "of maps \(maps.map(String.init).joined(separator: ", ")), each seeded with 1 at its position at every step.",
            "Step s re-initialises the top s layers with parameters (\(result.cascade.joined(separator: ", "))), cumulatively, from the spec's "
                + "initialisation (seed \(seed)); the x axis names the lowest layer re-initialised so far."
                + (above.isEmpty ? "" : " \(above.joined(separator: ", ")) lie above \(settings.layer) and do not enter its projections: "
                    + "their steps are identical to the trained network's by construction."),
            "(a) Similarity of each projection to the trained network's projection of the same unit: Spearman rank correlation of |projection|; "
                + "SSIM (7×7 uniform window, each projection scaled to [0, 1] by its min and max). Lines: means; bands: 95% intervals (± 1.96 s/√n).",
            "(b) The projections of map \(e.map)'s strongest unit (image \(e.image)\(exampleClass.map { ", \($0)" } ?? ""), row \(e.row), column \(e.column)), cropped to its receptive field: "
                + "a row per rule, a column per step. " + colours.description(noun: "projection", count: colours.crops.count) + summed,
        ]
    }

    static let plotSize = (width: 330.0, height: 210.0)
    static let rowLabels = 70.0
    var cell: Double { max(28, min(64, (2 * Self.plotSize.width + 60 - Self.rowLabels - ColourBar.width - 20) / Double(steps) - 6)) }
    var grid: CropGrid { CropGrid(count: colours.crops.count, columns: steps, cell: cell, gap: 6, labelled: false) }

    var layout: (width: Double, height: Double, heading: HeadingLayout, content: Double) {
        let strip = Self.rowLabels + grid.width + 12 + ColourBar.width
        let content = max(2 * Self.plotSize.width + 20, strip) + 20
        let width = HeadingLayout.width(content: content, title: title)
        let heading = HeadingLayout(title: title, sentences: sentences, width: width)
        let legend = 12.0
        let height = heading.height + 14 + Self.plotSize.height + 8 + legend + 24 + 16 + max(grid.height, 90) + 12
        return (width, height, heading, content)
    }

    /// Draws the figure.
    public func draw(_ canvas: Canvas) {
        let (width, _, heading, content) = layout
        heading.draw(canvas)
        let left = (width - content) / 2 + 10
        var y = heading.height + 14
        canvas.text("(a)", at: Point(left, y), size: 10, bold: true, baseline: .top)
        drawPlots(canvas, at: Point(left + 10, y))
        y += Self.plotSize.height + 8
        let entries = result.rules.enumerated().map { ($0.element.rawValue, Colour.series($0.offset)) }
        let legendWidth = Double(entries.count) * 120 - 60
        y += Legend.draw(canvas, at: Point(left + 10 + Self.plotSize.width + 10 - legendWidth / 2, y), entries: entries, mark: .band, columns: entries.count) + 24
        canvas.text("(b)", at: Point(left, y - 14), size: 10, bold: true, baseline: .top)
        drawStrip(canvas, at: Point(left + Self.rowLabels, y + 16))
    }

    func drawPlots(_ canvas: Canvas, at origin: Point) {
        let xs = (0..<steps).map(Double.init)
        for (k, measure) in ["Spearman", "SSIM"].enumerated() {
            let intervals = result.rules.map { rule in
                (0..<steps).map { s in Interval(values: result.rows(step: s, rule: rule).map { k == 0 ? $0.spearman : $0.ssim }) }
            }
            let low = min(0, intervals.flatMap { $0.map(\.low) }.min() ?? 0)
            let bounds = Rect(origin.x + Double(k) * (Self.plotSize.width + 20), origin.y, Self.plotSize.width, Self.plotSize.height)
            let name = k == 0 ? "Spearman rank correlation of |projection|" : "SSIM of projections scaled to [0, 1]"
            let plot = Plot(canvas, in: bounds, x: (0, Double(steps - 1)), y: (low, 1.02), xLabel: "re-initialised down to (cumulative, top first)",
                            yLabel: "\(measure) with the trained projection", title: name, categories: labels)
            for (r, series) in intervals.enumerated() {
                plot.band(xs, low: series.map(\.low), high: series.map(\.high), Colour.series(r))
                plot.line(xs, series.map(\.mean), Colour.series(r))
                for (x, i) in zip(xs, series) { canvas.dot(plot.point(x, i.mean), radius: 1.8, Colour.series(r)) }
            }
        }
    }

    func drawStrip(_ canvas: Canvas, at origin: Point) {
        for (c, label) in labels.enumerated() {
            let r = grid.cellRect(c, at: origin)
            canvas.text(label, at: Point(r.midX, origin.y - 4), size: 8, bold: true, align: .centre, baseline: .bottom)
        }
        for (row, rule) in result.rules.enumerated() {
            let r = grid.cellRect(row * steps, at: origin)
            canvas.text(rule.rawValue, at: Point(origin.x - 6, r.midY), size: 8, bold: true, align: .right, baseline: .middle)
        }
        grid.draw(canvas, at: origin, pictures: colours.crops.indices.map(colours.picture))
        colours.drawBar(canvas, in: Rect(origin.x + grid.width + 12, origin.y, ColourBar.width, max(grid.height, 90)), quantity: "projection")
    }

    /// The figure's size in points.
    public var width: Double { layout.width }
    public var height: Double { layout.height }
}
