import ArgumentParser
import Foundation
import StrataFormats
import StrataIR
import StrataPlan
import StrataTrain

/// `strata features SPEC --weights W --input X --layers A,B --out DIR`: inference, keeping the
/// named layers' outputs, one `.npy` per layer.
struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a network in inference mode and write the named layers' outputs as .npy arrays.",
        discussion: """
            Writes DIR/LAYER.npy for each layer: float32, shape (N, C, H, W) or (N, F). An .npy input \
            (float32 N×C×H×W, or one C×H×W image) is used as it is, with no preprocessing. PNG and JPEG \
            images (one file, or every image in a folder, in name order, listed in DIR/images.txt) get \
            the preprocessing the weights were trained with: converted to the input's channels, resized \
            so the shorter side covers the training images' size, centre-cropped to it and scaled to \
            [0, 1]; then, when the weights file is a checkpoint, its mean image is subtracted and the \
            centre cropped to the input. Plain weights (strata init, another tool): no mean subtraction.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights (.safetensors).")
    var weights: String

    @Option(help: "Input: an .npy array (N×C×H×W float32), a PNG or JPEG image, or a folder of them.")
    var input: String

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
            let backend = try network.backend
            let nodes = try CommandSupport.layers(layers, in: graph)
            let weightsFile = try Safetensors.read(path: weights)
            let preprocessing = try Preprocessing.inference(weights: weightsFile, path: weights,
                                                            input: (graph.input.channels, graph.input.height, graph.input.width))
            let (images, files) = try CommandSupport.inputImages(input, graph: graph, preprocessing: preprocessing)
            let count = images.shape[0]
            let derived = try TrainingGraph.derive(graph, training: false)
            var results = nodes.map { [Float](repeating: 0, count: count * graph.nodes[$0].shape!.elementCount!) }
            let keep = Set(nodes.map { TensorID.value($0) })
            try CommandSupport.inChunks(images, batch: batch, graph: graph, backend: backend, derived: derived, keep: keep,
                                        weights: weightsFile, weightsPath: weights) { executor, start, n in
                executor.run()
                for (k, node) in nodes.enumerated() {
                    let values = try executor.read(.value(node))
                    let size = graph.nodes[node].shape!.elementCount!
                    results[k].replaceSubrange((start * size)..<((start + n) * size), with: values.prefix(n * size))
                }
            }
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
