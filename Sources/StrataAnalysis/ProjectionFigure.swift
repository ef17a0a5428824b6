import StrataFigures
import StrataIR
import StrataPlan

/// What a projection figure (Fig. 2, Fig. 4) states about how it was made.
public struct ProjectionSettings: Sendable {
    /// The network's name (the spec's `name`).
    public var network: String
    public var layer: String
    public var rule: BackwardRule
    /// The weights: a checkpoint, or the folder of snapshots.
    public var weights: String
    /// The images searched, e.g. `500 images of DATA (test split)`.
    public var images: String
    public var scale: HeatmapScale
    /// The percentage of largest magnitudes clipped before scaling (`--clip-percentile`).
    public var clipPercent: Double

    public init(network: String, layer: String, rule: BackwardRule, weights: String, images: String, scale: HeatmapScale, clipPercent: Double) {
        (self.network, self.layer, self.rule, self.weights, self.images) = (network, layer, rule, weights, images)
        (self.scale, self.clipPercent) = (scale, clipPercent)
    }

    /// The rule in words.
    var ruleDescription: String {
        switch rule {
        case .deconvnet: "deconvnet (ZF: unpooled through the max-pool switches, rectified at each ReLU, transposed filters)"
        case .gradient: "gradient (saliency: the derivative of the activation with respect to the input)"
        case .guided: "guided backpropagation (the gradient, gated by both the forward pass and the signal)"
        }
    }
}

/// Fig. 2 of the ZF paper for one map (`map-M.png`): its strongest activations projected to the
/// input, each cropped to the activation's receptive field (left, in a square grid), beside the
/// raw input patches that caused them (right, same order), each labelled with its image index and
/// activation; a colour bar for the projections' colours; the settings in the caption.
public struct ProjectionFigure: Drawing {
    public var settings: ProjectionSettings
    public var map: Int
    /// The activations shown: the strongest `maximumShown` at most.
    public var activations: [Activation]
    /// How many activations there were.
    public var found: Int
    let colours: CropColours
    let patches: [RGBImage]
    /// Under each patch: the image index and its class, where known.
    let patchLabels: [String]
    /// The largest receptive field shown, in input pixels.
    let field: (height: Int, width: Int)
    let inputChannels: Int

    /// The most activations a figure shows (10 × 10), so it stays a readable size.
    public static let maximumShown = 100

    /// The figure of `activations` of `node` (one map's, strongest first; the first
    /// `maximumShown`) and their `projections` (input-sized, as `Projection.project` returns
    /// them); `input` holds the images, raw; `classNames` names the labels, where known.
    public init(graph: Graph, node: Int, activations: [Activation], projections: [[Float]], input: AnalysisInput, classNames: [String]?,
                settings: ProjectionSettings) {
        self.settings = settings
        self.map = activations.first?.map ?? 0
        self.activations = Array(activations.prefix(Self.maximumShown))
        self.found = activations.count
        let shape = graph.input
        var crops: [Crop] = [], patches: [RGBImage] = [], labels: [String] = []
        var field = (height: 0, width: 0)
        for (a, p) in zip(self.activations, projections) {
            let f = ReceptiveField.of(graph, node: node, row: a.row, column: a.column)
            field = (max(field.height, f.height), max(field.width, f.width))
            crops.append(Crop(values: Projection.crop(p[...], shape: shape, field: f), channels: shape.channels, height: f.height, width: f.width))
            let raw = Crop(values: Projection.crop(input.rawImage(a.image), shape: shape, field: f), channels: shape.channels, height: f.height, width: f.width)
            patches.append(raw.raw(range: Picture.rawRange(input.rawImage(a.image))))
            labels.append("#\(a.image)" + (input.labels.map { " · " + Self.className($0[a.image], classNames) } ?? ""))
        }
        self.colours = Self.colours(crops, scale: settings.scale, clipPercent: settings.clipPercent)
        self.patches = patches
        self.patchLabels = labels
        self.field = field
        self.inputChannels = shape.channels
    }

    /// Projections' colours: one channel diverging, three as RGB, any other count summed over channels.
    static func colours(_ crops: [Crop], scale: HeatmapScale, clipPercent: Double) -> CropColours {
        let channels = crops.first?.channels ?? 1
        if channels == 3 { return CropColours(crops, kind: .rgb, scale: scale, clipPercent: clipPercent) }
        return CropColours(channels == 1 ? crops : crops.map(\.summed), kind: .signed, scale: scale, clipPercent: clipPercent)
    }

    static func className(_ label: Int, _ names: [String]?) -> String {
        if let names, names.indices.contains(label) { return names[label] }
        return "class \(label)"
    }

    static let cell = 76.0

    var grid: CropGrid {
        let side = Int(Double(max(activations.count, 1)).squareRoot().rounded(.up))
        return CropGrid(count: activations.count, columns: side, cell: Self.cell)
    }

    var title: String {
        "\(settings.network) \(settings.layer), map \(map): the \(activations.count) strongest activations projected to the input"
    }

    /// The caption's sentences.
    var sentences: [String] {
        let summed = inputChannels == 1 || inputChannels == 3 ? "" : " Projections summed over the input's \(inputChannels) channels."
        return [
            "Weights: \(settings.weights). Searched: \(settings.images); in each, map \(map)'s largest activation; "
                + (found > activations.count ? "the \(activations.count) largest of the \(found) kept are shown." : "the \(activations.count) largest of those shown."),
            "Rule: \(settings.ruleDescription).",
            "Left: each projection, cropped to its activation's receptive field (up to \(field.height)×\(field.width) input pixels); "
                + "right: the raw input patch (pixels on [0, 1]) that caused it, in the same place. Labels: image index · activation; image index · class.",
            colours.description(noun: "projection", count: activations.count) + summed,
        ]
    }

    /// The figure's size in points, and its heading laid out for it.
    var layout: (width: Double, height: Double, heading: HeadingLayout, content: Double) {
        let content = 2 * grid.width + ColourBar.width + 38 + 20   // 10 margins each side
        let width = HeadingLayout.width(content: content, title: title)
        let heading = HeadingLayout(title: title, sentences: sentences, width: width)
        return (width, heading.height + 24 + grid.height + 10, heading, content)
    }

    /// Draws the figure on a canvas of `size`.
    public func draw(_ canvas: Canvas) {
        let (width, _, heading, content) = layout
        heading.draw(canvas)
        let x = (width - content) / 2 + 10, y = heading.height + 24
        let patchesX = x + grid.width + 18 + ColourBar.width + 10
        canvas.text("projections (\(settings.rule.rawValue))", at: Point(x + grid.width / 2, y - 6), size: 9, bold: true, align: .centre, baseline: .bottom)
        canvas.text("input patches (raw pixels)", at: Point(patchesX + grid.width / 2, y - 6), size: 9, bold: true, align: .centre, baseline: .bottom)
        grid.draw(canvas, at: Point(x, y), pictures: activations.indices.map(colours.picture),
                  labels: activations.map { "#\($0.image) · \(Ticks.short(Double($0.value)))" })
        colours.drawBar(canvas, in: Rect(x + grid.width + 10, y, ColourBar.width, max(grid.height - CropGrid.labelHeight, 60)), quantity: "projection")
        grid.draw(canvas, at: Point(patchesX, y), pictures: patches, labels: patchLabels)
    }

    /// The figure's size in points.
    public var width: Double { layout.width }
    public var height: Double { layout.height }

}
