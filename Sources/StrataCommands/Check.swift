import ArgumentParser
import StrataDiagnostics
import StrataFormats
import StrataIR

/// `strata check SPEC`: parse, resolve and shape-check a spec, then print one row per layer.
struct Check: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a spec and print its layers: output shapes, neurons, parameters and multiply-adds.",
        discussion: "Exits 1 and prints located errors when the spec is wrong.")

    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Option(help: "Batch size for the activation-memory figure.")
    var batch = 1

    func validate() throws {
        guard batch >= 1, batch <= 1 << 20 else { throw ValidationError("--batch must be between 1 and \(1 << 20)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) throws -> Int32 {
        let compiler = Compiler()
        let graph: Graph
        do {
            graph = try compiler.shapedGraph(path: spec)
        } catch {
            CommandSupport.warn(compiler.loader, errors: &errors)
            return emit(error, sources: compiler.sources, errors: &errors)
        }
        CommandSupport.warn(compiler.loader, errors: &errors)
        let summary = NetworkSummary(graph)
        output.write(json ? SummaryFormat.json(summary, batch: batch) : SummaryFormat.table(summary, file: spec, batch: batch))
        return 0
    }
}

/// The two forms of `strata check`'s report.
enum SummaryFormat {
    static func table(_ s: NetworkSummary, file: String, batch: Int) -> String {
        let header = ["layer", "op", "output", "neurons", "parameters", "multiply-adds"]
        var rows = s.rows.map { r in
            [r.name, r.op, r.output.compactDescription, grouped(r.neurons), grouped(r.parameters), grouped(r.multiplyAdds)]
        }
        rows.append(["total", "", "", grouped(s.totalNeurons), grouped(s.totalParameters), grouped(s.totalMultiplyAdds)])
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let padding = String(repeating: " ", count: widths[i] - cell.count)
                return i < 3 ? cell + padding : padding + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        var out = "\(s.name) (\(file)): input \(s.input.compactDescription)\n\n"
        out += line(header)
        for row in rows.dropLast() { out += line(row) }
        out += line(widths.map { String(repeating: "-", count: $0) })
        out += line(rows.last!)
        let bytes = s.activationBytes(batch: batch)
        out += "\nactivations: \(grouped(s.totalNeurons + (s.input.elementCount ?? 0))) values per image (input included); "
        out += "\(mebibytes(bytes)) for batch \(batch) (float32, every output kept)\n"
        return out
    }

    static func json(_ s: NetworkSummary, batch: Int) -> String {
        let layers: [JSONValue] = s.rows.map { r in
            ["name": .string(r.name), "op": .string(r.op), "output": .ints(r.output.dims), "neurons": .int(r.neurons), "params": .int(r.parameters),
             "macs": .int(r.multiplyAdds)]
        }
        let json: JSONValue = ["name": .string(s.name), "input": .ints(s.input.dims), "layers": .array(layers), "params": .int(s.totalParameters),
                               "macs": .int(s.totalMultiplyAdds), "batch": .int(batch), "activation_bytes": .int(s.activationBytes(batch: batch))]
        return json.text() + "\n"
    }

    /// 60965224 → "60,965,224".
    static func grouped(_ n: Int) -> String { AttributeText.grouped(n) }

    static func mebibytes(_ bytes: Int) -> String {
        let mib = Double(bytes) / 1_048_576
        let rounded = (mib * 10).rounded() / 10
        return rounded >= 1024 ? "\((rounded / 1024 * 100).rounded() / 100) GiB" : "\(rounded) MiB"
    }
}

