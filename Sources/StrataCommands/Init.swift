import ArgumentParser
import StrataFormats
import StrataIR
import StrataTrain

/// `strata init SPEC --out W.safetensors`: initial weights from the spec's `training.init`.
struct Init: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Write initial weights for a spec (its training.init: Gaussian weights, constant biases, per-layer overrides).",
        discussion: "The file is safetensors with PyTorch's layouts and names LAYER.weight and LAYER.bias.")

    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(help: "Where to write the weights (.safetensors).")
    var out: String

    @Option(help: "Seed of the random draws.")
    var seed: UInt64 = 0

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(self.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            let file = Initialization.weights(graph: graph, spec: spec, seed: seed)
            try Safetensors.write(file, path: out)
            let count = file.tensors.values.reduce(0) { $0 + $1.values.count }
            output.write("wrote \(out): \(file.order.count) tensors, \(count) parameters\n")
            return 0
        }
    }
}
