/// The network as a Graphviz graph (DOT): what `strata draw` renders and `strata compile --emit dot`
/// prints.
///
/// One box per layer: its name, its op with the attributes it shows (`diagramAttributes`), and once
/// shapes are inferred its output shape and parameter count. A layer with channel groups (AlexNet's
/// `groups: 2` convolutions, `channelGroups`) is a cluster of its own lines beside one box per group,
/// each filled with its group's colour, and its edges join each group to the maps it reads and writes
/// (`maps 1–48`), so the two towers show. Edges follow `from:`: branches and concatenations are
/// drawn as the graph has them.
///
///     "pool1" -> "conv2/group1" [label="maps 1–48"];
extension GraphPrinter {
    public static func dot(_ graph: Graph) -> String {
        var out = "digraph \(quote(graph.name)) {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n"
        out += "  edge [fontname=\"Helvetica\", fontsize=10];\n"
        out += "  \"input\" [label=\(label(["input", graph.input.compactDescription])), shape=oval];\n"
        for (index, node) in graph.nodes.enumerated() {
            out += box(graph, index, node)
        }
        for (index, node) in graph.nodes.enumerated() {
            for value in node.inputs {
                out += edges(from: parts(graph, value), to: parts(graph, .node(index)))
            }
        }
        return out + "}\n"
    }

    /// What a diagram draws of one value: the whole layer, or one of its channel groups.
    struct Part {
        var id: String
        /// The group's index, nil for a whole layer (or the input).
        var group: Int?
        /// The channels it writes, and (for a group) reads; nil without shapes.
        var outputs: Range<Int>?
        var inputs: Range<Int>?
    }

    static func parts(_ graph: Graph, _ value: ValueID) -> [Part] {
        guard case .node(let index) = value else {
            return [Part(id: "input", outputs: 0..<graph.input.dims[0])]
        }
        let node = graph.nodes[index]
        let groups = node.layer.definition.channelGroups
        let outputs = node.shape.map { $0.dims[0] }
        guard drawsGroups(groups) else { return [Part(id: node.name, outputs: outputs.map { 0..<$0 })] }
        let inputs = node.inputs.first.flatMap { graph.shape(of: $0) }.map { $0.dims[0] }
        func share(_ n: Int, _ g: Int) -> Range<Int> { n / groups * g ..< n / groups * (g + 1) }
        return (0..<groups).map { g in
            Part(id: "\(node.name)/group\(g + 1)", group: g, outputs: outputs.map { share($0, g) }, inputs: inputs.map { share($0, g) })
        }
    }

    /// One node, or for a grouped layer a cluster of one node per group.
    static func box(_ graph: Graph, _ index: Int, _ node: Node) -> String {
        let definition = node.layer.definition
        let attributes = definition.attributeList.filter { definition.diagramAttributes?.contains($0.0) ?? true }
        let op = ([node.op] + attributes.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
        let parameters = node.shape == nil ? nil : definition.parameters(inputs: node.inputs.compactMap { graph.shape(of: $0) })
            .reduce(0) { $0 + $1.elementCount }
        func counted(_ n: Int?) -> [String] { n.map { $0 > 0 ? ["\(AttributeText.grouped($0)) parameters"] : [] } ?? [] }
        let whole = [node.name, op] + (node.shape.map { [$0.compactDescription] } ?? []) + counted(parameters)
        let groups = definition.channelGroups
        guard drawsGroups(groups) else { return "  \(quote(node.name)) [label=\(label(whole))];\n" }
        // The layer's own lines go in a frameless box beside its groups (a cluster's label would sit
        // where the edges come in).
        var out = "  subgraph \(quote("cluster_" + node.name)) {\n    style=rounded;\n    color=\"#888888\";\n"
        out += "    \(quote(node.name)) [label=\(label(whole)), shape=plaintext];\n"
        for part in parts(graph, .node(index)) {
            let g = part.group ?? 0
            var lines = ["group \(g + 1) of \(groups)"]
            if let outputs = part.outputs { lines.append("maps " + maps(outputs)) }
            if var shape = node.shape { shape.dims[0] /= groups; lines.append(shape.compactDescription) }
            lines += counted(parameters.map { $0 / groups })
            out += "    \(quote(part.id)) [label=\(label(lines)), style=filled, fillcolor=\"\(palette[g % palette.count])\"];\n"
        }
        let ranked = ([node.name] + parts(graph, .node(index)).map(\.id)).map(quote).joined(separator: "; ")
        return out + "    { rank=same; \(ranked); }\n  }\n"
    }

    /// Edges from every part of a producer to every part of a consumer that reads what it writes; an
    /// edge that touches a group says which maps it carries. Without shapes the groups' maps are
    /// unknown, and every part joins every part.
    static func edges(from producers: [Part], to consumers: [Part]) -> String {
        var out = ""
        for consumer in consumers {
            for producer in producers {
                var carried = producer.group == nil ? nil : producer.outputs
                if let reads = consumer.inputs, let writes = producer.outputs {
                    let lower = max(reads.lowerBound, writes.lowerBound), upper = min(reads.upperBound, writes.upperBound)
                    if lower >= upper { continue }
                    carried = lower..<upper
                }
                out += "  \(quote(producer.id)) -> \(quote(consumer.id))" + (carried.map { " [label=\(quote("maps " + maps($0)))]" } ?? "") + ";\n"
            }
        }
        return out
    }

    /// Whether a layer of `groups` channel groups is drawn a box per group: 2 to 16 (AlexNet's
    /// towers, ResNeXt's cardinality); more (a depthwise convolution's one per channel) would be a
    /// wall of boxes and edges, so such a layer is one box whose `groups=G` says it.
    static func drawsGroups(_ groups: Int) -> Bool { (2...16).contains(groups) }

    /// Fills of the groups' boxes, the same colour for group g in every layer (the towers).
    static let palette = ["#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3", "#f4cccc", "#d9d2e9"]

    /// Channels 0..<48 as people count them: `1–48`.
    static func maps(_ r: Range<Int>) -> String { r.count == 1 ? "\(r.lowerBound + 1)" : "\(r.lowerBound + 1)–\(r.upperBound)" }

    /// A DOT string: quotes and backslashes escaped.
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// Lines of a label; `\n` is DOT's line break inside one.
    static func label(_ lines: [String]) -> String {
        "\"" + lines.map { quote($0).dropFirst().dropLast() }.joined(separator: "\\n") + "\""
    }
}
