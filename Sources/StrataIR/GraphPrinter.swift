/// Stable, diffable text forms of the IR, for `strata compile --stop-after ir|shapes`, and (`GraphPrinter+DOT.swift`)
/// the Graphviz picture of `--emit dot` and `strata draw`.
///
///     graph alexnet
///       %input: (N, 3, 227, 227)
///       %conv1 = conv(%input) {filters: 96, kernel: 11, stride: 4, pad: 0, groups: 1, bias: true} : (N, 96, 55, 55)
public enum GraphPrinter {
    public static func text(_ graph: Graph) -> String {
        var out = "graph \(graph.name)\n"
        out += "  %input: \(graph.input.batchedDescription)\n"
        for node in graph.nodes {
            let args = node.inputs.map { "%" + graph.name(of: $0) }.joined(separator: ", ")
            let attributes = node.layer.definition.attributeList
            var line = "  %\(node.name) = \(node.op)(\(args))"
            if !attributes.isEmpty { line += " {" + attributes.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}" }
            if let shape = node.shape { line += " : \(shape.batchedDescription)" }
            out += line + "\n"
        }
        return out
    }
}
