import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
import StrataTrain

/// Network weights as safetensors tensors named `LAYER.weight` and `LAYER.bias` in PyTorch's
/// layouts, loaded into an executor with shape checks (`Initialization.weights` makes them).
enum Weights {
    /// Copies every parameter from `file` into the executor; names the layer, both shapes and the
    /// remedy when a tensor is missing or does not fit.
    static func load(_ file: Safetensors.File, path: String, into executor: any Executor) throws {
        do {
            try executor.loadParameters(file.parameterTensors)
        } catch let mismatch as ParameterMismatch {
            throw CommandError(mismatch.message(file: path))
        }
    }

    /// Checks that `file` has every parameter of `graph` in its shape and finite values, before any plan is made.
    static func check(_ file: Safetensors.File, path: String, graph: Graph) throws {
        do { try Ensemble.checkWeights(file, path: path, graph: graph) } catch { throw CommandError(error.description) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
