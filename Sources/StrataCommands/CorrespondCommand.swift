import ArgumentParser
import Foundation
import StrataAnalysis
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataSpec
import StrataTrain

/// `strata correspond SPEC --weights W --input X --regions REGIONS.yaml --layers L5,L7 [--random R] --out DIR`.
struct CorrespondCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "correspond",
        abstract: "Correspondence (ZF Table 1): whether hiding the same part changes different images' features the same way.",
        discussion: """
            REGIONS.yaml names parts, each with one rectangle [row, column, height, width] per image:
            
              parts:
                right_eye: [[10, 4, 6, 6], [11, 5, 6, 6], ...]
                nose: [...]
            
            \(MeanChoice.help) Here the change is the part covered (--fill grey, 0.5, as in the \
            paper; black; mean; or a value in [0, 1]). For a part and a layer, ε_i = features(image \
            i) − features(image i with the part covered); Δ is the mean over image pairs i < j of the \
            fraction of feature positions where sign(ε_i) ≠ sign(ε_j), ± its standard deviation over \
            pairs (lower: more consistent). The control covers a patch of the part's size at a random \
            place drawn for each image (seeded) among the places where at least half of the patch is \
            on the object (pixels that differ from the image's border colour); --random draws, their \
            pairs pooled into the same mean ± std. Writes DIR/correspondence.csv, \
            DIR/correspondence.md (rows: each part and its control; columns: layers) and DIR/run.json.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights or a checkpoint (.safetensors).")
    var weights: String

    @Option(help: "Images: an .npy float32 N×C×H×W of raw pixels in [0, 1], or a folder of PNG/JPEG (in name order).")
    var input: String

    @Option(help: ArgumentHelp(MeanChoice.optionHelp, valueName: "file|none"))
    var mean: String?

    @Option(help: ArgumentHelp("What covers a part, on the raw image: grey (0.5, the paper's), black, mean (the mean image: 0 after subtraction) or a value in [0, 1].",
                               valueName: "grey|black|mean|value"))
    var fill = "grey"

    @Option(help: "The parts, with a rectangle per image (YAML).")
    var regions: String

    @Option(help: "Comma-separated layers.")
    var layers: String

    @Option(help: "Draws of the control: each covers a random place on the object of every image, of the part's size.")
    var random = 10

    @Option(help: "Seed of the random rectangles.")
    var seed: UInt64 = 0

    @Option(help: "Images per run.")
    var batch = 64

    @Option(help: "The output folder (created if missing).")
    var out: String

    func validate() throws {
        guard (1...1000).contains(random) else { throw ValidationError("--random must be between 1 and 1000 (the control's draws; each is a pass over every image)") }
        guard OccluderFill(argument: fill) != nil else { throw ValidationError("--fill is grey, black, mean or a value in [0, 1], not '\(fill)'") }
        guard batch >= 1, batch <= CommandSupport.maximumBatch else { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("correspond: parts", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            try FileCheck.prepareOutputFolder(out)   // an unusable --out is found before the work
            let nodes = try CommandSupport.layers(layers, in: graph)
            let file = try Safetensors.read(path: weights)
            try Weights.check(file, path: weights, graph: graph)
            let (h, w) = (graph.input.height, graph.input.width)
            let images = try AnalysisInput.load(.files(input, labels: nil), graph: graph, weights: file, weightsPath: weights, mean: mean.map(MeanChoice.init(argument:)))
            guard images.count >= 2 else { throw CommandError("correspondence compares image pairs; \(input) has \(images.count) image") }
            let parts = try Correspondence.regions(regions, images: images.count, height: h, width: w)
            let runner = try BatchRunner(graph: graph, backend: try network.backend, batch: batch, keeping: nodes, weights: file.parameterTensors)
            let occluder = OccluderFill(argument: fill)!
            let rows = try Correspondence.run(images, parts: parts, runner: runner, layers: nodes, fill: occluder, draws: random, seed: seed,
                                              progress: progress.update)
            try makeDirectory(out)
            try AtomicFile.write(Data(Correspondence.csv(rows).utf8), to: "\(out)/correspondence.csv")
            let md = Correspondence.markdown(rows, parts: parts.map(\.0), layers: nodes.map { graph.nodes[$0].name }, draws: random, images: images.count,
                                             fill: occluder)
            try AtomicFile.write(Data(md.utf8), to: "\(out)/correspondence.md")
            try RunRecord.write(to: out, command: "correspond", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: weights,
                                rule: images.rule, parameters: [("fill", "\(occluder), drawn on the raw image"), ("layers", nodes.map { graph.nodes[$0].name }.joined(separator: ",")), ("random", "\(random)"),
                                             ("seed", "\(seed)"), ("images", "\(images.count)"), ("regions", regions)])
            output.write(md)
            return 0
        }
    }
}
