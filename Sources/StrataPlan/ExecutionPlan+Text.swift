import StrataIR

extension ExecutionPlan {
    /// Stable text for `strata compile --stop-after plan`: buffers with sizes and placement, then
    /// one line per step, then the peak memory.
    public func text() -> String {
        var out = "plan \(graph.name) (\(mode), batch \(batch), backend \(traits.name), \(traits.threads) thread\(traits.threads == 1 ? "" : "s"), "
            + "alignment \(traits.alignment))\n"
        out += "buffers:\n"
        for b in buffers {
            let names = b.tensors.map { tensorName($0) }.joined(separator: " = ")
            let dims = (b.batched ? ["\(batch)"] : []) + b.shape.map(String.init)
            let place = b.storage == .arena ? "arena @\(b.offset)" : b.storage.rawValue
            out += "  b\(b.id) \(names) (\(dims.joined(separator: ", "))) \(b.elementType.rawValue) \(Self.size(b.bytes)) \(place)"
            out += b.storage == .arena ? " live \(b.firstStep)...\(b.lastStep)\n" : "\n"
        }
        out += "steps:\n"
        for (k, s) in steps.enumerated() {
            if k == backwardStart && backwardStart < steps.count { out += "  // backward\n" }
            let kernel = s.kernel.rawValue + (s.fusedReLU ? "+relu" : "")
            let name = s.node.map { graph.nodes[$0].name } ?? "-"
            out += "  \(k) \(kernel) \(name): \(s.inputs.map { "b\($0)" }.joined(separator: ", ")) -> \(s.outputs.map { "b\($0)" }.joined(separator: ", "))"
            out += s.constants == .none ? "" : "  {\(s.constants.text)}"
            out += s.scratchElements > 0 ? "  scratch \(Self.size(s.scratchElements * 4))\n" : "\n"
        }
        out += "memory: arena \(Self.size(arenaBytes)) (\(Self.size(buffers.filter { $0.storage == .arena }.reduce(0) { $0 + $1.bytes })) without reuse), "
        out += "parameters \(Self.size(parameterBytes)), gradients \(Self.size(gradientBytes)), "
        out += stateBytes > 0 ? "optimizer state \(Self.size(stateBytes)), " : ""
        out += "inputs \(Self.size(inputBytes)), "
        out += "scratch \(Self.size(workspaceElementsPerThread * 4 * traits.threads)) (\(traits.threads) threads); peak \(Self.size(peakBytes))\n"
        return out
    }

    func tensorName(_ t: TensorID) -> String { t.name(in: graph) }

    /// 1536 → "1.5 KiB".
    public static func size(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
