import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
import StrataTrain

/// Network weights as safetensors tensors named `LAYER.weight` and `LAYER.bias` in PyTorch's
/// layouts: initialised from the spec, loaded into an executor with shape checks.
enum Weights {
    /// The spec's initialisation (`training.init`): weights ~ N(0, std²), biases constant, with
    /// per-layer overrides; without a training section, std 0.01 and bias 0. Each tensor draws from
    /// its own stream (seed and name), so adding a layer does not change the others.
    static func initialize(graph: Graph, spec: NetworkSpec, seed: UInt64) -> Safetensors.File {
        let settings = spec.training?.initialization ?? TrainingSpec.Initialization()
        var tensors: [(String, Safetensors.Tensor)] = []
        for p in graph.namedParameters() {
            let override = settings.layers[graph.nodes[p.node].name]
            let name = p.name
            let count = p.elementCount
            var values = [Float](repeating: 0, count: count)
            if p.parameter == "bias" {
                values = [Float](repeating: Float(override?.bias ?? settings.bias), count: count)
            } else {
                var generator = SplitMix64(seed: seed ^ fnv1a(name))
                let std = override?.std ?? settings.std
                var i = 0
                while i < count {
                    // Box–Muller: two independent normals from two uniforms in (0, 1].
                    let u1 = Double((generator.next() >> 11) + 1) * 0x1.0p-53
                    let u2 = Double(generator.next() >> 11) * 0x1.0p-53
                    let r = (-2 * log(u1)).squareRoot() * std
                    values[i] = Float(r * cos(2 * Double.pi * u2))
                    if i + 1 < count { values[i + 1] = Float(r * sin(2 * Double.pi * u2)) }
                    i += 2
                }
            }
            tensors.append((name, Safetensors.Tensor(shape: p.dims, values: values)))
        }
        return Safetensors.File(tensors: tensors, metadata: ["network": graph.name, "seed": "\(seed)", "format": "strata-weights"])
    }

    /// Copies every parameter from `file` into the executor; names the layer, both shapes and the
    /// remedy when a tensor is missing or does not fit.
    static func load(_ file: Safetensors.File, path: String, into executor: any Executor) throws {
        do {
            try executor.loadParameters(file.parameterTensors)
        } catch let mismatch as ParameterMismatch {
            throw CommandError(mismatch.message(file: path))
        }
    }

    /// Checks that `file` has every parameter of `graph` in its shape, before any plan is made.
    static func check(_ file: Safetensors.File, path: String, graph: Graph) throws {
        do {
            try ParameterMismatch.check(file.parameterTensors, against: graph.namedParameters(), network: graph.name)
        } catch let mismatch as ParameterMismatch {
            throw CommandError(mismatch.message(file: path))
        }
        // Weights that are not finite numbers give NaN or infinite outputs, never a result to report.
        for p in graph.namedParameters() {
            guard let t = file.tensors[p.name], let k = t.values.firstIndex(where: { !$0.isFinite }) else { continue }
            throw CommandError("\(path): '\(p.name)' holds \(t.values[k]) at position \(k); weights must be finite numbers (a run that diverged?)")
        }
    }

    static func fnv1a(_ s: String) -> UInt64 { FNV1a.hash(s) }
}

#if canImport(Glibc)
import Glibc
#endif
