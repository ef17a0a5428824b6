import ArgumentParser
import Foundation
import StrataFormats
import StrataIR
import StrataPlan
import StrataAnalysis
import StrataTrain

/// `strata features SPEC --weights W --input X --layers A,B --out DIR`: inference, keeping the
/// named layers' outputs, one `.npy` per layer.
struct Features: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a network in inference mode and write the named layers' outputs as .npy arrays.",
        discussion: """
            \(MeanChoice.help) Writes DIR/LAYER.npy for each layer: float32, shape (N, C, H, W) or \
            (N, F). An .npy input holds raw pixels (float32 N×C×h×w at the input's size or N×C×H×W at \
            the stored size, or one image); PNG and JPEG images (one file, or every image in a folder, \
            in name order, listed in DIR/images.txt) are converted to the input's channels, resized so \
            the shorter side covers the stored size, centre-cropped and scaled to [0, 1]. Then the \
            centre is cropped to the input and the mean subtracted: a checkpoint's own, or for plain \
            weights (strata init, another tool) what --mean says (--mean none: the array as it is).
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights (.safetensors).")
    var weights: String

    @Option(help: "Input: an .npy array of raw pixels (N×C×H×W float32), a PNG or JPEG image, or a folder of them.")
    var input: String

    @Option(help: ArgumentHelp(MeanChoice.optionHelp, valueName: "file|none"))
    var mean: String?

    @Option(help: "Comma-separated layer names.")
    var layers: String

    @Option(help: "Output folder (created if missing).")
    var out: String


    @Option(help: "Images per run (bounds memory).")
    var batch = 64

    func validate() throws {
        guard batch >= 1, batch <= CommandSupport.maximumBatch else { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, _) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            try FileCheck.prepareOutputFolder(out)   // an unusable --out is found before the work
            let backend = try network.backend
            let nodes = try CommandSupport.layers(layers, in: graph)
            let weightsFile = try Safetensors.read(path: weights)
            try Weights.check(weightsFile, path: weights, graph: graph)   // a misfit first: it names the layer
            let loaded = try AnalysisInput.load(.files(input, labels: nil), graph: graph, weights: weightsFile, weightsPath: weights,
                                                mean: mean.map(MeanChoice.init(argument:)))
            let files: [String]? = input.lowercased().hasSuffix(".npy") ? nil : loaded.names
            let count = loaded.count
            let runner = try BatchRunner(graph: graph, backend: backend, batch: batch, keeping: nodes, weights: weightsFile.parameterTensors)
            runner.weightsName = weights
            let results = try runner.outputs(loaded.images, count: count, nodes: nodes)
            try makeDirectory(out)
            if let files {
                try AtomicFile.write(Data((files.joined(separator: "\n") + "\n").utf8), to: "\(out)/images.txt")
            }
            for (k, node) in nodes.enumerated() {
                let path = "\(out)/\(graph.nodes[node].name).npy"
                try NumpyArray.write(NumpyArray.Array32(shape: [count] + graph.nodes[node].shape!.dims, values: results[k]), path: path)
                output.write("wrote \(path): (\(([count] + graph.nodes[node].shape!.dims).map(String.init).joined(separator: ", ")))\n")
            }
            return 0
        }
    }
}

/// mkdir -p.
func makeDirectory(_ path: String) throws { try FileCheck.makeDirectory(path) }
