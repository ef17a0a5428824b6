/// Checks the IR's own invariants after a stage: names unique, inputs read only earlier values,
/// input counts fit each op, and (after shape inference) every shape is the one its rule gives.
/// A violation is a bug in Strata, not in the spec; tests run this after every stage.
public enum Verifier {
    public static func verify(_ graph: Graph, shapes: Bool) -> [String] {
        var problems: [String] = []
        var names = Set<String>()
        for (i, node) in graph.nodes.enumerated() {
            if !names.insert(node.name).inserted { problems.append("duplicate node name '\(node.name)'") }
            for input in node.inputs {
                if case .node(let j) = input, j >= i { problems.append("'\(node.name)' reads a later node #\(j)") }
            }
            let many = type(of: node.layer.definition).takesManyInputs
            if many ? node.inputs.count < 2 : node.inputs.count != 1 {
                problems.append("'\(node.name)' (\(node.op)) has \(node.inputs.count) inputs")
            }
            guard shapes else { continue }
            guard let shape = node.shape else {
                problems.append("'\(node.name)' has no shape after shape inference")
                continue
            }
            let inputs = node.inputs.compactMap { graph.shape(of: $0) }
            var ctx = ShapeContext(layerName: node.name, op: node.op, location: node.location, attributeLocations: [:],
                                   inputDescriptions: inputs.map { _ in "input" }, inputLocations: inputs.map { _ in node.location })
            if node.layer.definition.outputShape(inputs, &ctx) != shape {
                problems.append("'\(node.name)' has shape \(shape), which its rule does not give")
            }
        }
        return problems
    }
}
