import Foundation

/// A figure that knows its size and draws itself: what every analysis figure is. Writing it in
/// each format, and reading back what it says, come with it.
public protocol Drawing {
    /// The figure's size in points.
    var width: Double { get }
    var height: Double { get }
    /// Draws the figure on a canvas of `width` × `height`.
    func draw(_ canvas: Canvas)
}

extension Drawing {
    /// The figure's bytes as `format`.
    public func render(_ format: FigureFormat) throws -> Data {
        try Figure.render(width: width, height: height, format: format, draw)
    }

    /// Writes the figure to `path` as `format`, atomically.
    public func write(to path: String, format: FigureFormat) throws {
        try Figure.write(to: path, width: width, height: height, format: format, draw)
    }

    /// What the figure says: every text and every colour bar it draws, in order (what tests check).
    public func record() throws -> (texts: [String], bars: [(label: String, range: (Double, Double))]) {
        var record: (texts: [String], bars: [(label: String, range: (Double, Double))]) = ([], [])
        _ = try Figure.render(width: width, height: height, format: .svg) { canvas in
            draw(canvas)
            record = (canvas.texts, canvas.colourBars)
        }
        return record
    }
}
