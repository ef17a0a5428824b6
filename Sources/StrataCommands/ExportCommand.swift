import ArgumentParser
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataONNX
import StrataTrain

/// `strata export SPEC --weights W --onnx OUT.onnx`: the network and its weights as an ONNX model,
/// its input rule stated in the model's metadata (docs/interop.md).
struct ExportCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained network as an ONNX model (opset 17), its input rule stated in the model's metadata.",
        discussion: """
            The model's input 'input' takes raw pixels in [0, 1] (N×C×h×w float32) and subtracts the \
            mean image itself: a checkpoint's own, or for plain weights what --mean says (FILE or none). \
            Its metadata (strata.input, strata.input.*) states that contract, and its outputs are the \
            last layer's, or the --layers named. Dropout is the identity; fc is Flatten and Gemm; LRN's \
            alpha is written as ONNX defines it (divided by size). A layer with no exact ONNX form is an \
            error at its place in the spec. The file is written atomically. See docs/interop.md.
            """)

    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(help: "Weights or a checkpoint (.safetensors).")
    var weights: String

    @Option(help: ArgumentHelp("Where to write the ONNX model.", valueName: "out.onnx"))
    var onnx: String

    @Option(help: ArgumentHelp("What to subtract from the raw pixels where the weights carry no mean image: FILE (an .npy of C×H×W or C values, "
                               + "or a checkpoint) or none. With a checkpoint, it replaces the stored mean.", valueName: "file|none"))
    var mean: String?

    @Option(help: "Comma-separated layers whose outputs the model gives, in that order (default: the last layer).")
    var layers: String?

    func validate() throws {
        if mean == "train" { throw ValidationError("--mean train needs a data set; export takes --mean FILE or --mean none") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        let compiler = Compiler()
        let graph: Graph
        do { graph = try compiler.shapedGraph(path: spec) } catch { return emit(error, sources: compiler.sources, errors: &errors) }
        var located = ""   // a layer with no ONNX form, rendered with its source line once `run` hands `errors` back
        let status = CommandSupport.run(errors: &errors) {
            let file = try Safetensors.read(path: weights)
            try Weights.check(file, path: weights, graph: graph)
            let choice = mean.map(MeanChoice.init(argument:))
            let input = (graph.input.channels, graph.input.height, graph.input.width)
            let rule = try InputRule.resolve(weights: file, path: weights, mean: choice, input: input)
            let contract = ONNXExport.InputContract(stored: rule.stored, mean: choice == MeanChoice.none ? nil : rule.inputMean,
                                                    meanDescription: rule.description, classes: try Checkpoint.classNames(file, path: weights))
            let outputs = try layers.map { try CommandSupport.layers($0, in: graph) } ?? [graph.nodes.count - 1]
            let model: Onnx_ModelProto
            do throws(DiagnosticError) {
                model = try ONNXExport.model(graph: graph, parameters: file.parameterTensors, contract: contract, outputs: outputs,
                                             producerVersion: StrataCommand.configuration.version)
            } catch {
                located = DiagnosticRenderer(sources: compiler.sources).render(error.diagnostics)
                return 1
            }
            try ONNXExport.write(model, to: onnx)
            let parameters = model.graph.initializer.filter { $0.name != ONNXExport.meanName }.reduce(0) { $0 + $1.dims.reduce(1, *) }
            output.write("wrote \(onnx): ONNX opset \(ONNXExport.opset), \(model.graph.node.count) operators, \(parameters) parameters\n")
            output.write("input '\(ONNXExport.inputName)' \(graph.input.batchedDescription): \(contract.summary(graph))\n")
            output.write("outputs: \(outputs.map { "\(graph.nodes[$0].name) \(graph.nodes[$0].shape!.batchedDescription)" }.joined(separator: ", "))\n")
            return 0
        }
        errors.write(located)
        return status
    }
}
