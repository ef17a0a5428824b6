import StrataDiagnostics

/// Stage 2b: fills in every node's output shape with exact integer arithmetic, and reports every
/// layer whose inputs do not fit (a layer downstream of a failure is skipped, not re-reported).
public enum ShapeInference {
    /// Values per image above this are refused as absurd (16 GiB of float32 for one image).
    public static let maximumElements = 1 << 32
    /// Parameters per layer above this are refused as absurd.
    public static let maximumParameters = 1 << 34

    public static func infer(_ graph: Graph) throws(DiagnosticError) -> Graph {
        var g = graph
        var bag = DiagnosticBag()
        if g.input.elementCount.map({ $0 > maximumElements }) ?? true {
            bag.error("the input \(g.input) has more than \(maximumElements) values per image", at: g.inputLocation)
        }
        for i in g.nodes.indices {
            let node = g.nodes[i]
            let inputShapes = node.inputs.compactMap { g.shape(of: $0) }
            guard inputShapes.count == node.inputs.count, !node.inputs.isEmpty else { continue }
            var ctx = ShapeContext(
                layerName: node.name, op: node.op, location: node.location, attributeLocations: node.attributeLocations,
                inputDescriptions: node.inputs.map { $0 == .input ? "the input" : "'\(g.name(of: $0))'" },
                inputLocations: node.inputs.map { v in
                    switch v {
                    case .input: g.inputLocation
                    case .node(let j): g.nodes[j].attributeLocations["name"] ?? g.nodes[j].location
                    }
                })
            let definition = node.layer.definition
            guard let shape = definition.outputShape(inputShapes, &ctx) else {
                bag.append(contentsOf: ctx.diagnostics)
                if ctx.diagnostics.isEmpty {
                    bag.error("shape of layer '\(node.name)' is too large to compute", at: node.location)
                }
                continue
            }
            guard let count = shape.elementCount, count <= maximumElements, shape.dims.allSatisfy({ $0 > 0 }) else {
                bag.error("layer '\(node.name)' would produce \(shape) per image; more than \(maximumElements) values is refused",
                          at: node.location)
                continue
            }
            let parameters = ExactArithmetic.sum(definition.parameters(inputs: inputShapes).map(\.elementCount)) ?? Int.max
            if parameters > maximumParameters {
                bag.error("layer '\(node.name)' would have more than \(maximumParameters) parameters", at: node.location)
                continue
            }
            g.nodes[i].shape = shape
        }
        try bag.throwIfErrors()
        return g
    }
}
