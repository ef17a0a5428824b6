/// Stable, diffable text forms of the IR, for `strata compile --stop-after ir|shapes` and `--emit dot`.
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

    /// A Graphviz graph: one box per layer with its op, attributes and shape.
    public static func dot(_ graph: Graph) -> String {
        // Names are escaped; `\n` between the parts is DOT's line break inside a label.
        func escape(_ s: String) -> String { s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        func label(_ parts: [String]) -> String { "\"" + parts.map(escape).joined(separator: "\\n") + "\"" }
        var out = "digraph \"\(escape(graph.name))\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n"
        out += "  \"input\" [label=\(label(["input", graph.input.compactDescription])), shape=oval];\n"
        for node in graph.nodes {
            var op = node.op
            let definition = node.layer.definition
            let attributes = definition.attributeList.filter { definition.diagramAttributes?.contains($0.0) ?? true }
            if !attributes.isEmpty { op += " " + attributes.map { "\($0.0)=\($0.1)" }.joined(separator: " ") }
            var parts = [node.name, op]
            if let shape = node.shape { parts.append(shape.compactDescription) }
            out += "  \"\(escape(node.name))\" [label=\(label(parts))];\n"
        }
        for node in graph.nodes {
            for input in node.inputs {
                out += "  \"\(escape(graph.name(of: input)))\" -> \"\(escape(node.name))\";\n"
            }
        }
        return out + "}\n"
    }
}
