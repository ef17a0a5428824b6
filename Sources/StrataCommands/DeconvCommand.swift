import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFigures
import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
import StrataTrain


/// `strata deconv SPEC --weights W (--data DATA | --input X) --layer L [--maps ...] [--top K] [--rule R] --out DIR`.
struct DeconvCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "deconv",
        abstract: "Deconvnet projections (ZF Fig. 2): the strongest activations of a layer's maps, projected back to the input.",
        discussion: """
            \(MeanChoice.help) For each chosen map of --layer: its --top largest activations over the images, at most one \
            per image (the image's largest), ties to the lower image index, in descending order. Each \
            is projected to input space with every other activation of the layer set to zero. Rules: \
            deconvnet (ZF's: unpool through the switches, rectify the signal at each ReLU, transposed \
            filters; LRN and dropout pass through), gradient (saliency) or guided (guided backprop). \
            Writes DIR/LAYER/map-M.npy (top×C×H×W), map-M.json ([{image, row, column, activation}]), \
            map-M.png (or .pdf, .svg: --format; the projections cropped to each activation's receptive \
            field, beside the raw input patches they come from, labelled with image and activation; \
            coloured by --scale and --clip-percentile, as the figure states); for several maps, \
            maps.png (a block per map: its 9 strongest projections beside their patches, as ZF's Fig. 2) \
            and DIR/run.json. With --sanity, instead: the sanity check of Adebayo et al. (2018) as a cascade: \
            the top layer with parameters re-initialised from the spec's initialisation (seeded by --seed), \
            then also the next one down, and so on to the first; at each step the same units (the trained \
            network's --top strongest activations of each map, seeded with 1) projected under every rule and \
            compared with the trained network's projections (Spearman rank correlation of |projection|; SSIM, \
            7×7 uniform window, on projections scaled to [0, 1]). Writes DIR/sanity.csv (step, layers \
            randomised, rule, map, image, spearman, ssim), DIR/sanity.md (mean ± sd per step and rule), \
            DIR/sanity.png (or .pdf, .svg), DIR/sanity-projections.npy (steps × rules × units × C×H×W) and DIR/run.json.
            """)

    @OptionGroup var network: NetworkArguments
    @OptionGroup var analysis: AnalysisArguments

    @Option(help: "The layer whose maps are projected (a conv's output before its ReLU; name the ReLU for rectified maps).")
    var layer: String

    @Option(help: "Maps: a list (0,5,9) or random:N (seeded by --seed); default: the first 9.")
    var maps: String?

    @Option(help: "Activations per map.")
    var top = 9

    @Option(help: "The projection rule: deconvnet, gradient or guided.")
    var rule: BackwardRule = .deconvnet

    @Option(help: "Seed of random:N and of --sanity's re-initialisation.")
    var seed: UInt64 = 0

    @Flag(help: "Run the model-parameter randomisation cascade (every rule; --rule is ignored) instead of drawing the projections.")
    var sanity = false

    @OptionGroup var figure: FigureArguments

    func validate() throws {
        try analysis.require()
        guard (1...10_000).contains(top) else { throw ValidationError("--top must be between 1 and 10000 (the strongest activations projected per map)") }
        if let maps, !maps.hasPrefix("random:") {
            let list = maps.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !list.isEmpty, list.allSatisfy({ Int($0).map { $0 >= 0 } ?? false }) else {
                throw ValidationError("--maps takes map numbers (0,5,9) or random:N")
            }
            if let twice = Sweep.repeated(list.compactMap { Int($0) }) { throw ValidationError("--maps names map \(twice) twice; each map once") }
        }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        let progress = AnalysisProgress(sanity ? "deconv --sanity: steps" : "deconv: maps", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let node = try CommandSupport.layers(layer, in: graph)[0]
            let (file, input) = try analysis.load(graph)
            let chosen = try DeconvCommand.chooseMaps(maps, count: graph.nodes[node].shape!.dims[0], seed: seed)
            let batch = analysis.batchSize(spec)
            let settings = ProjectionSettings(network: graph.name, layer: graph.nodes[node].name, rule: rule, weights: analysis.weightsPath,
                                              images: analysis.imagesDescription(input.count), scale: figure.scale, clipPercent: figure.clipPercentile)
            if sanity {
                let random = Initialization.weights(graph: graph, spec: spec, seed: seed).parameterTensors
                let summary = try DeconvCommand.sanityCheck(graph: graph, node: node, maps: chosen, top: top, input: input, trained: file.parameterTensors,
                                                            random: random, backend: try network.backend, batch: batch, settings: settings,
                                                            seed: seed, folder: analysis.outPath, format: figure.format, progress: progress.update)
                try RunRecord.write(to: analysis.outPath, command: "deconv", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec,
                                    weightsPath: analysis.weightsPath, rule: input.rule,
                                    parameters: [("layer", graph.nodes[node].name), ("maps", chosen.map(String.init).joined(separator: ",")),
                                                 ("top", "\(top)"), ("sanity", "true"), ("images", "\(input.count)"), ("seed", "\(seed)"), ("batch", "\(batch)"),
                                                 ("format", figure.format.rawValue), ("scale", figure.scale.rawValue), ("clip_percentile", "\(figure.clipPercentile)")])
                output.write(summary)
                return 0
            }
            let drawing = Drawing(settings: settings, classNames: try Checkpoint.classNames(file, path: analysis.weightsPath), format: figure.format)
            let written = try DeconvCommand.projectAndWrite(graph: graph, node: node, maps: chosen, top: top, rule: rule, input: input,
                                                            weights: file.parameterTensors, backend: try network.backend, batch: batch,
                                                            folder: "\(analysis.outPath)/\(graph.nodes[node].name)", drawing: drawing, progress: progress.update)
            try RunRecord.write(to: analysis.outPath, command: "deconv", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec,
                                weightsPath: analysis.weightsPath, rule: input.rule,
                                parameters: [("layer", graph.nodes[node].name), ("maps", chosen.map(String.init).joined(separator: ",")),
                                             ("top", "\(top)"), ("rule", rule.rawValue), ("images", "\(input.count)"), ("seed", "\(seed)"), ("batch", "\(batch)"),
                                             ("format", figure.format.rawValue), ("scale", figure.scale.rawValue), ("clip_percentile", "\(figure.clipPercentile)")])
            output.write("projected the top \(top) activations of \(chosen.count) maps of \(graph.nodes[node].name) (\(rule.rawValue)) over \(input.count) images "
                         + "(\(Int(written.rate.rounded())) projections/s); wrote \(written.files) files to \(analysis.outPath)/\(graph.nodes[node].name)\n")
            return 0
        }
    }

    /// `0,5,9`, `random:N` (distinct, sorted, from the seed), or the first 9.
    static func chooseMaps(_ text: String?, count: Int, seed: UInt64) throws -> [Int] {
        guard let text else { return Array(0..<min(9, count)) }
        if text.hasPrefix("random:") {
            guard let n = Int(text.dropFirst(7)), n >= 1 else { throw CommandError("--maps random:N takes a count, e.g. random:9") }
            return Projection.randomMaps(n, of: count, seed: seed)
        }
        let list = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if let bad = list.first(where: { $0 >= count }) { throw CommandError("--maps: the layer has maps 0..<\(count), not \(bad)") }
        return list
    }

    /// How map-M's figure is drawn: what it states, the class names, the format.
    struct Drawing {
        var settings: ProjectionSettings
        var classNames: [String]?
        var format: FigureFormat
    }

    /// Finds the strongest activations of `maps`, projects them, and writes map-M.npy/.json, each
    /// map's figure and, for several maps, maps.png (as `drawing` says) into `folder`; returns how
    /// many files it wrote and projections per second.
    @discardableResult
    static func projectAndWrite(graph: Graph, node: Int, maps: [Int], top: Int, rule: BackwardRule, input: AnalysisInput,
                                weights: [String: (shape: [Int], values: [Float])], backend: any Backend, batch: Int, folder: String,
                                drawing: Drawing, progress: (Int, Int) -> Void = { _, _ in }) throws -> (files: Int, rate: Double) {
        let forward = try BatchRunner(graph: graph, backend: backend, batch: batch, keeping: [node], weights: weights)
        let outputs = try forward.outputs(input.images, count: input.count, nodes: [node])[0]
        let strongest = Projection.strongest(outputs, count: input.count, shape: graph.nodes[node].shape!, maps: maps, top: top)
        let runner = try Projection.runner(graph: graph, layer: node, rule: rule, backend: backend, batch: batch, weights: weights)
        try makeDirectory(folder)
        var files = 0, projectionSeconds = 0.0, projected = 0
        var overview = ProjectionOverview(settings: drawing.settings)
        _ = try runner.executor(min(batch, top))   // the plan is made before the clock starts
        for (map, activations) in zip(maps, strongest) {
            let started = Date()
            let projections = try Projection.project(activations, input: input, runner: runner, layer: node)
            projectionSeconds += Date().timeIntervalSince(started)
            projected += activations.count
            try NumpyArray.write(.init(shape: [activations.count] + graph.input.dims, values: projections.flatMap { $0 }), path: "\(folder)/map-\(map).npy")
            try AtomicFile.write(Data(Projection.json(activations).utf8), to: "\(folder)/map-\(map).json")
            let figure = ProjectionFigure(graph: graph, node: node, activations: activations, projections: projections, input: input,
                                          classNames: drawing.classNames, settings: drawing.settings)
            try figure.write(to: "\(folder)/map-\(map).\(drawing.format.fileExtension)", format: drawing.format)
            overview.add(figure)
            files += 3
            progress(files / 3, maps.count)
        }
        if maps.count > 1 {
            try overview.write(to: "\(folder)/maps.\(drawing.format.fileExtension)", format: drawing.format)
            files += 1
        }
        return (files, Double(projected) / max(projectionSeconds, 1e-9))
    }

    /// The randomisation cascade of `maps`' `top` strongest units (`Sanity.run`), written to
    /// `folder` as sanity.csv, sanity.md, sanity-projections.npy and the figure; returns a summary line.
    static func sanityCheck(graph: Graph, node: Int, maps: [Int], top: Int, input: AnalysisInput, trained: [String: (shape: [Int], values: [Float])],
                            random: [String: (shape: [Int], values: [Float])], backend: any Backend, batch: Int, settings: ProjectionSettings,
                            seed: UInt64, folder: String, format: FigureFormat, progress: (Int, Int) -> Void = { _, _ in }) throws -> String {
        let forward = try BatchRunner(graph: graph, backend: backend, batch: batch, keeping: [node], weights: trained)
        let outputs = try forward.outputs(input.images, count: input.count, nodes: [node])[0]
        let units = Projection.strongest(outputs, count: input.count, shape: graph.nodes[node].shape!, maps: maps, top: top).flatMap { $0 }
        let result = try Sanity.run(graph: graph, layer: node, units: units, rules: [.deconvnet, .gradient, .guided], input: input, trained: trained, random: random,
                                    backend: backend, batch: batch, progress: progress)
        try makeDirectory(folder)
        try AtomicFile.write(Data(result.csv.utf8), to: "\(folder)/sanity.csv")
        let heading = "Sanity check: \(settings.network) \(settings.layer), \(settings.weights)"
        try AtomicFile.write(Data(result.markdown(heading: heading).utf8), to: "\(folder)/sanity.md")
        let steps = result.projections.count
        try NumpyArray.write(.init(shape: [steps, result.rules.count, units.count] + graph.input.dims,
                                   values: result.projections.flatMap { $0.flatMap { $0.flatMap { $0 } } }), path: "\(folder)/sanity-projections.npy")
        let exampleClass = input.labels.map { labels in
            let name = input.className(labels[units[0].image])
            return name.hasPrefix("class ") ? name : "class " + name
        }
        try SanityFigure(graph: graph, node: node, result: result, settings: settings, maps: maps, top: top, seed: seed, exampleClass: exampleClass)
            .write(to: "\(folder)/sanity.\(format.fileExtension)", format: format)
        let last = result.rows.filter { $0.step == steps - 1 }
        let mean = { (v: [Double]) in v.reduce(0, +) / Double(max(v.count, 1)) }
        return "sanity check of \(units.count) units of \(graph.nodes[node].name) over \(steps - 1) re-initialised layers: "
            + "all randomised, mean Spearman \(Ticks.short(mean(last.map(\.spearman)))), SSIM \(Ticks.short(mean(last.map(\.ssim)))); "
            + "wrote \(folder)/sanity.csv, sanity.md, sanity.\(format.fileExtension), sanity-projections.npy\n"
    }
}
