import Foundation
import StrataFormats
import StrataIR
import StrataSpec

/// A network's initial weights, as safetensors tensors named `LAYER.weight` and `LAYER.bias` in
/// PyTorch's layouts (what `strata init` writes and every training run starts from).
public enum Initialization {
    /// The spec's initialisation (`training.init`): weights ~ N(0, std²), biases constant, with
    /// per-layer overrides; without a training section, std 0.01 and bias 0. Each tensor draws from
    /// its own stream (seed and name), so adding a layer does not change the others.
    public static func weights(graph: Graph, spec: NetworkSpec, seed: UInt64) -> Safetensors.File {
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
                var generator = SplitMix64(seed: seed ^ FNV1a.hash(name))
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
}
