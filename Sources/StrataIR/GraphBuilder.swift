import StrataDiagnostics
import StrataSpec

/// Stage 2a: a resolved spec → graph IR. Gives each layer its type (attributes read and checked by
/// the layer's definition) and resolves every `from:` reference. Reports all errors at once.
public enum GraphBuilder {
    public static func build(_ spec: NetworkSpec) throws(DiagnosticError) -> Graph {
        var bag = DiagnosticBag()
        var nodes: [Node] = []
        // Layers seen so far, by name (a layer can only read layers above it).
        var earlier: [String: Int] = [:]
        let laterNames = Dictionary(spec.layers.enumerated().map { ($1.name.value, $0) }, uniquingKeysWith: { a, _ in a })

        for (index, layer) in spec.layers.enumerated() {
            defer { earlier[layer.name.value] = index }
            let built = buildLayer(layer, spec: spec, bag: &bag)
            let inputs = resolveInputs(layer, index: index, spec: spec, earlier: earlier, later: laterNames, bag: &bag)
            guard let built, let inputs else {
                // Keep indices aligned with the spec so later references resolve; the node is never used.
                nodes.append(Node(name: layer.name.value, layer: .relu(ReLU()), inputs: [], location: layer.location))
                continue
            }
            var locations: [String: SourceLocation] = ["op": layer.op.location, "name": layer.name.location]
            for entry in layer.attributes { locations[entry.key] = entry.value.location }
            if let from = layer.from?.first { locations["from"] = from.location }
            nodes.append(Node(name: layer.name.value, layer: built, inputs: inputs, location: layer.location, attributeLocations: locations))
        }
        try bag.throwIfErrors()
        return Graph(name: spec.name.value, file: spec.file,
                     input: .chw(spec.input.channels.value, spec.input.height.value, spec.input.width.value),
                     inputLocation: spec.input.location, nodes: nodes)
    }

    private static func buildLayer(_ layer: LayerSpec, spec: NetworkSpec, bag: inout DiagnosticBag) -> Layer? {
        guard let definition = Layer.definition(named: layer.op.value) else {
            bag.error("unknown op '\(layer.op.value)' in layer '\(layer.name.value)'", at: layer.op.location,
                      notes: Spelling.note(for: layer.op.value, among: Layer.opNames, at: layer.op.location)
                        + [.note("ops are \(Layer.opNames.map { "'\($0)'" }.joined(separator: ", "))")])
            return nil
        }
        var reader = AttributeReader(layer.attributes, at: layer.location,
                                     owner: "\(definition.op) layer '\(layer.name.value)'", ignoring: LayerSpec.commonKeys)
        let built = definition.init(attributes: &reader)
        reader.finish()
        bag.append(contentsOf: reader.bag.diagnostics)
        return reader.bag.hasErrors ? nil : built?.layer
    }

    private static func resolveInputs(_ layer: LayerSpec, index: Int, spec: NetworkSpec, earlier: [String: Int],
                                      later: [String: Int], bag: inout DiagnosticBag) -> [ValueID]? {
        let many = Layer.definition(named: layer.op.value)?.takesManyInputs ?? false
        guard let from = layer.from else {
            if many {
                bag.error("\(layer.op.value) layer '\(layer.name.value)' needs 'from' with the layers it joins, e.g. 'from: [a, b]'",
                          at: layer.location)
                return nil
            }
            return [index == 0 ? .input : .node(index - 1)]
        }
        if many && (!layer.fromIsList || from.count < 2) {
            bag.error("\(layer.op.value) layer '\(layer.name.value)' joins several layers; 'from' must list at least two, e.g. 'from: [a, b]'",
                      at: from[0].location)
            return nil
        }
        if !many && from.count != 1 {
            bag.error("\(layer.op.value) layer '\(layer.name.value)' reads one layer, but 'from' lists \(from.count)",
                      at: from[0].location)
            return nil
        }
        var values: [ValueID] = []
        var ok = true
        for reference in from {
            if reference.value == inputReferenceName {
                values.append(.input)
            } else if let j = earlier[reference.value] {
                values.append(.node(j))
            } else if let j = later[reference.value] {
                let message = j == index
                    ? "layer '\(layer.name.value)' cannot read itself"
                    : "layer '\(layer.name.value)' reads '\(reference.value)', which is declared below it; a layer can only read layers above it"
                bag.error(message, at: reference.location,
                          notes: j == index ? [] : [.note("'\(reference.value)' declared here", at: spec.layers[j].name.location)])
                ok = false
            } else {
                bag.error("layer '\(layer.name.value)' reads '\(reference.value)', but no layer has that name", at: reference.location,
                          notes: Spelling.note(for: reference.value, among: Array(earlier.keys).sorted() + [inputReferenceName], at: reference.location))
                ok = false
            }
        }
        return ok ? values : nil
    }
}
