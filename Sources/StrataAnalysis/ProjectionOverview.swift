import StrataFigures

/// Fig. 2 of the ZF paper across maps (`maps.png`, when deconv draws several): a block per map of
/// its strongest projections (left panel, at most 9 per map in a square, the map named over each
/// block) beside the same blocks of raw input patches (right panel); a colour bar; the settings in
/// the caption. Each map's own figure (`ProjectionFigure`) labels every projection.
public struct ProjectionOverview: Drawing {
    /// One map's block: its strongest projections' crops and their patches.
    struct Block {
        var map: Int
        var crops: [Crop]
        var patches: [RGBImage]
    }

    public var settings: ProjectionSettings
    var blocks: [Block] = []
    var kind: CropColours.Kind = .signed
    /// How many maps were added (the first `maximumMaps` are drawn).
    public private(set) var maps = 0

    /// The most maps drawn (6 × 6 blocks) and projections per map.
    public static let maximumMaps = 36
    public static let perMap = 9

    public init(settings: ProjectionSettings) { self.settings = settings }

    /// Adds a map's figure: its first `perMap` projections and patches.
    public mutating func add(_ figure: ProjectionFigure) {
        maps += 1
        guard blocks.count < Self.maximumMaps else { return }
        kind = figure.colours.kind
        blocks.append(Block(map: figure.map, crops: Array(figure.colours.crops.prefix(Self.perMap)), patches: Array(figure.patches.prefix(Self.perMap))))
    }

    var colours: CropColours { CropColours(blocks.flatMap(\.crops), kind: kind, scale: settings.scale, clipPercent: settings.clipPercent) }

    /// The grid inside a block.
    var block: CropGrid {
        let n = blocks.map(\.crops.count).max() ?? 1
        return CropGrid(count: n, columns: Int(Double(n).squareRoot().rounded(.up)), cell: 26, gap: 2, labelled: false)
    }

    static let blockLabel = 13.0, blockGap = 10.0
    var blockColumns: Int { Int(Double(max(blocks.count, 1)).squareRoot().rounded(.up)) }
    var blockRows: Int { (blocks.count + blockColumns - 1) / blockColumns }
    var panel: (width: Double, height: Double) {
        (Double(blockColumns) * (block.width + Self.blockGap) - Self.blockGap,
         Double(blockRows) * (Self.blockLabel + block.height + Self.blockGap) - Self.blockGap)
    }

    var title: String { "\(settings.network) \(settings.layer): the strongest activations of \(blocks.count) maps projected to the input" }

    var sentences: [String] {
        let n = block.rows * block.columns
        return [
            "Weights: \(settings.weights). Searched: \(settings.images)" + (maps > blocks.count ? "; the first \(blocks.count) of \(maps) maps drawn." : "."),
            "Rule: \(settings.ruleDescription).",
            "Each block: a map's strongest activations (up to \(n), strongest first, row by row), projected and cropped to their receptive fields (left), "
                + "and the raw input patches that caused them, in the same places (right). map-M.png labels each with its image and activation.",
            colours.description(noun: "projection", count: blocks.map(\.crops.count).reduce(0, +)),
        ]
    }

    var layout: (width: Double, height: Double, heading: HeadingLayout, content: Double) {
        let content = 2 * panel.width + ColourBar.width + 40 + 20
        let width = HeadingLayout.width(content: content, title: title)
        let heading = HeadingLayout(title: title, sentences: sentences, width: width)
        return (width, heading.height + 24 + max(panel.height, 105) + 10, heading, content)
    }

    /// Draws the figure on a canvas of `size`.
    public func draw(_ canvas: Canvas) {
        let (width, _, heading, content) = layout
        heading.draw(canvas)
        let colours = colours
        let x = (width - content) / 2 + 10, y = heading.height + 24
        let patchesX = x + panel.width + 12 + ColourBar.width + 28
        canvas.text("projections (\(settings.rule.rawValue))", at: Point(x + panel.width / 2, y - 6), size: 9, bold: true, align: .centre, baseline: .bottom)
        canvas.text("input patches (raw pixels)", at: Point(patchesX + panel.width / 2, y - 6), size: 9, bold: true, align: .centre, baseline: .bottom)
        var first = 0
        for (b, item) in blocks.enumerated() {
            let dx = Double(b % blockColumns) * (block.width + Self.blockGap), dy = Double(b / blockColumns) * (Self.blockLabel + block.height + Self.blockGap)
            for left in [x, patchesX] {
                canvas.text("map \(item.map)", at: Point(left + dx + block.width / 2, y + dy + Self.blockLabel - 3), size: 7.5, bold: true, align: .centre,
                            baseline: .bottom)
            }
            block.draw(canvas, at: Point(x + dx, y + dy + Self.blockLabel), pictures: item.crops.indices.map { colours.picture(first + $0) })
            block.draw(canvas, at: Point(patchesX + dx, y + dy + Self.blockLabel), pictures: item.patches)
            first += item.crops.count
        }
        colours.drawBar(canvas, in: Rect(x + panel.width + 12, y + Self.blockLabel, ColourBar.width, max(panel.height - Self.blockLabel, 90)),
                        quantity: "projection")
    }

    /// The figure's size in points.
    public var width: Double { layout.width }
    public var height: Double { layout.height }

}
