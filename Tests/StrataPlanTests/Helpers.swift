import StrataDiagnostics
import StrataIR
import StrataSpec

/// Compiles one layer list under a fixed header, from memory.
func compileLayers(_ layers: String, input: String = "{channels: 3, height: 32, width: 32}") throws(DiagnosticError) -> Graph {
    let text = "name: t\ninput: \(input)\nlayers:\n" + layers
    let loader = SpecLoader(readFile: { p in
        guard p == "t.yaml" else { throw FileError(reason: "No such file or directory") }
        return Array(text.utf8)
    })
    return try Compiler(loader: loader).shapedGraph(path: "t.yaml")
}
