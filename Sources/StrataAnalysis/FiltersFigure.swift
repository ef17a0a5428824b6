import StrataFigures

/// Fig. 6 of the ZF paper (`LAYER.png`): a conv layer's filters in a grid, 16 across (more past 256),
/// each numbered; one block per group, labelled with the filters and input channels it has;
/// coloured as RGB (3 input channels), with the diverging map (1 input channel) or as the RMS over
/// the input channels at each tap (any other count), per filter or on one shared range; a colour
/// bar; the RMS range and the clip radius in the caption, filters at the radius outlined.
public struct FiltersFigure: Drawing {
    public var network: String
    public var layer: String
    public var weights: String
    public var filters: Int
    public var channels: Int
    public var kernel: (height: Int, width: Int)
    public var groups: Int
    /// Each filter's RMS (`Filters.rms`).
    public var rms: [Double]
    /// The spec's `training.filter_rms_clip`, if any.
    public var radius: Double?
    let colours: CropColours

    /// The filters of `weight` ([F, C/g, kh, kw]: `filters`, `channels` = C/g, `kernel`).
    public init(network: String, layer: String, weights: String, weight: [Float], filters: Int, channels: Int, kernel: (height: Int, width: Int),
                groups: Int, radius: Double?, scale: HeatmapScale, clipPercent: Double) {
        (self.network, self.layer, self.weights) = (network, layer, weights)
        (self.filters, self.channels, self.kernel, self.groups, self.radius) = (filters, channels, kernel, max(1, groups), radius)
        rms = Filters.rms(weight, filters: filters)
        let size = channels * kernel.height * kernel.width
        let crops = (0..<filters).map { f in
            Crop(values: Array(weight[(f * size)..<((f + 1) * size)]), channels: channels, height: kernel.height, width: kernel.width)
        }
        switch channels {
        case 1: colours = CropColours(crops, kind: .signed, scale: scale, clipPercent: clipPercent)
        case 3: colours = CropColours(crops, kind: .rgb, scale: scale, clipPercent: clipPercent)
        default: colours = CropColours(crops.map(\.rms), kind: .magnitude, scale: scale, clipPercent: clipPercent)
        }
    }

    var perGroup: Int { filters / groups }
    /// A filter's cell: about 8 points per tap, 32 to 64 points a side.
    var cell: Double { max(32, min(64, 8 * Double(max(kernel.height, kernel.width)))) }
    /// 16 filters across, more for a large layer (a square of them, so it fits `Figure.maximumSide`).
    var grid: CropGrid {
        let across = max(16, Int(Double(filters).squareRoot().rounded(.up)))
        return CropGrid(count: perGroup, columns: min(perGroup, across), cell: cell, gap: 4)
    }
    /// The height of a group's label line (none with one group).
    var groupLabel: Double { groups > 1 ? 16 : 0 }

    /// The filters at the clip radius (within 1%, as `Filters.rmsCSV` marks them).
    var atRadius: Set<Int> {
        guard let radius else { return [] }
        return Set(rms.indices.filter { rms[$0] >= 0.99 * radius })
    }

    var title: String {
        "\(network) \(layer): \(filters) filters of \(channels)×\(kernel.height)×\(kernel.width)" + (groups > 1 ? " in \(groups) groups" : "")
    }

    var sentences: [String] {
        let quantity: String = switch colours.kind {
        case .signed: "Each filter's weights"
        case .rgb: "Each filter's weights on the input's 3 channels, as R, G, B"
        case .magnitude: "Each filter's RMS over its \(channels) input channels at each tap (where it looks)"
        }
        let mean = rms.reduce(0, +) / Double(max(rms.count, 1))
        var clip = "RMS per filter: \(Ticks.short(rms.min() ?? 0)) to \(Ticks.short(rms.max() ?? 0)) (mean \(Ticks.short(mean))). "
        if let radius {
            clip += "Clip radius (training.filter_rms_clip): \(Ticks.short(radius)); \(atRadius.count) of \(filters) filters at it (within 1%), outlined."
        } else {
            clip += "No clip radius (the spec sets no training.filter_rms_clip)."
        }
        var s = ["Weights: \(weights).", "\(quantity), numbered by filter. " + colours.description(noun: "filter", count: filters), clip]
        if groups > 1 { s.insert("Grouped conv: each group's \(perGroup) filters see only its \(channels) input channels.", at: 2) }
        return s
    }

    var blockHeight: Double { groupLabel + grid.height }

    var layout: (width: Double, height: Double, heading: HeadingLayout, content: Double) {
        let content = 20 + grid.width + 12 + ColourBar.width
        let width = HeadingLayout.width(content: content, title: title)
        let heading = HeadingLayout(title: title, sentences: sentences, width: width)
        let blocks = Double(groups) * blockHeight + Double(groups - 1) * 10
        return (width, heading.height + 8 + max(blocks, 90) + 10, heading, content)
    }

    /// Draws the figure on a canvas of `size`.
    public func draw(_ canvas: Canvas) {
        let (width, _, heading, content) = layout
        heading.draw(canvas)
        let x = (width - content) / 2 + 10, top = heading.height + 8
        let outlined = atRadius
        for g in 0..<groups {
            let y = top + Double(g) * (blockHeight + 10)
            let first = g * perGroup
            if groups > 1 {
                let inputs = channels == 1 ? "input channel \(g)" : "input channels \(g * channels)–\((g + 1) * channels - 1)"
                canvas.text("group \(g + 1) of \(groups): filters \(first)–\(first + perGroup - 1), \(inputs)", at: Point(x, y + 2), size: 8, bold: true, baseline: .top)
            }
            let members = first..<(first + perGroup)
            grid.draw(canvas, at: Point(x, y + groupLabel), pictures: members.map(colours.picture), labels: members.map(String.init),
                      outlined: Set(members.filter(outlined.contains).map { $0 - first }))
        }
        let barHeight = max(min(Double(groups) * blockHeight - CropGrid.labelHeight, 240), 90)
        colours.drawBar(canvas, in: Rect(x + grid.width + 12, top + groupLabel, ColourBar.width, barHeight - groupLabel),
                        quantity: colours.kind == .magnitude ? "RMS weight" : "weight")
    }

    /// The figure's size in points.
    public var width: Double { layout.width }
    public var height: Double { layout.height }

}
