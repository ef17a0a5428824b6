import StrataFigures
import StrataIR

/// Fig. 4 of the ZF paper (`evolution.png`): a grid with a row per map and a column per snapshot
/// (epoch labels over the columns, map labels on the rows); each cell the projection of that
/// epoch's strongest activation of the map over the images, cropped to its receptive field and
/// labelled with its image index and activation; a colour bar; the settings in the caption.
public struct EvolutionFigure: Drawing {
    /// `settings.weights` is the snapshots folder.
    public var settings: ProjectionSettings
    public var epochs: [Int]
    public var maps: [Int]
    /// Row by row: map `maps[r]` at epoch `epochs[c]` is `activations[r * epochs.count + c]`.
    public var activations: [Activation]
    let colours: CropColours
    let inputChannels: Int

    /// The figure of `activations` and their input-sized `projections` (both row by row: a row
    /// per map, a column per epoch) of `node`.
    public init(graph: Graph, node: Int, epochs: [Int], maps: [Int], activations: [Activation], projections: [[Float]], settings: ProjectionSettings) {
        precondition(activations.count == maps.count * epochs.count && projections.count == activations.count, "a cell per map and epoch")
        self.settings = settings
        self.epochs = epochs
        self.maps = maps
        self.activations = activations
        self.inputChannels = graph.input.channels
        let crops = zip(activations, projections).map { a, p -> Crop in
            let f = ReceptiveField.of(graph, node: node, row: a.row, column: a.column)
            return Crop(values: Projection.crop(p[...], shape: graph.input, field: f), channels: graph.input.channels, height: f.height, width: f.width)
        }
        colours = ProjectionFigure.colours(crops, scale: settings.scale, clipPercent: settings.clipPercent)
    }

    /// A cell's side: 60 points, smaller (down to 16) for many maps or epochs, so the figure stays
    /// within `Figure.maximumSide`.
    var cell: Double {
        max(16, min(60, 3400 / Double(max(maps.count, 1)) - CropGrid.labelHeight - 6, 3400 / Double(max(epochs.count, 1)) - 6))
    }
    /// The room for the row labels, left of the grid.
    static let rowLabels = 46.0

    var grid: CropGrid { CropGrid(count: activations.count, columns: epochs.count, cell: cell, gap: 6, labelled: cell >= 44) }

    var title: String {
        "\(settings.network) \(settings.layer): each map's strongest projection at every snapshot (\(settings.rule.rawValue))"
    }

    var sentences: [String] {
        let summed = inputChannels == 1 || inputChannels == 3 ? "" : " Projections summed over the input's \(inputChannels) channels."
        return [
            "Snapshots: \(settings.weights) (epochs \(epochs.map(String.init).joined(separator: ", "))), each with its own mean image subtracted. "
                + "Searched: \(settings.images).",
            "Rule: \(settings.ruleDescription).",
            "Row: a map; column: an epoch. Each cell: the projection of the map's largest activation over the images at that epoch, "
                + "cropped to its receptive field." + (grid.labelled ? " Labels: image index · activation." : " (evolution.json has each image and activation.)"),
            colours.description(noun: "cell", count: activations.count) + summed,
        ]
    }

    var layout: (width: Double, height: Double, heading: HeadingLayout, content: Double) {
        let content = 20 + Self.rowLabels + grid.width + 12 + ColourBar.width
        let width = HeadingLayout.width(content: content, title: title)
        let heading = HeadingLayout(title: title, sentences: sentences, width: width)
        return (width, heading.height + 22 + max(grid.height, barHeight) + 10, heading, content)
    }

    /// The colour bar's height: the grid's, at least 90 points so its label fits.
    var barHeight: Double { max(grid.height - CropGrid.labelHeight, 90) }

    /// Draws the figure on a canvas of `size`.
    public func draw(_ canvas: Canvas) {
        let (width, _, heading, content) = layout
        heading.draw(canvas)
        let origin = Point((width - content) / 2 + 10 + Self.rowLabels, heading.height + 22)
        for (c, epoch) in epochs.enumerated() {
            let r = grid.cellRect(c, at: origin)
            canvas.text("epoch \(epoch)", at: Point(r.midX, origin.y - 5), size: 8, bold: true, align: .centre, baseline: .bottom)
        }
        for (row, map) in maps.enumerated() {
            let r = grid.cellRect(row * epochs.count, at: origin)
            canvas.text("map \(map)", at: Point(origin.x - 6, r.midY), size: 8, bold: true, align: .right, baseline: .middle)
        }
        grid.draw(canvas, at: origin, pictures: activations.indices.map(colours.picture),
                  labels: activations.map { "#\($0.image) · \(Ticks.short(Double($0.value)))" })
        colours.drawBar(canvas, in: Rect(origin.x + grid.width + 12, origin.y, ColourBar.width, barHeight), quantity: "projection")
    }

    /// The figure's size in points.
    public var width: Double { layout.width }
    public var height: Double { layout.height }

}
