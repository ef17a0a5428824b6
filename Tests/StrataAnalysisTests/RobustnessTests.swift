import Foundation
@testable import StrataAnalysis
import StrataCPU
import StrataFigures
import StrataIR
import StrataTrain
import Testing

/// Robustness measures on the small network, with properties checkable by hand.
@Suite("Robustness")
struct RobustnessTests {
    let c = 2, h = 8, w = 8
    let layers = [1, 4]

    func input(_ count: Int = 12) -> AnalysisInput {
        let per = c * h * w
        let rule = InputRule.identity(perImage: per)
        return AnalysisInput(raw: randomImages(count, per), count: count, labels: (0..<count).map { $0 % 3 }, names: (0..<count).map { "\($0)" }, rule: rule)
    }

    func runner(_ graph: Graph, weights: [String: (shape: [Int], values: [Float])]) throws -> BatchRunner {
        try BatchRunner(graph: graph, backend: CPUBackend(), batch: 5, keeping: layers + [graph.nodes.count - 1], weights: weights)
    }

    func row(_ rows: [RobustnessRow], _ measure: String, layer: String = "") -> RobustnessRow {
        rows.first { $0.measure == measure && $0.layer == layer }!
    }

    /// All-zero weights: every image gets the same probabilities, so the two shifts agree, every
    /// copy is classified as the clean image and each corruption's error is the clean error.
    @Test func aConstantNetworkIsPerfectlyConsistent() throws {
        let graph = try compile(smallNet)
        let zero = randomWeights(graph).mapValues { ($0.shape, [Float](repeating: 0, count: $0.values.count)) }
        let x = input()
        let rows = try Robustness.run(x, runner: runner(graph, weights: zero), layers: layers, settings: RobustnessSettings(side: h, k: 3))
        #expect(row(rows, "shift_consistency").value.mean == 1)
        #expect(row(rows, "shift_feature_distance", layer: "r1").value.mean == 0)
        let clean = row(rows, "clean_accuracy").value.mean
        #expect(row(rows, "worst_of_k_accuracy").value.mean == clean && row(rows, "grid_worst_accuracy").value.mean == clean)
        for r in rows where r.measure == "corruption_error" { #expect(abs(r.value.mean - (1 - clean)) < 1e-12, "\(r.setting)") }
        #expect(abs(row(rows, "mean_corruption_error").value.mean - (1 - clean)) < 1e-12)
    }

    /// Random weights: no shift (range 0) is perfect consistency; the grid includes the untransformed
    /// image, so its worst case is at most the clean accuracy; with no translation and no rotation
    /// worst-of-k is the clean accuracy; the network as its own baseline has mCE 1.
    @Test func boundsAndIdentities() throws {
        let graph = try compile(smallNet)
        let r = try runner(graph, weights: randomWeights(graph))
        let x = input()
        let rows = try Robustness.run(x, runner: r, layers: layers, settings: RobustnessSettings(side: h, k: 4), baseline: r)
        let clean = row(rows, "clean_accuracy").value.mean
        #expect(row(rows, "grid_worst_accuracy").value.mean <= clean)
        #expect(row(rows, "mCE").value.mean == 1)
        for t in ["noise", "blur", "contrast"] {
            #expect(rows.first { $0.measure == "relative_corruption_error" && $0.setting.hasPrefix(t) }!.value.mean == 1)
        }
        let still = RobustnessSettings(side: h, shiftRange: 0, k: 3, translation: 0, rotation: 0, rotationStep: 1)
        let same = try Robustness.run(x, runner: r, layers: layers, settings: still)
        #expect(row(same, "shift_consistency").value.mean == 1)
        #expect(row(same, "shift_feature_distance", layer: "r2").value.mean == 0)
        #expect(row(same, "worst_of_k_accuracy").value.mean == clean && row(same, "grid_worst_accuracy").value.mean == clean)
        #expect(still.grid.count == 1)
    }

    /// Severity 0 (each corruption's identity amount) gives the clean error, and intervals hold their values.
    @Test func zeroSeverityIsTheCleanError() throws {
        let graph = try compile(smallNet)
        let r = try runner(graph, weights: randomWeights(graph))
        let x = input()
        let clean = try Robustness.predictions(r, x) { _, a, out in out.update(from: a, count: x.perImage) }
        let table: [(Transform, [Double])] = [(.noise, [0, 0]), (.blur, [0]), (.contrast, [1])]
        let result = try Robustness.corruptionErrors(x, runner: r, corruptions: table, seed: 0, labels: x.labels!, clean: clean)
        let cleanError = Double(zip(clean, x.labels!).filter { $0 != $1 }.count) / Double(x.count)
        for row in result.rows { #expect(abs(row.value.mean - cleanError) < 1e-12, "\(row.measure) \(row.setting)") }
        for row in result.rows { #expect(row.value.low <= row.value.mean && row.value.mean <= row.value.high) }
    }

    /// The shifts are a function of (seed, image) in range; the composed sampler at 0 is an exact copy
    /// and a whole-pixel translation moves the content as `translate-x` does.
    @Test func shiftsAndTheSpatialSampler() throws {
        for i in 0..<50 {
            let s = Robustness.shifts(seed: 3, image: i, range: 2)
            #expect([s.0, s.1, s.2, s.3].allSatisfy { abs($0) <= 2 })
            #expect(s == Robustness.shifts(seed: 3, image: i, range: 2))
        }
        let x = randomImages(1, c * h * w)
        var a = [Float](repeating: 0, count: x.count), b = a
        Robustness.spatialSampler(height: h, width: w, dx: 0, dy: 0, degrees: 0).apply(x, &a, channels: c)
        #expect(a == x)
        Robustness.spatialSampler(height: h, width: w, dx: 2, dy: 0, degrees: 0).apply(x, &a, channels: c)
        Transform.translateX.apply(x, &b, channels: c, height: h, width: w, amount: 2)
        #expect(a == b)
        Robustness.spatialSampler(height: h, width: w, dx: 0, dy: 0, degrees: 90).apply(x, &a, channels: c)
        Transform.rotate.apply(x, &b, channels: c, height: h, width: w, amount: 90)
        #expect(a == b)
        #expect(RobustnessSettings(side: 28).grid.count == 3 * 3 * 5)
        #expect(RobustnessSettings(side: 28).shiftRange == 7 && RobustnessSettings(side: 28).translation == 3)
    }

    /// The CSV, the Markdown and the figure say what they show: every measure, the split, the
    /// images, the severities; panel titles, axis labels and the legend.
    @Test func theOutputsStateTheirSettings() throws {
        let graph = try compile(smallNet)
        let r = try runner(graph, weights: randomWeights(graph))
        let x = input(6)
        let settings = RobustnessSettings(side: h, k: 2)
        let rows = try Robustness.run(x, runner: r, layers: layers, settings: settings, baseline: r)
        let csvText = Robustness.csvText(rows)
        #expect(csvText.hasPrefix("measure,setting,layer,value,ci95_low,ci95_high,images\n"))
        #expect(csvText.split(separator: "\n").count == 1 + rows.count)
        let table = Corruption.table(side: h)
        let md = Robustness.markdown(rows, network: "small", weights: "w.safetensors", baseline: "b.safetensors", split: "test", images: 6,
                                     settings: settings, corruptions: table)
        #expect(md.contains("6 images of the test split") && md.contains("| mCE |") && md.contains("noise 0.1, 0.2, 0.35, 0.6, 0.9"))
        let figure = RobustnessFigure(rows: rows, network: "small", checkpoint: "w.safetensors", baseline: "b.safetensors", split: "test", images: 6,
                                      settings: settings, corruptions: table)
        let texts = try figure.record().texts
        for expected in ["(a) error under corruption", "(b) feature distance between two shifts", "(c) clean vs spatial worst case",
                         "severity (0 = clean)", "top-1 error (fraction)", "layer", "r1", "r2", "worst of 2", "grid worst"] {
            #expect(texts.contains(expected), "\(expected) missing")
        }
        #expect(texts.contains { $0.hasPrefix("Robustness of small, checkpoint w.safetensors") })
        #expect(texts.contains { $0.hasPrefix("noise (mean ") && $0.hasSuffix("CE 1.00 of the baseline)") } && texts.contains { $0.hasPrefix("contrast (mean ") })
        #expect(texts.joined(separator: " ").contains("mCE against baseline b.safetensors"))
    }

    /// Shift consistency runs in chunks of 256 images: over 300 images it equals one pass over all.
    @Test func chunksGiveTheOnePassResult() throws {
        let graph = try compile(smallNet)
        let r = try runner(graph, weights: randomWeights(graph))
        let x = input(300), settings = RobustnessSettings(side: h, shiftRange: 3)
        let rows = try Robustness.shiftConsistency(x, runner: r, layers: layers, settings: settings)
        let (agree, distances) = try Robustness.shiftChunk(x, first: 0, runner: r, layers: layers, settings: settings)
        #expect(row(rows, "shift_consistency").value == Interval(successes: agree, of: 300))
        #expect(row(rows, "shift_feature_distance", layer: "r2").value == Interval(values: distances[1]))
        #expect(agree < 300, "random weights should disagree somewhere, else the test shows nothing")
    }

    /// The report shows robustness.md as one HTML table: its header, its rows, never its rule line.
    @Test func theReportShowsRobustnessMarkdownAsATable() throws {
        let d = NSTemporaryDirectory() + "strata-robustness-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "# T\n\nprose\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nmore\n\n| c |\n|---|\n| 3 |\n".write(toFile: d + "/robustness.md", atomically: true, encoding: .utf8)
        let html = Report.markdownTables(d)
        #expect(html.components(separatedBy: "<table>").count == 3 && html.components(separatedBy: "</table>").count == 3)
        #expect(html.contains("<th>a</th><th>b</th>") && html.contains("<td>1</td><td>2</td>") && html.contains("<th>c</th>") && html.contains("<td>3</td>"))
        #expect(!html.contains("---") && !html.contains("prose"))
    }
}
