import Foundation
import StrataFigures
import StrataIR

/// Fig. 7 of the ZF paper as a figure (`occlusion.png|pdf|svg`): a row per shown image, five panels:
/// (a) the raw image with the occluder drawn where p(true class) is lowest; (b) the summed
/// activation of the layer's strongest map (in the unoccluded image) at each occluder position;
/// (c) that map's strongest activation projected to pixel space (`Projection.project`); (d) p(true
/// class) at each position; (e) the most probable class at each position, with a legend of classes.
/// Heat maps have colour bars; the title and caption say what made the figure.
public struct OcclusionFigure: Drawing {
    public var occlusion: Occlusion
    /// The images (raw pixels are drawn), their labels and class names.
    public var input: AnalysisInput
    /// The network's input, C × H × W.
    public var shape: TensorShape
    /// Rows: the first `shown` images of `input`.
    public var shown: Int
    /// Per shown image, the projection of `occlusion.strongest[i]` (C × H × W); nil: not computed,
    /// and panel (c) says so.
    public var projections: [[Float]]?
    /// Per shown image, the receptive field of that activation (`ReceptiveField.of`), outlined in (c).
    public var fields: [(top: Int, left: Int, height: Int, width: Int)]
    public var network: String
    public var layer: String
    /// The weights file's name, for the title.
    public var checkpoint: String
    public var fill: OccluderFill
    public var scale: HeatmapScale
    /// The percentage of largest magnitudes clipped in (b) and (c) (`ColourRange.of`).
    public var clipPercent: Double
    /// The projection rule's name, e.g. `deconvnet`.
    public var rule: String
    /// How the maps were approximated and how far they were measured from exact, when they were
    /// (a caption line; nil for exact maps).
    public var approximation: String?

    public init(occlusion: Occlusion, input: AnalysisInput, shape: TensorShape, shown: Int, projections: [[Float]]?,
                fields: [(top: Int, left: Int, height: Int, width: Int)], network: String, layer: String, checkpoint: String,
                fill: OccluderFill, scale: HeatmapScale, clipPercent: Double, rule: String = "deconvnet", approximation: String? = nil) {
        self.occlusion = occlusion
        self.input = input
        self.shape = shape
        self.shown = max(0, min(shown, input.count))
        self.projections = projections
        self.fields = fields
        self.network = network
        self.layer = layer
        self.checkpoint = checkpoint
        self.fill = fill
        self.scale = scale
        self.clipPercent = clipPercent
        self.rule = rule
        self.approximation = approximation
    }

    // Layout, in points.
    static let side = 120.0, gap = 18.0, margin = 12.0, barGap = 6.0
    static let titleHeight = 28.0, labelHeight = 14.0, rangeHeight = 12.0, rowGap = 8.0, legendRow = 12.0, legendColumns = 5

    /// The left edge of each of the five panels.
    var columns: [Double] {
        let heat = Self.side + Self.barGap + ColourBar.width + Self.gap
        let b = Self.margin + Self.side + Self.gap
        return [Self.margin, b, b + heat, b + 2 * heat, b + 3 * heat]
    }

    var rowHeight: Double { Self.labelHeight + Self.side + Self.rangeHeight + Self.rowGap }
    var legendClasses: [Int] {
        let positions = occlusion.rows * occlusion.columns
        var seen = Set(occlusion.topClass.prefix(shown * positions).map(Int.init))
        for i in 0..<shown { if let label = input.labels?[i] { seen.insert(label) } }
        return seen.sorted()
    }
    var legendHeight: Double {
        Self.legendRow + Double((legendClasses.count + Self.legendColumns - 1) / Self.legendColumns) * Self.legendRow + Self.margin
    }

    /// The figure's size in points.
    public var width: Double { columns[4] + Self.side + Self.margin }
    public var height: Double {
        Heading.height(captionLines: caption.count) + 4 + Self.titleHeight + Double(shown) * rowHeight + legendHeight
    }


    /// Draws the figure on `canvas` (of `width` × `height`).
    public func draw(_ canvas: Canvas) {
        Heading.draw(canvas, title: title, caption: caption)
        var y = Heading.height(captionLines: caption.count) + 4
        let titles = [("(a) input, occluder where", "p(true class) is lowest"), ("(b) strongest map's total", "activation, as the occluder moves"),
                      ("(c) its strongest activation,", "projected to pixels (\(rule))"), ("(d) p(true class),", "as the occluder moves"),
                      ("(e) most probable class,", "as the occluder moves")]
        for (x, t) in zip(columns, titles) {
            canvas.text(t.0, at: Point(x, y), size: 8.5, bold: true, baseline: .top)
            canvas.text(t.1, at: Point(x, y + 11), size: 8.5, bold: true, baseline: .top)
        }
        y += Self.titleHeight
        let ranges = self.ranges()
        for i in 0..<shown {
            drawRow(canvas, i, y: y, ranges: ranges[i])
            y += rowHeight
        }
        canvas.text("(e) classes:", at: Point(Self.margin, y), size: 8, bold: true, baseline: .top)
        Legend.draw(canvas, at: Point(Self.margin, y + Self.legendRow), entries: legendClasses.map { (input.className($0), Colour.series($0)) },
                    mark: .swatch, columns: Self.legendColumns, columnWidth: (width - 2 * Self.margin) / Double(Self.legendColumns))
    }
}

extension OcclusionFigure {
    /// The title: network, layer, maps, checkpoint and images; the maps left to the rows where they do not fit.
    var title: String {
        let maps = Array(Set(occlusion.strongestMap.prefix(shown).map(Int.init))).sorted()
        let images = shown == 1 ? "image 0" : "images 0–\(shown - 1)"
        let full = "Occlusion sensitivity (ZF Fig. 7): \(network), layer \(layer), strongest map\(maps.count == 1 ? "" : "s") "
            + "\(maps.map(String.init).joined(separator: ", ")), checkpoint \(checkpoint), \(images)"
        if TextLayout.width(full, size: 11, bold: true) <= width - 2 * Self.margin { return full }
        return "Occlusion sensitivity (ZF Fig. 7): \(network), layer \(layer) (map per row), checkpoint \(checkpoint), \(images)"
    }

    /// The settings that made the figure, wrapped to its width.
    var caption: [String] { TextLayout.wrap(lines: captionText, width: width - 2 * Self.margin, size: 8) }

    var captionText: [String] {
        let (p, s) = (occlusion.patch, occlusion.stride)
        let scaleWords = scale == .shared ? "shared: (d) on [0, 1], (b) and (c) on one range over the rows, so rows compare"
            : "per-image: each map on its own range"
        let channels = shape.channels > 1 ? ", summed over the \(shape.channels) channels" : ""
        return [
            "Occluder: a \(p)×\(p)-pixel square moved by \(s) pixels (\(occlusion.rows)×\(occlusion.columns) positions), filled \(fill), "
                + "drawn on the raw image before the mean is subtracted.",
            "In (b), (d) and (e) the cell (i, j) is the square at rows \(s)i…\(s)i+\(p - 1), columns \(s)j…\(s)j+\(p - 1); "
                + "the input in (a) is raw pixels on [0, 1].",
            "Colours: --scale \(scale.rawValue) (\(scaleWords)); --clip-percentile \(Ticks.short(clipPercent)): "
                + (clipPercent > 0 ? "the largest \(Ticks.short(clipPercent))% of magnitudes clipped in (b) and (c)" : "nothing clipped") + "; (d) unclipped.",
            "(c): the \(rule) projection of the unoccluded image's largest activation in its strongest map\(channels), on a diverging map "
                + "centred on 0 (white); dashed: that activation's receptive field.",
        ] + (approximation.map { ["Maps (b), (d), (e): \($0)."] } ?? [])
    }

    /// The occluder position where image `i`'s true class is least probable (the first on ties).
    public func lowest(_ i: Int) -> (row: Int, column: Int, probability: Float) {
        let positions = occlusion.rows * occlusion.columns
        let values = occlusion.probability[(i * positions)..<((i + 1) * positions)]
        let k = values.indices.min { values[$0] < values[$1] }! - i * positions
        return (k / occlusion.columns, k % occlusion.columns, values[values.startIndex + k])
    }

    /// Panel (a)'s pixels: image `i`'s raw pixels (not mean-subtracted) with the occluder where
    /// p(true class) is lowest, filled as the occluded copies were.
    public func occludedImage(_ i: Int) -> [Float] {
        let low = lowest(i)
        var occluded = [Float](repeating: 0, count: input.perImage)
        occluded.withUnsafeMutableBufferPointer {
            occlusion.occlude(input.rawImage(i), into: $0.baseAddress!, channels: shape.channels, height: shape.height, width: shape.width,
                              at: low.row, low.column, fill: fill, meanImage: input.rule.inputMean)
        }
        return occluded
    }

    /// Projection `i` summed over channels (H × W).
    func projectionPlane(_ i: Int) -> [Float]? {
        guard let projections, i < projections.count else { return nil }
        let plane = shape.height * shape.width
        return (0..<plane).map { q in (0..<shape.channels).reduce(Float(0)) { $0 + projections[i][$1 * plane + q] } }
    }

    /// Per shown image, the colour ranges of (b), (c) and (d) under `scale`.
    func ranges() -> [(activation: ColourRange, projection: ColourRange?, probability: ColourRange)] {
        let positions = occlusion.rows * occlusion.columns
        let clip = clipPercent
        let planes = (0..<shown).map(projectionPlane)
        let sharedActivation = ColourRange.of(occlusion.activation.prefix(shown * positions), signed: false, clipPercent: clip, note: "shared")
        let sharedProjection = ColourRange.of(planes.compactMap { $0 }.flatMap { $0 }, signed: true, clipPercent: clip, note: "shared")
        return (0..<shown).map { i in
            let maps = (i * positions)..<((i + 1) * positions)
            let projection = planes[i].map { ColourRange.of($0, signed: true, clipPercent: clip, note: "per image") }
            switch scale {
            case .shared:
                return (sharedActivation, projection.map { _ in sharedProjection }, ColourRange(low: 0, high: 1, note: "shared"))
            case .perImage:
                return (ColourRange.of(occlusion.activation[maps], signed: false, clipPercent: clip, note: "per image"), projection,
                        ColourRange.of(occlusion.probability[maps], signed: false, clipPercent: 0, note: "per image"))
            }
        }
    }
}

extension OcclusionFigure {
    /// A picture of `rows` × `columns` fitted in a `side`-point square at (x, y), keeping its aspect.
    static func box(x: Double, y: Double, rows: Int, columns: Int) -> Rect {
        let scale = side / Double(max(rows, columns, 1))
        let (w, h) = (Double(columns) * scale, Double(rows) * scale)
        return Rect(x + (side - w) / 2, y + (side - h) / 2, w, h)
    }

    /// One image's row: a label line, the five panels, the colour bars and each heat map's range.
    func drawRow(_ canvas: Canvas, _ i: Int, y: Double, ranges: (activation: ColourRange, projection: ColourRange?, probability: ColourRange)) {
        let (c, h, w) = (shape.channels, shape.height, shape.width)
        let positions = occlusion.rows * occlusion.columns
        let maps = (i * positions)..<((i + 1) * positions)
        let (p, s) = (occlusion.patch, occlusion.stride)
        let low = lowest(i)
        let name = input.names.indices.contains(i) ? " (\((input.names[i] as NSString).lastPathComponent))" : ""
        let truth = input.labels.map { labels in
            let k = labels[i], named = input.classNames.flatMap { $0.indices.contains(k) ? " (\($0[k]))" : nil } ?? ""
            return "true class \(k)\(named) · "
        } ?? ""
        let (top, left) = (low.row * s, low.column * s)
        canvas.text("image \(i)\(name) · \(truth)strongest map \(occlusion.strongestMap[i]) · p(true) lowest, \(String(format: "%.4g", low.probability)), "
                    + "with the occluder at rows \(top)–\(min(h, top + p) - 1), columns \(left)–\(min(w, left + p) - 1)",
                    at: Point(Self.margin, y), size: 8, baseline: .top)
        let top0 = y + Self.labelHeight
        let x = columns
        // (a) the raw image with the occluder drawn at the lowest p(true), filled as the runs were.
        let image = Self.box(x: x[0], y: top0, rows: h, columns: w)
        canvas.image(RGBImage(planar: occludedImage(i)[...], channels: c, height: h, width: w, range: Picture.rawRange(input.rawImage(i))), in: image)
        let (sx, sy) = (image.width / Double(w), image.height / Double(h))
        canvas.stroke(Rect(image.x + Double(left) * sx, image.y + Double(top) * sy, Double(min(p, w - left)) * sx, Double(min(p, h - top)) * sy),
                      .highlight, width: 1.5)
        // (b) the strongest map's summed activation at each occluder position.
        let cells = Self.box(x: x[1], y: top0, rows: occlusion.rows, columns: occlusion.columns)
        heatMap(canvas, occlusion.activation[maps], rows: occlusion.rows, columns: occlusion.columns, at: cells, map: .viridis,
                range: ranges.activation, label: "summed activation")
        // (c) the projection, with the activation's receptive field dashed.
        let projected = Self.box(x: x[2], y: top0, rows: h, columns: w)
        if let plane = projectionPlane(i), let range = ranges.projection {
            heatMap(canvas, plane[...], rows: h, columns: w, at: projected, map: .diverging, range: range, label: "projection (signed)")
            if i < fields.count {
                let f = fields[i]
                let r = Rect(projected.x + Double(f.left) * sx, projected.y + Double(f.top) * sy, Double(f.width) * sx, Double(f.height) * sy)
                canvas.line([Point(r.x, r.y), Point(r.maxX, r.y), Point(r.maxX, r.maxY), Point(r.x, r.maxY), Point(r.x, r.y)], .darkGrey, width: 0.8, dash: [3, 2])
            }
        } else {
            canvas.fill(projected, .lightGrey)
            canvas.text("not computed", at: Point(projected.midX, projected.midY), size: 8, align: .centre, baseline: .middle)
        }
        // (d) p(true class) at each occluder position.
        heatMap(canvas, occlusion.probability[maps], rows: occlusion.rows, columns: occlusion.columns,
                at: Self.box(x: x[3], y: top0, rows: occlusion.rows, columns: occlusion.columns), map: .viridis, range: ranges.probability,
                label: "p(true class)")
        // (e) the most probable class, in the legend's colours.
        let classes = occlusion.topClass[maps].flatMap { k -> [UInt8] in let b = Colour.series(Int(k)).byte; return [b.r, b.g, b.b] }
        canvas.image(RGBImage(width: occlusion.columns, height: occlusion.rows, pixels: classes),
                     in: Self.box(x: x[4], y: top0, rows: occlusion.rows, columns: occlusion.columns))
    }

    /// A heat map with its colour bar to the right and its range written below.
    func heatMap(_ canvas: Canvas, _ values: ArraySlice<Float>, rows: Int, columns: Int, at r: Rect, map: ColourMap, range: ColourRange, label: String) {
        canvas.image(RGBImage(values: values, rows: rows, columns: columns, map: map, range: (range.low, range.high)), in: r)
        let column = r.x - (Self.side - r.width) / 2
        let top = r.y - (Self.side - r.height) / 2
        ColourBar.draw(canvas, in: Rect(column + Self.side + Self.barGap, top, ColourBar.width, Self.side), map: map, range: (range.low, range.high), label: label)
        canvas.text("range \(Self.span(range.low, range.high)) (\(range.note))", at: Point(column, top + Self.side + 2), size: 7,
                    baseline: .top, colour: .darkGrey)
    }

    /// `low … high` with the digits that tell them apart (`0.9998 … 1`, not `1 … 1`).
    static func span(_ low: Double, _ high: Double) -> String {
        var (a, b) = (Ticks.short(low), Ticks.short(high))
        var digits = 4
        while a == b && low != high && digits <= 9 {
            (a, b) = (String(format: "%.\(digits)g", low), String(format: "%.\(digits)g", high))
            digits += 1
        }
        return "\(a) … \(b)"
    }
}
