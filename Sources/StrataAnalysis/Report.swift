import Foundation
import StrataFormats

/// One self-contained HTML page from a run folder or analysis folders: training curves
/// (`metrics.csv`), sweep curves (`summary.csv`), experiment tables (`table.csv` as bars, `table.md`),
/// tables (`correspondence.md`) and every picture
/// (PNG, inlined), with Chart.js inlined so the page opens offline. After loading, the page sets
/// `data-charts` (charts drawn), `data-images` (images loaded) and `data-broken` on `<body>`, which
/// the test reads through headless Chromium.
public enum Report {
    /// The places Debian's `libjs-chart.js` puts Chart.js (STRATA_CHARTJS overrides).
    public static let chartCandidates = ["/usr/share/javascript/chart.js/chart.min.js", "/usr/share/javascript/chart.js/chart.js"]

    public struct Section {
        public var title: String
        public var html: String
    }

    /// Every folder under `root` (itself included, depth ≤ 4), in name order, with what it holds.
    static func folders(_ root: String) -> [String] {
        var out: [String] = []
        func walk(_ path: String, _ depth: Int) {
            out.append(path)
            guard depth < 4, let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
            for name in names.sorted() where !name.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(path)/\(name)", isDirectory: &isDirectory), isDirectory.boolValue { walk("\(path)/\(name)", depth + 1) }
            }
        }
        walk(root, 0)
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A JavaScript string literal that is safe inside a `<script>` element.
    static func js(_ s: String) -> String { JSONValue.string(s).text().replacingOccurrences(of: "<", with: "\\u003c") }

    static func number(_ s: Substring) -> String {
        guard let v = Double(s), v.isFinite else { return "null" }
        return "\(v)"
    }

    /// A CSV (RFC 4180) as its header and rows of fields. A row with another number of fields than
    /// the header is left out, and said in `warnings`.
    static func table(_ path: String, warnings: inout [String]) -> (header: [String], rows: [[Substring]])? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        guard let first = lines.first, let header = CSV.split(first) else { return nil }
        var rows: [[Substring]] = []
        for (k, line) in lines.dropFirst().enumerated() {
            guard let fields = CSV.split(line), fields.count == header.count else {
                warnings.append("\(path):\(k + 2): a row of \(CSV.split(line)?.count ?? 0) field(s) where the header has \(header.count); left out")
                continue
            }
            rows.append(fields.map { Substring($0) })
        }
        return (header, rows)
    }

    /// A link to `file` in the folder `relative` (a path inside the report's folder): each part
    /// percent-encoded and the whole made relative ("./"), so no name becomes a scheme or markup.
    static func link(_ relative: String, _ file: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let parts = (relative == "." ? [] : relative.split(separator: "/").map(String.init)) + [file]
        return "./" + parts.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }.joined(separator: "/")
    }

    /// The cells of a Markdown table line, split at the `|` that are not escaped and unescaped
    /// (`\|`, `\\` and the entities `Markdown.cell` writes), as plain text.
    static func cells(_ line: Substring) -> [String] {
        var cells: [String] = [], current = "", escaped = false
        for c in line {
            if escaped { current.append(c); escaped = false }
            else if c == "\\" { escaped = true }
            else if c == "|" { cells.append(current); current = "" }
            else { current.append(c) }
        }
        cells.append(current)
        // The empty cells before the first | and after the last.
        if line.hasPrefix("|") { cells.removeFirst() }
        if line.hasSuffix("|") && !line.hasSuffix("\\|") && !cells.isEmpty { cells.removeLast() }
        return cells.map {
            $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&amp;", with: "&")
        }
    }

    /// A line chart: `series` of (label, [(x, y)]).
    static func chart(_ id: Int, title: String, xLabel: String, yLabel: String, series: [(String, [(String, String)])]) -> String {
        let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        let datasets = series.enumerated().map { k, s in
            "{label: \(js(s.0)), borderColor: \(js(palette[k % palette.count])), backgroundColor: \(js(palette[k % palette.count])), "
                + "data: [\(s.1.map { "{x: \($0.0), y: \($0.1)}" }.joined(separator: ", "))]}"
        }.joined(separator: ",\n    ")
        return """
            <figure class="chart"><canvas id="chart\(id)" width="560" height="320"></canvas></figure>
            <script>charts.push(["chart\(id)", {type: "line", data: {datasets: [
                \(datasets)]},
              options: {animation: false, responsive: false, parsing: true,
                plugins: {title: {display: true, text: \(js(title))}},
                scales: {x: {type: "linear", title: {display: true, text: \(js(xLabel))}}, y: {title: {display: true, text: \(js(yLabel))}}}}}]);</script>

            """
    }

    /// A bar chart: one group of bars per label, one bar per series.
    static func barChart(_ id: Int, title: String, yLabel: String, labels: [String], series: [(String, [String])]) -> String {
        let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
        let datasets = series.enumerated().map { k, s in
            "{label: \(js(s.0)), backgroundColor: \(js(palette[k % palette.count])), data: [\(s.1.joined(separator: ", "))]}"
        }.joined(separator: ",\n    ")
        return """
            <figure class="chart"><canvas id="chart\(id)" width="\(max(560, 90 * labels.count))" height="340"></canvas></figure>
            <script>charts.push(["chart\(id)", {type: "bar", data: {labels: [\(labels.map(js).joined(separator: ", "))], datasets: [
                \(datasets)]},
              options: {animation: false, responsive: false,
                plugins: {title: {display: true, text: \(js(title))}},
                scales: {y: {beginAtZero: true, title: {display: true, text: \(js(yLabel))}}}}}]);</script>

            """
    }

    /// What the page holds so far: charts (each chart's id is its number) and pictures, and the
    /// warnings about files left out.
    struct Counts {
        var charts = 0
        var images = 0
        var warnings: [String] = []

        /// The next chart's id, counted.
        mutating func nextChart() -> Int {
            charts += 1
            return charts - 1
        }
    }

    /// The page. `chartJS`: the library's source, inlined.
    public static func html(root: String, chartJS: String) -> (html: String, charts: Int, images: Int, warnings: [String]) {
        var counts = Counts()
        var sections: [Section] = []
        for folder in folders(root) {
            let relative = folder == root ? "." : String(folder.dropFirst(root.count + 1))
            let title = folder == root ? (root as NSString).lastPathComponent : relative
            let body = record(folder, relative) + metricsCharts(folder, &counts) + sweepCharts(folder, &counts) + experimentCharts(folder, &counts)
                + markdownTables(folder) + pictures(folder, relative, &counts)
            if !body.isEmpty { sections.append(Section(title: title, html: body)) }
        }
        return (page(root: root, chartJS: chartJS, sections: sections, counts: counts), counts.charts, counts.images, counts.warnings)
    }

    /// The command that made the folder, from its `run.json`, and a link to it.
    static func record(_ folder: String, _ relative: String) -> String {
        guard let record = FileManager.default.contents(atPath: "\(folder)/run.json"),
              let command = (try? JSONValue.parse(record))?["command"]?.text else { return "" }
        return "<p class=\"record\">strata \(escape(command)) — <a href=\"\(escape(link(relative, "run.json")))\">run.json</a></p>\n"
    }

    /// A training run's `metrics.csv`: loss and error per epoch.
    static func metricsCharts(_ folder: String, _ counts: inout Counts) -> String {
        guard let m = table("\(folder)/metrics.csv", warnings: &counts.warnings), let epoch = m.header.firstIndex(of: "epoch") else { return "" }
        func column(_ name: String) -> [(String, String)] {
            guard let k = m.header.firstIndex(of: name) else { return [] }
            return m.rows.filter { $0.count > k }.map { (number($0[epoch]), number($0[k])) }
        }
        return chart(counts.nextChart(), title: "training loss", xLabel: "epoch", yLabel: "loss", series: [("loss", column("loss"))])
            + chart(counts.nextChart(), title: "error", xLabel: "epoch", yLabel: "error",
                    series: [("train top-1", column("train_top1_error")), ("held-out top-1", column("val_top1_error")),
                             ("held-out top-5", column("val_top5_error"))])
    }

    /// A sweep's `summary.csv`: per transform, each layer's relative distance and the classifier's
    /// true-class probability and accuracy against the amount.
    static func sweepCharts(_ folder: String, _ counts: inout Counts) -> String {
        guard let s = table("\(folder)/summary.csv", warnings: &counts.warnings), s.header.starts(with: ["transform", "amount", "layer"]),
              let distance = s.header.firstIndex(of: "mean_relative_distance"), let probability = s.header.firstIndex(of: "mean_true_prob"),
              let accuracy = s.header.firstIndex(of: "top1_accuracy") else { return "" }
        var body = ""
        var transforms: [Substring] = []
        for r in s.rows where !transforms.contains(r[0]) { transforms.append(r[0]) }
        for t in transforms {
            let rows = s.rows.filter { $0[0] == t }
            var layers: [Substring] = []
            for r in rows where !layers.contains(r[2]) { layers.append(r[2]) }
            body += chart(counts.nextChart(), title: "\(t): relative distance of each layer's output", xLabel: String(t), yLabel: "‖f(T(x)) − f(x)‖ / ‖f(x)‖",
                          series: layers.map { l in (String(l), rows.filter { $0[2] == l }.map { (number($0[1]), number($0[distance])) }) })
            let first = rows.filter { $0[2] == layers[0] }
            body += chart(counts.nextChart(), title: "\(t): the classifier", xLabel: String(t), yLabel: "",
                          series: [("true-class probability", first.map { (number($0[1]), number($0[probability])) }),
                                   ("top-1 accuracy", first.map { (number($0[1]), number($0[accuracy])) })])
        }
        return body
    }

    /// An experiment's `table.csv` (strata experiment): error per row as bars.
    static func experimentCharts(_ folder: String, _ counts: inout Counts) -> String {
        guard let t = table("\(folder)/table.csv", warnings: &counts.warnings), t.header.starts(with: ["row", "seeds", "parameters"]),
              let train = t.header.firstIndex(of: "train_top1_error"), let top1 = t.header.firstIndex(of: "val_top1_error"),
              let top5 = t.header.firstIndex(of: "val_top5_error") else { return "" }
        func percent(_ k: Int) -> [String] { t.rows.map { $0.count > k && !$0[k].isEmpty ? String(format: "%.3f", (Double($0[k]) ?? .nan) * 100) : "null" } }
        return barChart(counts.nextChart(), title: "error per row (mean over seeds)", yLabel: "error %", labels: t.rows.map { String($0[0]) },
                        series: [("train top-1", percent(train)), ("held-out top-1", percent(top1)), ("held-out top-5", percent(top5))])
    }

    /// `correspondence.md` and `table.md` as HTML tables (a title and prose above the table are left out).
    static func markdownTables(_ folder: String) -> String {
        var body = ""
        for name in ["correspondence.md", "table.md"] {
            guard let md = try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8) else { continue }
            body += "<table>\n"
            // The markdown table's lines; its second line is the rule.
            for (k, line) in md.split(separator: "\n").filter({ $0.hasPrefix("|") }).enumerated() where k != 1 {
                let tag = k == 0 ? "th" : "td"
                body += "<tr>" + Self.cells(line).map { "<\(tag)>\(escape($0))</\(tag)>" }.joined() + "</tr>\n"
            }
            body += "</table>\n"
        }
        return body
    }

    /// Every PNG of the folder, inlined, in numeric name order.
    static func pictures(_ folder: String, _ relative: String, _ counts: inout Counts) -> String {
        var body = ""
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".png") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        for name in names {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)")) else { continue }
            body += "<figure><img alt=\"\(escape(name))\" src=\"data:image/png;base64,\(data.base64EncodedString())\"><figcaption>\(escape(relative))/\(escape(name))</figcaption></figure>\n"
            counts.images += 1
        }
        return body
    }

    /// The whole document: styles, Chart.js inlined, the sections, and the script that draws the
    /// charts and sets `data-charts`, `data-images` and `data-broken` on `<body>`.
    static func page(root: String, chartJS: String, sections: [Section], counts: Counts) -> String {
        """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Strata report: \(escape(root))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
            section { border-top: 1px solid #ccc; padding-top: 1em; margin-top: 1em; }
            figure { display: inline-block; margin: 0.5em; vertical-align: top; }
            figure img { image-rendering: pixelated; max-width: 100%; }
            figcaption, .record { color: #666; font-size: 0.9em; }
            table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; }
            </style>
            <script>\(chartJS)</script>
            <script>var charts = [];</script>
            </head><body>
            <h1>Strata report</h1>
            <p>\(escape(root)): \(counts.charts) chart(s), \(counts.images) picture(s). Made by <code>strata report</code>; it opens offline.</p>
            \(sections.map { "<section><h2>\(escape($0.title))</h2>\n\($0.html)</section>" }.joined(separator: "\n"))
            <script>
            window.addEventListener("load", function () {
              var drawn = 0;
              for (var i = 0; i < charts.length; i++) {
                try { var c = new Chart(document.getElementById(charts[i][0]), charts[i][1]); if (c.data.datasets.length > 0 && c.chartArea) drawn++; } catch (e) { console.error(e); }
              }
              var images = document.images, loaded = 0, broken = [];
              for (var k = 0; k < images.length; k++) { if (images[k].complete && images[k].naturalWidth > 0) loaded++; else broken.push(images[k].alt); }
              document.body.dataset.charts = drawn + "/" + charts.length;
              document.body.dataset.images = loaded + "/" + images.length;
              document.body.dataset.broken = broken.join(",");
            });
            </script>
            </body></html>

            """
    }
}
