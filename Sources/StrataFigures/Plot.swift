import Foundation

/// Tick positions at round numbers (1, 2 or 5 × 10ᵏ apart) and their labels.
public enum Ticks {
    /// About `count` round values covering [low, high].
    public static func nice(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard low.isFinite, high.isFinite else { return [] }
        if high <= low { return [low] }
        // The round step whose tick count is closest to `count` (the smaller step on a tie).
        let power = pow(10, floor(log10((high - low) / Double(max(1, count)))))
        let candidates = [0.1, 0.2, 0.5, 1, 2, 5, 10].map { $0 * power }
        func ticks(_ s: Double) -> Int { Int(floor(high / s + 1e-9) - ceil(low / s - 1e-9)) + 1 }
        let step = candidates.min { abs(ticks($0) - count) < abs(ticks($1) - count) } ?? power
        // Whole multiples of the step, rounded to 12 significant digits (3 × 0.2 is 0.6, not 0.6000000000000001).
        let first = Int(ceil(low / step - 1e-9)), last = Int(floor(high / step + 1e-9))
        guard first <= last else { return [low] }
        let out = (first...last).map { k -> Double in k == 0 ? 0 : Double(String(format: "%.12g", Double(k) * step))! }
        return out
    }

    /// A tick label: as few digits as the step between ticks needs (`0.25`, `10`, `1e-05`).
    public static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.1e", v) }
        let digits = step > 0 ? max(0, min(6, Int(-floor(log10(step) + 1e-9)))) : 2
        return String(format: "%.\(digits)f", v)
    }

    /// A value for a caption or colour bar end: 3 significant digits.
    public static func short(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.2e", v) }
        return String(format: "%.3g", v)
    }
}

/// A vertical colour bar beside a heat map: the map's colours over `range`, ticks at round
/// numbers, the label reading upwards on its right.
public enum ColourBar {
    /// The width a bar with its ticks and label takes.
    public static let width = 46.0

    public static func draw(_ canvas: Canvas, in r: Rect, map: ColourMap, range: (Double, Double), label: String) {
        let bar = Rect(r.x, r.y, 9, r.height)
        let steps = 64
        for k in 0..<steps {
            let t0 = Double(k) / Double(steps)
            let y = bar.maxY - (t0 + 1 / Double(steps)) * bar.height
            canvas.fill(Rect(bar.x, y, bar.width, bar.height / Double(steps) + 0.3), map.colour(t0 + 0.5 / Double(steps)))
        }
        canvas.stroke(bar, .darkGrey, width: 0.5)
        let (lo, hi) = range
        let ticks = Ticks.nice(lo, hi, count: 4)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : max(abs(hi - lo), 1e-12)
        var widest = 0.0
        for v in ticks {
            let y = bar.maxY - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * bar.height
            canvas.line([Point(bar.maxX, y), Point(bar.maxX + 3, y)], .darkGrey, width: 0.5)
            let text = Ticks.label(v, step: step)
            widest = max(widest, canvas.textWidth(text, size: 7))
            canvas.text(text, at: Point(bar.maxX + 4, y), size: 7, baseline: .middle)
        }
        // The label right of the widest tick label: long ticks (0.99995) push it past `width`.
        canvas.text(label, at: Point(max(r.x + width - 3, bar.maxX + 4 + widest + 9), r.midY), size: 7.5, align: .centre, baseline: .bottom, rotated: true)
        canvas.recordColourBar(label, range)
    }
}

/// A legend: a swatch or line sample and a name per entry, in rows.
public enum Legend {
    public enum Mark: Sendable { case swatch, line, band }

    /// Draws the entries from `origin` downwards; returns the height used.
    @discardableResult
    public static func draw(_ canvas: Canvas, at origin: Point, entries: [(String, Colour)], mark: Mark = .line, size: Double = 8,
                            columns: Int = 1, columnWidth: Double = 120) -> Double {
        let rowHeight = size + 4
        for (k, entry) in entries.enumerated() {
            let x = origin.x + Double(k % max(1, columns)) * columnWidth, y = origin.y + Double(k / max(1, columns)) * rowHeight
            switch mark {
            case .swatch: canvas.fill(Rect(x, y + 1, size, size), entry.1)
            case .line: canvas.line([Point(x, y + size / 2 + 1), Point(x + 14, y + size / 2 + 1)], entry.1, width: 1.8)
            case .band:
                canvas.fill(Rect(x, y + 1, 14, size), entry.1.withAlpha(0.25))
                canvas.line([Point(x, y + size / 2 + 1), Point(x + 14, y + size / 2 + 1)], entry.1, width: 1.8)
            }
            canvas.text(entry.0, at: Point(x + (mark == .swatch ? size + 4 : 18), y + size / 2 + 1), size: size, baseline: .middle)
        }
        return Double((entries.count + max(1, columns) - 1) / max(1, columns)) * rowHeight
    }
}

/// A line plot's axes in a rectangle: x and y ranges, ticks, axis titles and a title, and the
/// mapping from data to the page for the lines and bands drawn in it.
public struct Plot {
    public let canvas: Canvas
    /// The data area (inside the axes).
    public let area: Rect
    public let x: (Double, Double)
    public let y: (Double, Double)

    /// Draws the frame, ticks and titles. `bounds` includes room for tick labels and axis titles.
    /// `categories`: the x axis names these at 0, 1, … (the x range then −0.5 … count − 0.5) instead of numbers.
    public init(_ canvas: Canvas, in bounds: Rect, x: (Double, Double), y: (Double, Double), xLabel: String, yLabel: String, title: String,
                categories: [String]? = nil) {
        self.canvas = canvas
        let area = Rect(bounds.x + 44, bounds.y + 18, bounds.width - 52, bounds.height - 18 - 30)
        self.area = area
        let pad = { (r: (Double, Double)) -> (Double, Double) in r.1 > r.0 ? r : (r.0 - 0.5, r.0 + 0.5) }
        self.x = categories.map { (-0.5, Double($0.count) - 0.5) } ?? pad(x)
        self.y = pad(y)
        canvas.text(title, at: Point(area.midX, bounds.y + 2), size: 9, bold: true, align: .centre, baseline: .top)
        let xTicks = Ticks.nice(self.x.0, self.x.1, count: 5), yTicks = Ticks.nice(self.y.0, self.y.1, count: 4)
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1, yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        for v in yTicks {
            let p = self.point(self.x.0, v)
            canvas.line([Point(area.x, p.y), Point(area.maxX, p.y)], .lightGrey, width: 0.4)
            canvas.text(Ticks.label(v, step: yStep), at: Point(area.x - 3, p.y), size: 7, align: .right, baseline: .middle)
        }
        for (k, name) in (categories ?? []).enumerated() {
            let p = self.point(Double(k), self.y.0)
            canvas.line([Point(p.x, area.maxY), Point(p.x, area.maxY + 3)], .darkGrey, width: 0.5)
            canvas.text(name, at: Point(p.x, area.maxY + 4), size: 7, align: .centre, baseline: .top)
        }
        for v in categories == nil ? xTicks : [] {
            let p = self.point(v, self.y.0)
            canvas.line([Point(p.x, area.maxY), Point(p.x, area.maxY + 3)], .darkGrey, width: 0.5)
            canvas.text(Ticks.label(v, step: xStep), at: Point(p.x, area.maxY + 4), size: 7, align: .centre, baseline: .top)
        }
        canvas.stroke(area, .darkGrey, width: 0.6)
        canvas.text(xLabel, at: Point(area.midX, bounds.maxY - 2), size: 8, align: .centre, baseline: .bottom)
        canvas.text(yLabel, at: Point(bounds.x + 2, area.midY), size: 8, align: .centre, baseline: .top, rotated: true)
    }

    /// Data (x, y) on the page.
    public func point(_ u: Double, _ v: Double) -> Point {
        Point(area.x + (u - x.0) / (x.1 - x.0) * area.width, area.maxY - (v - y.0) / (y.1 - y.0) * area.height)
    }

    /// A line through (xs[i], ys[i]); non-finite values break it.
    public func line(_ xs: [Double], _ ys: [Double], _ colour: Colour, width: Double = 1.2, dash: [Double] = []) {
        canvas.line(zip(xs, ys).map { $0.isFinite && $1.isFinite ? point($0, $1) : Point(.nan, .nan) }, colour, width: width, dash: dash)
    }

    /// A dot at (u, v) with a whisker from `low` to `high` (a value and its interval).
    public func interval(_ u: Double, _ v: Double, low: Double, high: Double, _ colour: Colour) {
        guard u.isFinite, v.isFinite else { return }
        if low.isFinite && high.isFinite {
            let a = point(u, low), b = point(u, high)
            canvas.line([a, b], colour, width: 1.2)
            canvas.line([Point(a.x - 3, a.y), Point(a.x + 3, a.y)], colour, width: 1)
            canvas.line([Point(b.x - 3, b.y), Point(b.x + 3, b.y)], colour, width: 1)
        }
        canvas.dot(point(u, v), radius: 2.5, colour)
    }

    /// A band between `low` and `high` at each x (an interval around a mean).
    public func band(_ xs: [Double], low: [Double], high: [Double], _ colour: Colour) {
        let upper = zip(xs, high).map { point($0, $1) }, lower = zip(xs, low).map { point($0, $1) }.reversed()
        guard !upper.isEmpty, (upper + lower).allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return }
        canvas.polygon(upper + lower, colour.withAlpha(0.22))
    }
}

/// Text laid out as the figure's heading: a bold title and, below it, caption lines in grey.
public enum Heading {
    /// The height a heading of `captionLines` lines takes.
    public static func height(captionLines: Int) -> Double { 22 + Double(captionLines) * 11 }

    public static func draw(_ canvas: Canvas, title: String, caption: [String], x: Double = 10, y: Double = 6) {
        canvas.text(title, at: Point(x, y), size: 11, bold: true, baseline: .top)
        for (k, line) in caption.enumerated() {
            canvas.text(line, at: Point(x, y + 18 + Double(k) * 11), size: 8, baseline: .top, colour: .darkGrey)
        }
    }
}
