import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFigures
import StrataFormats
import StrataIR
import StrataPlan
import StrataMPI
import StrataTrain

/// `strata occlude SPEC --weights W (--input X --labels Y | --data DATA --limit N) --out DIR`.
struct OccludeCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "occlude",
        abstract: "Occlusion sensitivity (ZF Fig. 7): a grey square slid over each image.",
        discussion: """
            \(MeanChoice.help) Here the change is the occluder, drawn on the raw image (--fill: grey, \
            0.5, as in the paper; black; mean, the mean image's pixels, 0 after subtraction; or a \
            value in [0, 1]).
            Position (i, j) covers rows i·S … i·S+P−1 and columns j·S … j·S+P−1 of the input: \
            Hm = ⌊(H−P)/S⌋+1 positions down and Wm across. Writes, each N×Hm×Wm: probability.npy \
            (the label's softmax probability), top_class.npy (int32, the most probable class), \
            activation.npy (the summed activation of the map of --layer with the largest single \
            activation in the unoccluded image), and strongest_map.npy (int32, N); \
            projection.npy (the first --show images' deconvnet projections of that activation, \
            show×C×H×W); DIR/occlusion.FORMAT (ZF Fig. 7, a row per shown image: (a) the input with \
            the occluder where p(true class) is lowest, (b) the strongest map's summed activation, \
            (c) its projection, (d) p(true class), (e) the most probable class, with colour bars and \
            a class legend) and DIR/run.json. Occluded copies are batched.
            """)

    @OptionGroup var network: NetworkArguments
    @OptionGroup var analysis: AnalysisArguments

    @Option(help: "Side of the square, in input pixels (default: a fifth of the input's height).")
    var patch: Int?

    @Option(help: "Step between positions (default: a third of the patch).")
    var stride: Int?

    @Option(help: "The layer whose strongest map is tracked (default: the ReLU after the last conv).")
    var layer: String?

    @Flag(help: "Run every occluded copy through the whole network. By default the layers before the first fully connected one are recomputed only where the occluder reaches (exact), where the network allows it and that saves enough work.")
    var full = false

    @Flag(help: "Take the incremental path even where it would save little work (where the network allows it).")
    var incremental = false

    @Option(help: ArgumentHelp("Approximate incremental occlusion (Krypton): each layer recomputed over at most τ of its rows and columns around the occluder's field, with a coarse-then-fine drill-down; τ in (0, 1].",
                               valueName: "τ"))
    var approximate: Double?

    @Option(help: "With --approximate: the coarse grid's step in positions (1: no drill-down; default: the largest whose occluders still cover every pixel, patch ÷ stride, at least 2).")
    var drillStep: Int?

    @Option(help: "With --approximate: a position between coarse ones is computed where its coarse neighbours' p(true class) differ by more than this, their top classes differ or one leads its runner-up by less than a quarter of this; elsewhere it takes their mean.")
    var drillThreshold = 0.2

    @Option(help: "With --approximate: the first N images are run exactly as well, and the difference stated (0: none).")
    var verify = 1

    @OptionGroup var figure: FigureArguments

    @Option(help: "Images drawn in DIR/occlusion.FORMAT (rows), 0 to 24.")
    var show = 8

    @Option(help: ArgumentHelp("The occluder, on the raw image: grey (0.5, the paper's), black, mean (the mean image: 0 after subtraction) or a value in [0, 1].",
                               valueName: "grey|black|mean|value"))
    var fill = "grey"

    func validate() throws {
        try analysis.require()
        if let patch, patch < 1 { throw ValidationError("--patch must be at least 1") }
        if let stride, stride < 1 { throw ValidationError("--stride must be at least 1") }
        if full && incremental { throw ValidationError("--full and --incremental choose opposite paths; give one") }
        if let approximate {
            guard approximate > 0, approximate <= 1 else { throw ValidationError("--approximate takes τ in (0, 1], a fraction of each layer, not \(approximate)") }
            if full { throw ValidationError("--full and --approximate choose opposite paths; give one") }
            if let drillStep, !(1...64).contains(drillStep) { throw ValidationError("--drill-step must be between 1 and 64") }
            guard drillThreshold >= 0, drillThreshold <= 1 else { throw ValidationError("--drill-threshold is a difference of probabilities, in [0, 1]") }
            guard verify >= 0 else { throw ValidationError("--verify must be 0 or more") }
        }
        guard (0...24).contains(show) else { throw ValidationError("--show must be between 0 and 24 (the rows of DIR/occlusion.\(figure.format.fileExtension))") }
        guard OccluderFill(argument: fill) != nil else { throw ValidationError("--fill is grey, black, mean or a value in [0, 1], not '\(fill)'") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("occlude", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let (h, w) = (graph.input.height, graph.input.width)
            let p = patch ?? max(1, (h + 2) / 5), s = stride ?? max(1, p / 3)
            guard p <= min(h, w) else { throw CommandError("--patch \(p) is larger than the input (\(h)×\(w))") }
            let node = try layer.map { try CommandSupport.layers($0, in: graph)[0] } ?? Occlusion.defaultLayer(graph)
            let (file, input) = try analysis.load(graph)
            guard input.labels != nil else { throw CommandError("occlusion needs labels: give --labels with --input, or use --data") }
            let runner = try BatchRunner(graph: graph, backend: try network.backend, batch: analysis.batchSize(spec),
                                         keeping: [node, graph.nodes.count - 1], weights: file.parameterTensors)
            _ = try runner.executor(runner.batch)   // plans made before the clock starts
            // Under mpirun the occluded copies are spread over the ranks; rank 0 writes the results.
            let world = World.current
            let occluder = OccluderFill(argument: fill)!
            let (engine, why) = try incrementalEngine(graph, layer: node, batch: runner.batch, images: input.count, patch: p, stride: s, weights: file.parameterTensors)
            let started = Date()
            var (r, method) = try occlude(graph, input, runner: runner, engine: engine, why: why, layer: node, patch: p, stride: s, fill: occluder, world: world,
                                          progress: progress.update)
            guard world.isRoot else { return 0 }
            let rate = Double(input.count * r.rows * r.columns) / max(Date().timeIntervalSince(started), 1e-9)
            var measured: OcclusionAgreement?
            if let engine, engine.approximation != nil {
                if let d = engine.lastDrillDown { method += "; the drill-down computed \(d.computed) of the \(d.of) positions between coarse ones" }
                if let step = engine.approximation?.drillDown?.step, step * s > p {
                    method += "; the coarse occluders, \(step * s) px apart, leave \(step * s - p)-px gaps no coarse position covers"
                }
                measured = try measure(graph, input.prefix(min(verify, input.count)), approximate: r, batch: runner.batch, layer: node, patch: p, stride: s,
                                       fill: occluder, weights: file.parameterTensors)
            }
            let out = analysis.outPath
            try makeDirectory(out)
            let shape = [input.count, r.rows, r.columns]
            try NumpyArray.write(.init(shape: shape, values: r.probability), path: "\(out)/probability.npy")
            try NumpyArray.write(int32: r.topClass, shape: shape, path: "\(out)/top_class.npy")
            try NumpyArray.write(.init(shape: shape, values: r.activation), path: "\(out)/activation.npy")
            try NumpyArray.write(int32: r.strongestMap, shape: [input.count], path: "\(out)/strongest_map.npy")
            if show > 0 {
                let shown = Array(r.strongest.prefix(show))
                let projector = try Projection.runner(graph: graph, layer: node, rule: .deconvnet, backend: try network.backend, batch: runner.batch,
                                                      weights: file.parameterTensors)
                let projections = try Projection.project(shown, input: input, runner: projector, layer: node)
                try NumpyArray.write(.init(shape: [shown.count] + graph.input.dims, values: projections.flatMap { $0 }), path: "\(out)/projection.npy")
                let drawing = OcclusionFigure(occlusion: r, input: input, shape: graph.input, shown: show, projections: projections,
                                             fields: shown.map { ReceptiveField.of(graph, node: node, row: $0.row, column: $0.column) },
                                             network: graph.name, layer: graph.nodes[node].name, checkpoint: (analysis.weightsPath as NSString).lastPathComponent,
                                             fill: occluder, scale: figure.scale, clipPercent: figure.clipPercentile,
                                             approximation: engine?.approximation.map { "\($0)" + (measured.map { "; measured \($0)" } ?? "") })
                try drawing.write(to: "\(out)/occlusion.\(figure.format.fileExtension)", format: figure.format)
            }
            try RunRecord.write(to: out, command: "occlude", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: analysis.weightsPath,
                                rule: input.rule, parameters: [("fill", "\(occluder), drawn on the raw image"), ("patch", "\(p)"), ("stride", "\(s)"), ("rows", "\(r.rows)"), ("columns", "\(r.columns)"),
                                             ("layer", graph.nodes[node].name), ("images", "\(input.count)"), ("scale", figure.scale.rawValue),
                                             ("clip_percentile", Ticks.short(figure.clipPercentile)), ("projection", "deconvnet"), ("batch", "\(runner.batch)"),
                                             ("method", method)] + (measured.map { [("measured", "\($0)")] } ?? []))
            output.write("occluded \(input.count) images at \(r.rows)×\(r.columns) positions (patch \(p), stride \(s)), tracking \(graph.nodes[node].name) "
                         + "(\(Int(rate.rounded())) occluded images/s, \(method.prefix { $0 != ":" })); wrote \(out)\n")
            if engine?.approximation != nil { output.write("note: \(method)\n") }
            if let measured { output.write("measured \(measured)\n") }
            return 0
        }
    }

    /// The incremental engine, its plans made, where the network allows it and it saves enough
    /// work (or --incremental); else nil and why the full path runs.
    func incrementalEngine(_ graph: Graph, layer: Int, batch: Int, images: Int, patch: Int, stride: Int,
                           weights: [String: (shape: [Int], values: [Float])]) throws -> (IncrementalOcclusion?, String) {
        if full { return (nil, "--full") }
        let step = drillStep ?? max(2, patch / stride)
        let approximation = approximate.map { OcclusionApproximation(threshold: $0, drillDown: step > 1 ? .init(step: step, moved: Float(drillThreshold)) : nil) }
        guard IncrementalOcclusion.supports(graph, layer: layer),
              let engine = try IncrementalOcclusion(graph: graph, backend: try network.backend, batch: batch, weights: weights, patch: patch, stride: stride,
                                                    tracking: layer, approximation: approximation) else {
            let why = "a network the incremental path does not recompute (branches or average pooling)"
            if approximation != nil { throw CommandError("--approximate needs the incremental path, and this is \(why)") }
            return (nil, why)
        }
        let predicted = engine.predictedSpeedUp
        guard predicted >= IncrementalOcclusion.worthwhile || incremental || approximation != nil else {
            return (nil, "the occluder reaches most of each layer: the incremental path would save \(String(format: "%.1f", predicted))× the multiply-adds, "
                    + "under the \(IncrementalOcclusion.worthwhile)× it needs to be faster; --incremental takes it anyway")
        }
        try engine.prepare(images: images)
        return (engine, String(format: "%.1f", predicted))
    }

    /// The approximate maps of the first images against the exact incremental engine's (nil when
    /// there are none to compare).
    func measure(_ graph: Graph, _ input: AnalysisInput, approximate: Occlusion, batch: Int, layer: Int, patch: Int, stride: Int, fill: OccluderFill,
                 weights: [String: (shape: [Int], values: [Float])]) throws -> OcclusionAgreement? {
        guard input.count > 0, let exact = try IncrementalOcclusion(graph: graph, backend: try network.backend, batch: batch, weights: weights,
                                                                    patch: patch, stride: stride, tracking: layer) else { return nil }
        return OcclusionAgreement(approximate, try exact.run(input, layer: layer, fill: fill), images: input.count)
    }

    /// The occlusion maps, by `engine` (exact) or by full forward passes; and how they were made.
    func occlude(_ graph: Graph, _ input: AnalysisInput, runner: BatchRunner, engine: IncrementalOcclusion?, why: String, layer: Int, patch: Int, stride: Int,
                 fill: OccluderFill, world: any Communicator, progress: @escaping (Int, Int) -> Void) throws -> (Occlusion, String) {
        if let engine {
            let what = engine.approximation.map { "\($0)" } ?? "exact"
            return (try engine.run(input, layer: layer, fill: fill, communicator: world, progress: progress),
                    "incremental: each layer before the first fully connected one recomputed only inside the occluder's projective field "
                    + "(\(what); \(why)× fewer multiply-adds)")
        }
        return (try Occlusion.run(input, runner: runner, layer: layer, patch: patch, stride: stride, fill: fill, communicator: world, progress: progress),
                "full: every occluded copy through the whole network (\(why))")
    }
}
