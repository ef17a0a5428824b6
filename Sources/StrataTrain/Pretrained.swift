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
    /// same name and shape replaced by the pretrained values, and the names of those. A layer that a
    /// variant changed or added (`set`, `insert`: a replaced head) always starts fresh from
    /// `initial`, even where the shapes match, as the ZF paper trains a new softmax; every other
    /// parameter `pretrained` lacks or has in another shape is an error naming the layer and both
    /// shapes. The source's preprocessing (`data/mean`, `data/pca_*`) comes along: the features were
    /// learned under it, so the new network keeps it. Other tensors (momentum) are ignored.
    public static func merge(_ initial: Safetensors.File, with pretrained: Safetensors.File, source: String,
                             graph: Graph, spec: NetworkSpec) throws -> (weights: Safetensors.File, loaded: [String]) {
        let changed = Set(spec.layers.filter(\.changedByVariant).map(\.name.value))
        func dims(_ d: [Int]) -> String { "(" + d.map(String.init).joined(separator: ", ") + ")" }
        var out = initial, loaded: [String] = [], problems: [String] = []
        for p in graph.namedParameters() {
            let layer = graph.nodes[p.node].name
            if changed.contains(layer) { continue }   // replaced: freshly initialised
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
        var inherited = false
        for name in preprocessingTensors {
            guard let t = pretrained.tensors[name] else { continue }
            out.tensors[name] = t
            if !out.order.contains(name) { out.order.append(name) }
            inherited = true
        }
        out.metadata[recordKey] = record(graph, loaded: loaded, source: source, preprocessingInherited: inherited)
        return (out, loaded)
    }

    /// The metadata key under which `merge` leaves its record; the trainer writes it to RUN/transfer.json.
    public static let recordKey = "strata.transfer"

    /// The tensors of a checkpoint that say how its images were prepared.
    public static let preprocessingTensors = ["data/mean", "data/pca_values", "data/pca_vectors"]

    /// What `merge` made of each parameter, as JSON for the run's `transfer.json`: loaded from the
    /// source, or freshly initialised; and whose preprocessing the run uses.
    public static func record(_ graph: Graph, loaded: [String], source: String, preprocessingInherited: Bool) -> String {
        let fresh = graph.namedParameters().map(\.name).filter { !loaded.contains($0) }
        let json: JSONValue = ["source": .string(source), "loaded": .strings(loaded), "initialised": .strings(fresh),
                               "preprocessing": preprocessingInherited ? "the source's mean image (data/mean)" : "computed from the training images"]
        return json.text(.pretty) + "\n"
    }
}
