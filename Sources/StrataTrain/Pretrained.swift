import Foundation
import StrataFormats
import StrataIR
import StrataSpec

/// Pretrained weights for transfer: `training.weights` in a spec, or `train --init-from`.
public enum Pretrained {
    public struct Mismatch: Error, CustomStringConvertible {
        public var problems: [String]
        public var description: String { problems.joined(separator: "\n") }
    }

    /// The path `spec` names in `training.weights`, relative to the spec's folder; nil without one.
    public static func path(in spec: NetworkSpec) -> String? {
        guard let w = spec.training?.weights else { return nil }
        if w.value.hasPrefix("/") { return w.value }
        let folder = (w.location.file as NSString).deletingLastPathComponent
        return folder.isEmpty ? w.value : folder + "/" + w.value
    }

    /// `initial` (the spec's own initialisation) with every parameter that `pretrained` has under the
    /// same name and shape replaced by the pretrained values, and the names of those. A parameter
    /// `pretrained` lacks or has in another shape is an error naming the layer and both shapes,
    /// unless a variant changed or added its layer (`set`, `insert`): that layer starts fresh.
    /// Tensors of `pretrained` the network does not have (a removed head, momentum, data statistics)
    /// are ignored.
    public static func merge(_ initial: Safetensors.File, with pretrained: Safetensors.File, source: String,
                             graph: Graph, spec: NetworkSpec) throws -> (weights: Safetensors.File, loaded: [String]) {
        let changed = Set(spec.layers.filter(\.changedByVariant).map(\.name.value))
        func dims(_ d: [Int]) -> String { "(" + d.map(String.init).joined(separator: ", ") + ")" }
        var out = initial, loaded: [String] = [], problems: [String] = []
        for p in graph.namedParameters() {
            let layer = graph.nodes[p.node].name
            guard let t = pretrained.tensors[p.name] else {
                if !changed.contains(layer) { problems.append("\(source) has no '\(p.name)' (layer '\(layer)' needs \(dims(p.dims)))") }
                continue
            }
            guard t.shape == p.dims else {
                if !changed.contains(layer) {
                    problems.append("'\(p.name)' is \(dims(t.shape)) in \(source) but layer '\(layer)' needs \(dims(p.dims)); "
                                    + "change the layer in a variant (set: {\(layer): ...}) to train it from scratch")
                }
                continue
            }
            out.tensors[p.name] = Safetensors.Tensor(shape: p.dims, values: t.values)
            loaded.append(p.name)
        }
        guard problems.isEmpty else { throw Mismatch(problems: ["the pretrained weights do not fit '\(graph.name)':"] + problems.map { "  " + $0 }) }
        return (out, loaded)
    }
}
