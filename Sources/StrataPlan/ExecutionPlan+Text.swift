import StrataIR

extension ExecutionPlan {
    /// Stable text for `strata compile --stop-after plan`: buffers with sizes and placement, then
    /// one line per step, then the peak memory.
    public func text(threads: Int = 2) -> String {
        var out = "plan \(graph.name) (\(training ? "training" : "inference"), batch \(batch))\n"
        out += "buffers:\n"
        for b in buffers {
            let names = b.tensors.map { tensorName($0) }.joined(separator: " = ")
            let dims = (isBatched(b) ? ["\(batch)"] : []) + b.shape.map(String.init)
            let place = b.storage == .arena ? "arena @\(b.offset)" : b.storage.rawValue
            out += "  b\(b.id) \(names) (\(dims.joined(separator: ", "))) \(b.elementType.rawValue) \(Self.size(b.bytes)) \(place)"
            out += b.storage == .arena ? " live \(b.firstStep)...\(b.lastStep)\n" : "\n"
        }
        out += "steps:\n"
        for (k, s) in steps.enumerated() {
            if k == backwardStart && training { out += "  // backward\n" }
            let kernel = s.kernel.rawValue + (s.fusedReLU ? "+relu" : "")
            let name = s.node.map { graph.nodes[$0].name } ?? "-"
            out += "  \(k) \(kernel) \(name): \(s.inputs.map { "b\($0)" }.joined(separator: ", ")) -> \(s.outputs.map { "b\($0)" }.joined(separator: ", "))\n"
        }
        out += "memory: arena \(Self.size(arenaBytes)) (\(Self.size(buffers.filter { $0.storage == .arena }.reduce(0) { $0 + $1.bytes })) without reuse), "
        out += "parameters \(Self.size(parameterBytes)), gradients \(Self.size(gradientBytes)), inputs \(Self.size(inputBytes)), "
        out += "scratch \(Self.size(workspaceElementsPerThread * 4 * threads)) (\(threads) threads); peak \(Self.size(peakBytes(threads: threads)))\n"
        return out
    }

    func isBatched(_ b: Buffer) -> Bool { b.storage == .arena || b.storage == .input }

    func tensorName(_ t: TensorID) -> String {
        switch t {
        case .input: "input"
        case .labels: "labels"
        case .loss: "loss"
        case .value(let i): graph.nodes[i].name
        case .gradient(let i): "d." + graph.nodes[i].name
        case .partialGradient(let i, let j): "d." + graph.nodes[i].name + "@" + graph.nodes[j].name
        case .parameter(let i, let p): graph.nodes[i].name + "." + p
        case .parameterGradient(let i, let p): "d." + graph.nodes[i].name + "." + p
        case .saved(let i, let s): graph.nodes[i].name + "." + s
        }
    }

    /// 1536 → "1.5 KiB".
    public static func size(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
