import Foundation
import StrataFigures
import StrataIR

/// The inputs of a sweep as a figure (`TRANSFORM.png|pdf|svg`): the first images (rows) at each
/// amount (columns), as raw pixels transformed as `Sweep.run` transforms them, before the mean is
/// subtracted. Of more than `Sweep.stripColumns` amounts it shows an even sample (`Sweep.sample`).
public struct SweepStrip: Drawing {
    public var transform: Transform
    /// The amounts shown (columns), and how many the sweep had.
    public var amounts: [Double]
    public var total: Int
    /// The images (rows): the first of `input`.
    public var images: [Int]
    public var shape: TensorShape
    /// The raw images, their labels and class names.
    public var input: AnalysisInput
    public var fill: Fill
    public var interpolation: Interpolation
    public var noiseSeed: UInt64

    /// The first `images` images of `input` at each of `all` amounts (sampled to at most
    /// `Sweep.stripColumns`). `shape`: the network's input.
    public init(_ input: AnalysisInput, shape: TensorShape, transform: Transform, amounts all: [Double], images: Int, noiseSeed: UInt64 = 0,
                fill: Fill = .black, interpolation: Interpolation = .bilinear) {
        self.images = Array(0..<max(0, min(images, input.count)))
        (self.transform, self.amounts, self.total, self.shape, self.input) = (transform, Sweep.sample(all, count: Sweep.stripColumns), all.count, shape, input)
        (self.fill, self.interpolation, self.noiseSeed) = (fill, interpolation, noiseSeed)
    }

    /// The cell at `row`, `column`: that image's raw pixels (C × H × W, not mean-subtracted)
    /// transformed by that amount as `Sweep.run` transforms them (made when drawn, not kept: 64
    /// images × 40 amounts of a 224-pixel input would be 1.5 GB).
    public func pixels(row: Int, column: Int) -> [Float] {
        let (c, h, w) = (shape.channels, shape.height, shape.width)
        let i = images[row]
        var moved = [Float](repeating: 0, count: input.perImage)
        Array(input.rawImage(i)).withUnsafeBufferPointer { x in
            moved.withUnsafeMutableBufferPointer {
                transform.apply(x.baseAddress!, $0.baseAddress!, channels: c, height: h, width: w, amount: amounts[column],
                                seed: Sweep.noiseSeed(noiseSeed, image: i), fill: fill, interpolation: interpolation,
                                meanImage: fill == .mean ? input.rule.inputMean : nil)
            }
        }
        return moved
    }

    static let margin = 12.0, gap = 3.0, labelGap = 8.0

    /// The side of a cell: large for few amounts, at least 28 points.
    var cell: Double { max(28, min(72, 1000 / Double(max(amounts.count, 1)))) }
    /// Column titles turn upright where they would not fit across a cell (at about 4.3 points a character).
    var rotatedTitles: Bool { longestTitle * 4.3 > cell + Self.gap - 2 }
    var longestTitle: Double { Double(amounts.map { transform.label($0).count }.max() ?? 0) }
    var titleHeight: Double { rotatedTitles ? 6 + 4.3 * longestTitle : 12 }
    var rowTitles: [(String, String)] {
        images.map { i in ("image \(i)", input.labels.map { input.className($0[i]) } ?? "") }
    }
    var rowTitleWidth: Double { 8 + 5.2 * Double(rowTitles.map { max($0.0.count, $0.1.count) }.max() ?? 8) }

    /// The figure's size in points.
    public var width: Double {
        max(2 * Self.margin + rowTitleWidth + Double(amounts.count) * (cell + Self.gap), 560)
    }
    public var height: Double {
        Heading.height(captionLines: caption.count) + 14 + titleHeight + Double(images.count) * (cell + Self.gap) + Self.margin
    }


    /// The settings that made the figure, wrapped to its width.
    var caption: [String] { TextLayout.wrap(lines: captionText, width: width - 2 * Self.margin, size: 8) }

    var captionText: [String] {
        let geometric = [.translateY, .translateX, .scale, .rotate].contains(transform) ? "; fill \(fill.rawValue), interpolation \(interpolation.rawValue)" : ""
        let seed = transform == .noise ? "; noise seed \(noiseSeed), values outside [0, 1] drawn clipped" : ""
        let shown = amounts.count < total ? "\(amounts.count) of the \(total) amounts, evenly spaced (the first and the last included)"
            : "all \(total) amounts"
        return [
            "Raw pixels on [0, 1] (black 0, white 1), transformed as the sweep transforms them, before the mean is subtracted: T(x)\(geometric)\(seed).",
            "Columns: \(shown); rows: the first \(images.count) images.",
        ]
    }

    /// Draws the figure on `canvas` (of `width` × `height`).
    public func draw(_ canvas: Canvas) {
        Heading.draw(canvas, title: "The sweep's inputs, \(transform.rawValue): images 0–\(max(0, images.count - 1)) at each amount", caption: caption)
        let top = Heading.height(captionLines: caption.count)
        let left = Self.margin + rowTitleWidth
        canvas.text(transform.axisLabel, at: Point(left, top), size: 8, bold: true, baseline: .top)
        let rotated = rotatedTitles
        let gridTop = top + 14 + titleHeight
        for (k, a) in amounts.enumerated() {
            let x = left + Double(k) * (cell + Self.gap) + cell / 2
            if rotated {
                canvas.text(transform.label(a), at: Point(x, gridTop - 3), size: 7, align: .left, baseline: .middle, rotated: true)
            } else {
                canvas.text(transform.label(a), at: Point(x, gridTop - 3), size: 7, align: .centre, baseline: .bottom)
            }
        }
        let (c, h, w) = (shape.channels, shape.height, shape.width)
        for (row, i) in images.enumerated() {
            let y = gridTop + Double(row) * (cell + Self.gap)
            canvas.text(rowTitles[row].0, at: Point(Self.margin, y + cell / 2 - 1), size: 8, bold: true, baseline: .bottom)
            canvas.text(rowTitles[row].1, at: Point(Self.margin, y + cell / 2 + 1), size: 7.5, baseline: .top)
            let range = Picture.rawRange(input.rawImage(i))
            for k in amounts.indices {
                let x = left + Double(k) * (cell + Self.gap)
                let scale = cell / Double(max(h, w))
                canvas.image(RGBImage(planar: pixels(row: row, column: k)[...], channels: c, height: h, width: w, range: range),
                             in: Rect(x, y, Double(w) * scale, Double(h) * scale))
            }
        }
    }
}
