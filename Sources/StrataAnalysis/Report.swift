import Foundation
import StrataFormats

/// One self-contained HTML page from a run folder or analysis folders, one section per folder:
/// the training run (`spec.yaml`'s settings, the loss of every step from `steps.csv`, error and
/// learning rate per epoch from `metrics.csv`, and its numbers as a table), sweep curves with their
/// 95% bands (`summary.csv`, and its numbers as a table), experiment bars (`table.csv`), Markdown
/// tables (`correspondence.md`, `table.md`, `robustness.md`) and every picture (PNG and SVG inlined, PDF linked),
/// captioned from the folder's `run.json`. Chart.js is inlined so the page opens offline. After
/// loading, each chart's canvas carries `data-drawn` (its title, axis titles, legend and series)
/// and `<body>` carries `data-charts` (charts drawn), `data-images` (images loaded) and
/// `data-broken`, which the tests read through headless Chromium.
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

    /// What the page holds so far: charts (each chart's id is its number), pictures (PNG and SVG,
    /// inlined), documents (PDF, linked), and the warnings about files left out.
    struct Counts {
        var charts = 0
        var images = 0
        var documents = 0
        var warnings: [String] = []

        /// The next chart's id, counted.
        mutating func nextChart() -> Int {
            charts += 1
            return charts - 1
        }

        /// `chart`'s HTML, under the next id.
        mutating func add(_ chart: ReportChart) -> String {
            chart.html(nextChart())
        }
    }

    /// What `html` makes: the page, and what it holds.
    public struct Page {
        public var html: String
        public var charts: Int
        public var images: Int
        /// PDFs, linked rather than inlined.
        public var documents: Int
        public var warnings: [String]
    }

    /// The page. `chartJS`: the library's source, inlined. One section per folder that holds
    /// something to show, in this order: the command that made it, the training run (settings,
    /// curves, the metrics table), the sweep (curves with their 95% bands, the summary table), the
    /// experiment's bars, Markdown tables, and every picture.
    public static func html(root: String, chartJS: String) -> Page {
        var counts = Counts()
        var sections: [Section] = []
        for folder in folders(root) {
            let relative = folder == root ? "." : String(folder.dropFirst(root.count + 1))
            let title = folder == root ? displayName(root) : relative
            let body = record(folder, relative) + metricsCharts(folder, &counts) + sweepCharts(folder, &counts) + experimentCharts(folder, &counts)
                + markdownTables(folder) + pictures(folder, relative, root: root, &counts)
            if !body.isEmpty { sections.append(Section(title: title, html: body)) }
        }
        return Page(html: page(root: root, chartJS: chartJS, sections: sections, counts: counts), charts: counts.charts, images: counts.images,
                    documents: counts.documents, warnings: counts.warnings)
    }

    /// The folder's own name, also where `path` is "." or ends in "..".
    static func displayName(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return ((absolute as NSString).standardizingPath as NSString).lastPathComponent
    }

    /// The command that made the folder and its parameters, from its `run.json`, and a link to it.
    static func record(_ folder: String, _ relative: String) -> String {
        guard let run = RunInfo(folder: folder) else { return "" }
        let parameters = run.parameters.map { "<span class=\"parameter\">\(escape($0.0)): \(escape($0.1))</span>" }.joined(separator: " ")
        return "<p class=\"record\">strata \(escape(run.command)) — <a href=\"\(escape(link(relative, "run.json")))\">run.json</a>"
            + (parameters.isEmpty ? "" : "<br>\(parameters)") + "</p>\n"
    }

    /// A table of `header` and `rows` (text, escaped here); with more than `openRows` rows it is
    /// folded under `summary`.
    static func htmlTable(_ header: [String], _ rows: [[String]], summary: String, openRows: Int = 16) -> String {
        var out = "<details class=\"numbers\"\(rows.count <= openRows ? " open" : "")><summary>\(escape(summary))</summary>\n<table>\n"
        out += "<tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { out += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        return out + "</table></details>\n"
    }

    /// An experiment's `table.csv` (strata experiment): error per row (the mean over its seeds) as bars.
    static func experimentCharts(_ folder: String, _ counts: inout Counts) -> String {
        guard let t = table("\(folder)/table.csv", warnings: &counts.warnings), t.header.starts(with: ["row", "seeds", "parameters"]),
              ["train_top1_error", "val_top1_error", "val_top5_error"].allSatisfy(t.header.contains) else { return "" }
        var chart = ReportChart(title: "error per row (mean over seeds)", xLabel: "row of the experiment", yLabel: "error (% of images misclassified)")
        chart.categories = t.rows.map { String($0[0]) }
        chart.fromZero = true
        chart.width = max(540, 90 * t.rows.count)
        chart.height = 340
        for (k, (name, label)) in [("train_top1_error", "training top-1"), ("val_top1_error", "held-out top-1"), ("val_top5_error", "held-out top-5")].enumerated() {
            chart.bars(label, column(t, name).map { $0.map { $0 * 100 } }, colour: ReportChart.colour(k))
        }
        return counts.add(chart)
    }

    /// `correspondence.md`, `table.md` and `robustness.md` as HTML tables, one per run of table lines (a title and prose are left out).
    static func markdownTables(_ folder: String) -> String {
        var body = ""
        for name in ["correspondence.md", "table.md", "robustness.md"] {
            guard let md = try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8) else { continue }
            // Each run of table lines is a table; the line after its header is the rule.
            var k = 0
            for line in md.split(separator: "\n", omittingEmptySubsequences: false) {
                guard line.hasPrefix("|") else {
                    if k > 0 { body += "</table>\n" }
                    k = 0
                    continue
                }
                if k == 0 { body += "<table>\n" }
                defer { k += 1 }
                guard k != 1 else { continue }
                let tag = k == 0 ? "th" : "td"
                body += "<tr>" + Self.cells(line).map { "<\(tag)>\(escape($0))</\(tag)>" }.joined() + "</tr>\n"
            }
            if k > 0 { body += "</table>\n" }
        }
        return body
    }

    /// The whole document: styles (DejaVu Sans, fixed chart sizes), Chart.js inlined, a contents
    /// list, the sections, and the script that draws each `<canvas data-config>`, writes what it
    /// drew on the canvas (`data-drawn`: the title, the axis titles, whether the legend shows and
    /// the series it lists) and sets `data-charts`, `data-images` and `data-broken` on `<body>`.
    static func page(root: String, chartJS: String, sections: [Section], counts: Counts) -> String {
        let contents = sections.enumerated().map { "<li><a href=\"#s\($0.offset)\">\(escape($0.element.title))</a></li>" }.joined()
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Strata report: \(escape(root))</title>
            <style>
            body { font-family: "DejaVu Sans", sans-serif; font-size: 14px; margin: 1em; color: #222; }
            section { border-top: 1px solid #ccc; padding-top: 0.5em; margin-top: 1em; }
            h3 { font-size: 1.05em; margin: 1em 0 0.2em; }
            figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: calc(100% - 1em); }
            figure img { image-rendering: pixelated; max-width: 100%; }
            figure img.vector { image-rendering: auto; }
            figcaption, .record, .note { color: #555; font-size: 0.9em; max-width: 60em; }
            .parameter { display: inline-block; margin-right: 1em; }
            .record, figcaption { overflow-wrap: anywhere; }
            table { border-collapse: collapse; font-size: 0.9em; margin: 0.3em 0; } td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
            table.settings td { max-width: 50em; overflow-wrap: anywhere; }
            details.numbers { display: inline-block; vertical-align: top; margin: 0.5em; max-width: calc(100% - 1em); }
            details.numbers summary { cursor: pointer; color: #555; }
            nav ul { columns: 3; font-size: 0.9em; }
            </style>
            <script>\(chartJS)</script>
            </head><body>
            <h1>Strata report</h1>
            <p>\(escape(["", ".", ".."].contains((root as NSString).lastPathComponent) ? "\(root) (\(displayName(root)))" : root)): \(counts.charts) chart(s), \(counts.images) picture(s)\(counts.documents > 0 ? ", \(counts.documents) PDF(s)" : ""). \
            Made by <code>strata report</code>; it opens offline.</p>
            <nav><ul>\(contents)</ul></nav>
            \(sections.enumerated().map { "<section id=\"s\($0.offset)\"><h2>\(escape($0.element.title))</h2>\n\($0.element.html)</section>" }.joined(separator: "\n"))
            <script>
            \(drawScript)
            </script>
            </body></html>

            """
    }

    /// Draws every chart on load (see `page`).
    static let drawScript = """
        window.charts = [];
        window.addEventListener("load", function () {
          Chart.defaults.font.family = "'DejaVu Sans', sans-serif";
          var notBand = function (item, data) { return !data.datasets[item.datasetIndex].band; };
          var canvases = document.querySelectorAll("canvas[data-config]"), drawn = 0;
          for (var i = 0; i < canvases.length; i++) {
            try {
              var config = JSON.parse(canvases[i].dataset.config);
              config.options.plugins.legend.labels = { filter: notBand };
              config.options.plugins.tooltip = { filter: function (item) { return !item.dataset.band; } };
              var c = new Chart(canvases[i], config);
              window.charts.push(c);
              var o = c.options, shown = c.data.datasets.filter(function (d) { return !d.band; });
              if (shown.length > 0 && c.chartArea) drawn++;
              canvases[i].dataset.drawn = JSON.stringify({
                title: o.plugins.title.display ? o.plugins.title.text : "",
                x: o.scales.x.title.display ? o.scales.x.title.text : "", y: o.scales.y.title.display ? o.scales.y.title.text : "",
                legend: o.plugins.legend.display !== false, series: shown.map(function (d) { return d.label; }) });
            } catch (e) { console.error(e); }
          }
          var images = document.images, loaded = 0, broken = [];
          for (var k = 0; k < images.length; k++) { if (images[k].complete && images[k].naturalWidth > 0) loaded++; else broken.push(images[k].alt); }
          document.body.dataset.charts = drawn + "/" + canvases.length;
          document.body.dataset.images = loaded + "/" + images.length;
          document.body.dataset.broken = broken.join(",");
        });
        """
}
