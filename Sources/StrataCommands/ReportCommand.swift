import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFormats

/// `strata report DIR [--out report.html]`.
struct ReportCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page for a run folder or analysis folders (opens offline).",
        discussion: """
            Walks DIR (4 levels deep), a section per folder: a training run's settings (spec.yaml), \
            the loss of every step (steps.csv) with its moving average, error and learning rate per \
            epoch (metrics.csv) and their numbers as a table; sweep curves from summary.csv (each \
            layer's distance and relative distance, the true-class probability and the accuracy \
            against the amount, with 95% bands) and their table; experiment bars, correspondence \
            tables, and every picture (PNG and SVG inlined, PDF linked), captioned from run.json. \
            Chart.js comes from Debian's libjs-chart.js (tools/bootstrap installs it; STRATA_CHARTJS \
            names another copy) and is inlined too.
            """)

    @Argument(help: "A run folder, an analysis folder, or a folder of them.")
    var folder: String

    @Option(help: "The page to write (default: DIR/report.html).")
    var out: String?

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        var warnings: [String] = []
        defer { for warning in warnings { errors.write("warning: \(warning)\n") } }
        return CommandSupport.run(errors: &errors) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandError("\(folder): no such folder")
            }
            let candidates = (ProcessInfo.processInfo.environment["STRATA_CHARTJS"].map { [$0] } ?? []) + Report.chartCandidates
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
                  let chart = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CommandError("Chart.js was not found (\(candidates.joined(separator: ", "))); install Debian's libjs-chart.js (tools/bootstrap does), or set STRATA_CHARTJS")
            }
            let page = Report.html(root: folder, chartJS: chart)
            warnings = page.warnings
            guard page.charts + page.images + page.documents > 0 else {
                throw CommandError("\(folder) holds nothing to report: no metrics.csv, steps.csv, sweep summary.csv, table.csv or pictures (PNG, SVG, PDF)")
            }
            let target = out ?? "\(folder)/report.html"
            try AtomicFile.write(Data(page.html.utf8), to: target)
            output.write("wrote \(target): \(page.charts) charts, \(page.images) pictures" + (page.documents > 0 ? ", \(page.documents) PDFs linked" : "") + "\n")
            return 0
        }
    }
}
