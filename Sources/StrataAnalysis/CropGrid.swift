import StrataFigures

/// Pictures in a grid of equal square cells, row by row: each drawn at one scale (points per
/// pixel, so a clipped receptive field looks smaller, not stretched), centred in its cell, with a
/// small label under it.
struct CropGrid {
    /// The height of a label line under a cell.
    static let labelHeight = 10.0
    static let labelSize = 6.5

    let columns: Int
    let rows: Int
    /// A cell's side in points.
    let cell: Double
    let gap: Double
    let labelled: Bool

    init(count: Int, columns: Int, cell: Double, gap: Double = 5, labelled: Bool = true) {
        self.columns = max(1, columns)
        self.rows = max(1, (count + max(1, columns) - 1) / max(1, columns))
        self.cell = cell
        self.gap = gap
        self.labelled = labelled
    }

    var width: Double { Double(columns) * cell + Double(columns - 1) * gap }
    var rowHeight: Double { cell + (labelled ? Self.labelHeight : 0) }
    var height: Double { Double(rows) * rowHeight + Double(rows - 1) * gap }

    /// Cell `k`'s square, the grid's top-left corner at `origin`.
    func cellRect(_ k: Int, at origin: Point) -> Rect {
        Rect(origin.x + Double(k % columns) * (cell + gap), origin.y + Double(k / columns) * (rowHeight + gap), cell, cell)
    }

    /// Draws `pictures` (with `labels`, when labelled; `outlined` cells get a highlight frame).
    func draw(_ canvas: Canvas, at origin: Point, pictures: [RGBImage], labels: [String] = [], outlined: Set<Int> = []) {
        let side = Double(pictures.map { max($0.width, $0.height) }.max() ?? 1)
        let scale = cell / max(side, 1)
        for (k, picture) in pictures.enumerated() {
            let r = cellRect(k, at: origin)
            let (w, h) = (Double(picture.width) * scale, Double(picture.height) * scale)
            let placed = Rect(r.midX - w / 2, r.midY - h / 2, w, h)
            canvas.image(picture, in: placed)
            canvas.stroke(placed, outlined.contains(k) ? .highlight : .lightGrey, width: outlined.contains(k) ? 1.5 : 0.4)
            if labelled, k < labels.count {
                canvas.text(labels[k], at: Point(r.midX, r.maxY + 1.5), size: Self.labelSize, align: .centre, baseline: .top, colour: .darkGrey)
            }
        }
    }
}

/// The layout of a figure's heading: its caption sentences wrapped to the figure's width.
struct HeadingLayout {
    let title: String
    let caption: [String]

    /// `sentences` wrapped to fit a figure `width` points wide (at least wide enough for the title).
    init(title: String, sentences: [String], width: Double) {
        self.title = title
        caption = sentences.flatMap { TextLayout.wrap($0, width: width - 20, size: 8) }
    }

    var height: Double { Heading.height(captionLines: caption.count) }

    func draw(_ canvas: Canvas) { Heading.draw(canvas, title: title, caption: caption) }

    /// The width a figure needs: `content`, widened for the title, at least `minimum`.
    static func width(content: Double, title: String, minimum: Double = 420) -> Double {
        max(content, minimum, TextLayout.width(title, size: 11, bold: true) + 30)
    }
}
