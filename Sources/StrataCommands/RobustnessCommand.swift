import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFormats
import StrataIR
import StrataTrain

/// `strata robustness SPEC --weights W --data DATA [--baseline W0] --out DIR`.
struct RobustnessCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "robustness",
        abstract: "Robustness the field measures: shift consistency, worst-of-k spatial accuracy and corruption error (mCE with --baseline).",
        discussion: """
            \(MeanChoice.help) Every transform acts on the raw image, then the mean is subtracted: \
            T(x) − μ. Shift consistency (Zhang 2019): per image two shifts by whole pixels, dx and dy \
            uniform in ±--shift (default a quarter of the side), uncovered pixels black; the share of \
            images whose two copies get the same top-1 class (Wilson 95%), and per layer the relative \
            distance ‖f(x₁) − f(x₂)‖ / (½(‖f(x₁)‖ + ‖f(x₂)‖)) (mean ± 1.96 s/√n). Worst-of-k \
            (Engstrom et al. 2019): k random (dx, dy, θ), |dx|, |dy| ≤ --translation px (default 10% \
            of the side: 3 at 28), |θ| ≤ --rotation degrees (30), rotated about the centre then \
            translated, bilinear, black fill; an image counts as right only if all k copies are; and \
            the same on the grid −t…t by --translation-step on both axes × −r…r by --rotation-step. \
            Corruption error: noise, blur and contrast at five severities each (the table is in \
            robustness.md and the figure), the top-1 error per severity, the mean per corruption \
            and over corruptions (CE); with --baseline W0 (another network's weights, of SPEC or \
            --baseline-spec) each corruption's error summed over severities over the baseline's \
            (ImageNet-C's normalisation) and their mean, mCE (bootstrap 95% intervals). Writes \
            DIR/robustness.csv (measure,setting,layer,value,ci95_low,ci95_high,images), \
            DIR/robustness.md, DIR/robustness.FORMAT and DIR/run.json.
            """)

    @OptionGroup var network: NetworkArguments
    @OptionGroup var analysis: AnalysisArguments

    @Option(help: "Weights of a baseline network: each corruption's error is divided by its (mCE).")
    var baseline: String?

    @Option(name: .customLong("baseline-spec"), help: "The baseline's spec, when it is not SPEC.")
    var baselineSpec: String?

    @Option(help: "Comma-separated layers for the shift feature distance (default: each conv and fc layer's rectified output).")
    var layers: String?

    @Option(help: "Shift consistency: the largest shift in pixels (default: a quarter of the input's side).")
    var shift: Int?

    @Option(help: "Worst-of-k: the number of random (translation, rotation) copies per image.")
    var k = 10

    @Option(help: "Worst-of-k and grid: the largest translation in pixels (default: 10% of the side).")
    var translation: Double?

    @Option(help: "Worst-of-k and grid: the largest rotation in degrees.")
    var rotation = 30.0

    @Option(name: .customLong("translation-step"), help: "The grid's translation step in pixels (default: --translation).")
    var translationStep: Double?

    @Option(name: .customLong("rotation-step"), help: "The grid's rotation step in degrees.")
    var rotationStep = 15.0

    @Option(help: "Seed of the shifts, the worst-of-k draws and the noise.")
    var seed: UInt64 = 0

    @OptionGroup var figure: FigureArguments

    func validate() throws {
        try analysis.require()
        guard (1...1000).contains(k) else { throw ValidationError("--k must be between 1 and 1000 (copies per image)") }
        if let shift, shift < 0 { throw ValidationError("--shift must be 0 or more (pixels)") }
        if let translation, !(translation.isFinite && translation >= 0) { throw ValidationError("--translation must be 0 or more (pixels)") }
        guard rotation.isFinite, (0...180).contains(rotation) else { throw ValidationError("--rotation must be between 0 and 180 (degrees)") }
        if let translationStep, !(translationStep.isFinite && translationStep > 0) { throw ValidationError("--translation-step must be positive (pixels)") }
        guard rotationStep.isFinite, rotationStep > 0 else { throw ValidationError("--rotation-step must be positive (degrees)") }
        if baselineSpec != nil && baseline == nil { throw ValidationError("--baseline-spec goes with --baseline") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        var baselineGraph = graph
        if let baselineSpec {
            guard let (g, _) = CommandSupport.graph(baselineSpec, errors: &errors) else { return 1 }
            baselineGraph = g
        }
        let progress = AnalysisProgress("robustness", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let nodes = try layers.map { try CommandSupport.layers($0, in: graph) } ?? Sweep.defaultLayers(graph)
            let (file, input) = try analysis.load(graph)
            guard input.labels != nil else { throw CommandError("robustness needs labels: give --labels with --input, or use --data") }
            let side = max(graph.input.height, graph.input.width)
            let settings = RobustnessSettings(side: side, shiftRange: shift, k: k, translation: translation, rotation: rotation,
                                              translationStep: translationStep, rotationStep: rotationStep, seed: seed)
            let backend = try network.backend, batch = analysis.batchSize(spec)
            let last = graph.nodes.count - 1
            let runner = try BatchRunner(graph: graph, backend: backend, batch: batch, keeping: nodes + [last], weights: file.parameterTensors)
            runner.weightsName = analysis.weightsPath
            let other = try baseline.map { path -> BatchRunner in
                try checkBaseline(baselineGraph, graph)
                let weights = try Safetensors.read(path: path)
                try Weights.check(weights, path: path, graph: baselineGraph)
                let r = try BatchRunner(graph: baselineGraph, backend: backend, batch: batch, keeping: [baselineGraph.nodes.count - 1],
                                        weights: weights.parameterTensors)
                r.weightsName = path
                return r
            }
            let started = Date()
            let rows = try Robustness.run(input, runner: runner, layers: nodes, settings: settings, baseline: other, progress: progress.update)
            let corruptions = Corruption.table(side: graph.input.height)
            let checkpoint = (analysis.weightsPath as NSString).lastPathComponent, baselineName = baseline.map { ($0 as NSString).lastPathComponent }
            let split = analysis.data != nil ? analysis.split : "--input"
            let folder = analysis.outPath
            try makeDirectory(folder)
            try AtomicFile.write(Data(Robustness.csvText(rows).utf8), to: "\(folder)/robustness.csv")
            try AtomicFile.write(Data(Robustness.markdown(rows, network: graph.name, weights: analysis.weightsPath, baseline: baseline, split: split, images: input.count,
                                                          settings: settings, corruptions: corruptions).utf8), to: "\(folder)/robustness.md")
            try RobustnessFigure(rows: rows, network: graph.name, checkpoint: checkpoint, baseline: baselineName, split: split, images: input.count,
                                 settings: settings, corruptions: corruptions).write(to: "\(folder)/robustness.\(figure.format.fileExtension)", format: figure.format)
            try RunRecord.write(to: folder, command: "robustness", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: analysis.weightsPath,
                                rule: input.rule, parameters: parameters(settings, nodes: nodes, graph: graph, corruptions: corruptions, images: input.count, batch: batch))
            let summary = ["clean_accuracy", "shift_consistency", "worst_of_k_accuracy", "grid_worst_accuracy", "mean_corruption_error", "mCE"].compactMap { m in
                rows.first { $0.measure == m }.map { "\(m) \(String(format: "%.4f", $0.value.mean))" }
            }
            output.write("robustness of \(input.count) images (\(Int(Date().timeIntervalSince(started).rounded())) s): \(summary.joined(separator: ", "))\n")
            output.write("wrote \(folder)/robustness.csv, robustness.md, robustness.\(figure.format.fileExtension)\n")
            return 0
        }
    }

    /// The baseline must read the same input and give as many classes.
    func checkBaseline(_ other: Graph, _ graph: Graph) throws {
        guard other.input == graph.input else {
            throw CommandError("the baseline's input \(other.input) is not the network's \(graph.input): give --baseline-spec with the baseline's spec")
        }
        guard other.classes == graph.classes else {
            throw CommandError("the baseline gives \(other.classes) classes, the network \(graph.classes)")
        }
    }

    func parameters(_ s: RobustnessSettings, nodes: [Int], graph: Graph, corruptions: [(Transform, [Double])], images: Int, batch: Int) -> [(String, String)] {
        let n = { (v: Double) in csv(v) }
        return [("order", "transform the raw image, then subtract the mean: T(x) − μ"), ("fill", "black"),
                ("shift", "±\(s.shiftRange) px, whole pixels"), ("layers", nodes.map { graph.nodes[$0].name }.joined(separator: ",")),
                ("k", "\(s.k)"), ("translation", n(s.translation)), ("rotation", n(s.rotation)), ("translation_step", n(s.translationStep)),
                ("rotation_step", n(s.rotationStep)), ("grid", "\(s.grid.count) copies"),
                ("corruptions", corruptions.map { "\($0.0.rawValue): \($0.1.map(n).joined(separator: ","))" }.joined(separator: "; ")),
                ("baseline", baseline ?? "none"), ("baseline_spec", baselineSpec ?? (baseline == nil ? "none" : "SPEC")),
                ("seed", "\(s.seed)"), ("images", "\(images)"), ("batch", "\(batch)")]
    }
}
