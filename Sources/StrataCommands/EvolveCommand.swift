import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFigures
import StrataFormats
import StrataIR
import StrataPlan
import StrataTrain

/// `strata evolve SPEC --run RUN --layer L [--maps ...] (--data DATA | --input X) --out DIR`.
struct EvolveCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "evolve",
        abstract: "Feature evolution (ZF Fig. 4): the strongest projection of each map at every snapshot a run kept.",
        discussion: """
            \(MeanChoice.help) Each snapshot subtracts its own mean image. Reads RUN/checkpoints/epoch-N.safetensors (strata train --snapshot-epochs) in epoch order. \
            For each snapshot and map: the strongest activation over the images and its projection (--rule). \
            Writes DIR/evolution.png (or .pdf, .svg: --format; one row per map, one column \
            per epoch, each cell the projection cropped to its receptive field, coloured by --scale and \
            --clip-percentile, as the figure states), DIR/evolution.npy (maps × epochs × C×H×W), DIR/evolution.json (per cell: epoch, map, \
            image, row, column, activation) and DIR/run.json.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "The run folder of strata train.")
    var run: String

    @Option(help: "The layer whose maps are followed.")
    var layer: String

    @Option(help: "Maps: a list (0,5,9) or random:N; default: the first 9.")
    var maps: String?

    @OptionGroup var analysis: AnalysisArguments

    @Option(help: "The projection rule: deconvnet, gradient or guided.")
    var rule: BackwardRule = .deconvnet

    @Option(help: "Seed of random:N.")
    var seed: UInt64 = 0

    @OptionGroup var figure: FigureArguments

    func validate() throws {
        guard analysis.weights == nil else { throw ValidationError("evolve reads the weights of every snapshot in --run; it takes no --weights") }
        guard analysis.mean == nil else { throw ValidationError("evolve subtracts each snapshot's own mean image; it takes no --mean") }
        guard analysis.out != nil else { throw ValidationError("missing --out") }
        guard (analysis.input == nil) != (analysis.data == nil) else { throw ValidationError("give --input or --data (one of them)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("evolve: snapshots", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let node = try CommandSupport.layers(layer, in: graph)[0]
            let folder = "\(run)/checkpoints"
            let snapshots = Evolution.snapshots(in: folder)
            guard !snapshots.isEmpty else {
                throw CommandError("\(folder) has no snapshots (epoch-N.safetensors); train with --snapshot-epochs 1,2,5,... to keep them")
            }
            let chosen = try DeconvCommand.chooseMaps(maps, count: graph.nodes[node].shape!.dims[0], seed: seed)
            let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
            let batch = analysis.batchSize(spec), out = analysis.outPath
            let backend = try network.backend   // one device context for every snapshot
            var grid = [[Float]](repeating: [], count: chosen.count * snapshots.count)
            var strongest = [Activation?](repeating: nil, count: chosen.count * snapshots.count)
            var searched = 0
            var records: [JSONValue] = []
            for (column, (epoch, path)) in snapshots.enumerated() {
                // Every snapshot prepares the images with its own mean image, as it was trained.
                var snapshot = analysis
                snapshot.weights = path
                let (file, images) = try snapshot.load(graph)
                searched = images.count
                let forward = try BatchRunner(graph: graph, backend: backend, batch: batch, keeping: [node], weights: file.parameterTensors)
                let outputs = try forward.outputs(images.images, count: images.count, nodes: [node])[0]
                let best = Projection.strongest(outputs, count: images.count, shape: graph.nodes[node].shape!, maps: chosen, top: 1).map { $0[0] }
                let runner = try Projection.runner(graph: graph, layer: node, rule: rule, backend: backend, batch: batch, weights: file.parameterTensors)
                let projections = try Projection.project(best, input: images, runner: runner, layer: node)
                for (row, (a, p)) in zip(best, projections).enumerated() {
                    grid[row * snapshots.count + column] = p
                    strongest[row * snapshots.count + column] = a
                    records.append(Evolution.record(epoch: epoch, a))
                }
                progress.update(column + 1, snapshots.count)
            }
            try makeDirectory(out)
            try NumpyArray.write(.init(shape: [chosen.count, snapshots.count, c, h, w], values: grid.flatMap { $0 }), path: "\(out)/evolution.npy")
            try AtomicFile.write(Data((JSONValue.array(records).text(.pretty) + "\n").utf8), to: "\(out)/evolution.json")
            let settings = ProjectionSettings(network: graph.name, layer: graph.nodes[node].name, rule: rule, weights: folder,
                                              images: analysis.imagesDescription(searched), scale: figure.scale, clipPercent: figure.clipPercentile)
            let figurePath = "\(out)/evolution.\(figure.format.fileExtension)"
            try EvolutionFigure(graph: graph, node: node, epochs: snapshots.map(\.epoch), maps: chosen, activations: strongest.map { $0! }, projections: grid,
                                settings: settings).write(to: figurePath, format: figure.format)
            try RunRecord.write(to: out, command: "evolve", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: snapshots.last!.1,
                                parameters: [("layer", graph.nodes[node].name), ("maps", chosen.map(String.init).joined(separator: ",")),
                                             ("epochs", snapshots.map { "\($0.0)" }.joined(separator: ",")), ("rule", rule.rawValue),
                                             ("format", figure.format.rawValue), ("scale", figure.scale.rawValue), ("clip_percentile", "\(figure.clipPercentile)")])
            output.write("followed \(chosen.count) maps of \(graph.nodes[node].name) over epochs \(snapshots.map { "\($0.0)" }.joined(separator: ", ")); wrote \(figurePath)\n")
            return 0
        }
    }
}
