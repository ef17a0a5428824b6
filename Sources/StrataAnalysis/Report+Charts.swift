import Foundation
import StrataFormats

/// One Chart.js chart of the report, built as a JSON configuration and written on its `<canvas>`
/// (`data-config`), which the page's script draws. Every chart names both axes; a legend is shown
/// where there are several series. A 95% band is two datasets (its low and high edges, marked
/// `band: true`) filled between them, which the page leaves out of the legend and the tooltips.
struct ReportChart {
    enum Style {
        /// A line with small points.
        case line
        /// A thin line without points (many values, e.g. the loss of every step).
        case thin
        /// Points only.
        case points
        /// A step line: each value holds until the next point (e.g. the learning rate of an epoch).
        case stepped
    }

    var title: String
    var subtitle: String?
    var xLabel: String
    var yLabel: String
    /// Logarithmic y axis.
    var logarithmic = false
    /// The y axis starts at 0.
    var fromZero = false
    /// The x axis counts whole things (epochs): ticks only at whole numbers.
    var wholeX = false
    /// Bar charts: the category of each bar group; nil for line charts (a linear x axis).
    var categories: [String]?
    var width = 540
    var height = 320
    private(set) var datasets: [JSONValue] = []
    /// The series that show in the legend (bands are not counted).
    private(set) var visible = 0

    init(title: String, subtitle: String? = nil, xLabel: String, yLabel: String) {
        (self.title, self.subtitle, self.xLabel, self.yLabel) = (title, subtitle, xLabel, yLabel)
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func colour(_ k: Int) -> String { palette[k % palette.count] }

    /// A number as JSON with 6 significant digits (null where it is not finite).
    static func number(_ x: Double?) -> JSONValue {
        guard let x, x.isFinite else { return .null }
        return .number(String(format: "%.6g", x))
    }

    static func points(_ xy: [(Double, Double?)]) -> JSONValue {
        .array(xy.map { .object([("x", number($0.0)), ("y", number($0.1))]) })
    }

    /// A series of (x, y) points; `colour` a CSS colour. A `background` series is drawn beneath
    /// the others (Chart.js otherwise draws the first dataset on top).
    mutating func line(_ label: String, _ xy: [(Double, Double?)], colour: String, style: Style = .line, background: Bool = false) {
        var d: [(String, JSONValue)] = [("label", .string(label)), ("data", Self.points(xy)), ("borderColor", .string(colour)),
                                       ("backgroundColor", .string(colour)), ("fill", .bool(false)), ("order", background ? 2 : 0)]
        switch style {
        case .line: d += [("borderWidth", 2), ("pointRadius", xy.count > 60 ? 0 : 2)]
        case .thin: d += [("borderWidth", 1), ("pointRadius", 0)]
        case .points: d += [("showLine", .bool(false)), ("pointRadius", 4)]
        case .stepped: d += [("borderWidth", 2), ("pointRadius", 3), ("stepped", .string("before"))]
        }
        datasets.append(.object(d))
        visible += 1
    }

    /// The shaded interval between `low` and `high` (the same xs), in `colour` made translucent,
    /// beneath the lines; add it before the series it belongs to.
    mutating func band(_ label: String, low: [(Double, Double?)], high: [(Double, Double?)], colour: String) {
        for (edge, xy) in [("low", low), ("high", high)] {
            datasets.append(.object([("label", .string("\(label) (95% CI \(edge))")), ("band", .bool(true)), ("data", Self.points(xy)),
                                     ("borderColor", "rgba(0,0,0,0)"), ("backgroundColor", .string(colour + "33")), ("pointRadius", 0),
                                     ("borderWidth", 0), ("order", 1), ("fill", edge == "low" ? .bool(false) : .string("-1"))]))
        }
    }

    /// A series of bars, one per category.
    mutating func bars(_ label: String, _ values: [Double?], colour: String) {
        datasets.append(.object([("label", .string(label)), ("backgroundColor", .string(colour)), ("data", .array(values.map(Self.number)))]))
        visible += 1
    }

    /// The Chart.js configuration.
    var config: JSONValue {
        func axisTitle(_ text: String) -> JSONValue { .object([("display", .bool(true)), ("text", .string(text))]) }
        var x: [(String, JSONValue)] = [("type", .string(categories == nil ? "linear" : "category")), ("title", axisTitle(xLabel))]
        if categories == nil { x.append(("ticks", .object([("maxTicksLimit", 12)] + (wholeX ? [("precision", 0)] : [])))) }
        let y: [(String, JSONValue)] = [("type", .string(logarithmic ? "logarithmic" : "linear")), ("beginAtZero", .bool(fromZero)),
                                        ("title", axisTitle(yLabel))]
        var plugins: [(String, JSONValue)] = [("title", .object([("display", .bool(true)), ("text", .string(title)), ("font", .object([("size", 14)]))])),
                                              ("legend", .object([("display", .bool(visible > 1)), ("position", "bottom")]))]
        if let subtitle { plugins.append(("subtitle", .object([("display", .bool(true)), ("text", .string(subtitle))]))) }
        var data: [(String, JSONValue)] = [("datasets", .array(datasets))]
        if let categories { data.insert(("labels", .strings(categories)), at: 0) }
        return .object([("type", .string(categories == nil ? "line" : "bar")), ("data", .object(data)),
                         ("options", .object([("animation", .bool(false)), ("responsive", .bool(false)),
                                              ("interaction", .object([("mode", "nearest"), ("intersect", .bool(false))])),
                                              ("plugins", .object(plugins)), ("scales", .object([("x", .object(x)), ("y", .object(y))]))]))])
    }

    /// The chart's `<figure>`: a canvas of a fixed size carrying its configuration.
    func html(_ id: Int) -> String {
        "<figure class=\"chart\"><canvas id=\"chart\(id)\" width=\"\(width)\" height=\"\(height)\" data-config=\"\(Report.escape(config.text(.minimal)))\"></canvas></figure>\n"
    }
}
