import ArgumentParser
import StrataFormats
import StrataIR
import StrataPlan
import StrataAnalysis

/// `strata grad SPEC --weights W --input X.npy --labels Y.npy --out G.safetensors`: the gradient of
/// the mean cross-entropy loss over the batch (dropout off) for every parameter.
struct Grad: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the gradient of the mean cross-entropy loss (dropout off) for every parameter.",
        discussion: "The spec must end in softmax (the loss is its cross-entropy). The gradients have the weights' names and layouts (safetensors); the loss goes to stdout.")

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights (.safetensors).")
    var weights: String

    @Option(help: "Input images (.npy, N×C×H×W float32).")
    var input: String

    @Option(help: "Class labels (.npy, N integers).")
    var labels: String

    @Option(help: "Where to write the gradients (.safetensors).")
    var out: String


    @Option(help: "Images per run (bounds memory; the result changes only by float32 rounding).")
    var batch = 64

    func validate() throws {
        guard batch >= 1, batch <= CommandSupport.maximumBatch else { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, _) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            let backend = try network.backend
            let derived = try DerivedGraph.derive(graph, training: true, dropout: false)
            let weightsFile = try Safetensors.read(path: weights)
            try Weights.check(weightsFile, path: weights, graph: graph)
            let images = try CommandSupport.inputBatch(input, graph: graph)
            let count = images.shape[0]
            let (labelShape, labelValues) = try NumpyArray.readLabels(path: labels)
            guard labelValues.count == count, labelShape.count == 1 || (labelShape.count == 2 && labelShape[1] == 1) else {
                throw CommandError("\(labels): \(labelValues.count) labels of shape (\(labelShape.map(String.init).joined(separator: ", "))) for \(count) images; give one integer per image")
            }
            let classes = graph.nodes.last!.shape!.elementCount!
            if let bad = labelValues.firstIndex(where: { $0 < 0 || $0 >= Int64(classes) }) {
                throw CommandError("\(labels): label \(labelValues[bad]) (image \(bad)) is outside 0..<\(classes), the classes of '\(graph.name)'")
            }
            var sums: [String: [Double]] = [:]
            let names = graph.namedParameters()
            var loss = 0.0
            let runner = BatchRunner(graph: graph, derived: derived, backend: backend, batch: batch, keep: [], weights: weightsFile.parameterTensors)
            runner.weightsName = weights
            try images.values.withUnsafeBufferPointer { pixels in
                try runner.forEachChunk(pixels, count: count, labels: labelValues.map { Int32($0) }) { executor, start, n in
                    // Each chunk gives the mean over its n images; weight it by n / count.
                    let weight = Double(n) / Double(count)
                    loss += Double(try executor.read(.loss)[0]) * weight
                    for p in names {
                        let g = try executor.readDoubles(.parameterGradient(p.node, p.parameter))
                        if sums[p.name] == nil { sums[p.name] = [Double](repeating: 0, count: g.count) }
                        for j in g.indices { sums[p.name]![j] += g[j] * weight }
                    }
                }
            }
            let file = Safetensors.File(
                tensors: names.map { ($0.name, Safetensors.Tensor(shape: $0.dims, values: sums[$0.name]!.map(Float.init))) },
                metadata: ["network": graph.name, "loss": "\(loss)", "images": "\(count)", "format": "strata-gradients"])
            try Safetensors.write(file, path: out)
            output.write("loss \(loss) over \(count) images; wrote \(out): \(names.count) gradients\n")
            return 0
        }
    }
}
