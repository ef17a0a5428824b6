import StrataDiagnostics
import StrataIR
import StrataSpec
import Testing

typealias SourceLocation = StrataDiagnostics.SourceLocation

/// The package root, found from this file's path (Tests/StrataIRTests/Helpers.swift).
let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// An in-memory spec set: compiles `files[path]` through every front-end stage.
func compile(_ files: [String: String], _ path: String) throws(DiagnosticError) -> Graph {
    let loader = SpecLoader(readFile: { p in
        guard let text = files[p] else { throw FileError(reason: "No such file or directory") }
        return Array(text.utf8)
    })
    return try Compiler(loader: loader).shapedGraph(path: path)
}

/// Compiles one layer list under a fixed header (input 3×32×32; the first layer is on line 4).
func compileLayers(_ layers: String, input: String = "{channels: 3, height: 32, width: 32}") throws(DiagnosticError) -> Graph {
    try compile(["t.yaml": "name: t\ninput: \(input)\nlayers:\n" + layers], "t.yaml")
}

/// Compiles the shipped spec at `relativePath` (from the package root).
func compileShipped(_ relativePath: String) throws -> Graph {
    let compiler = Compiler()
    do {
        return try compiler.shapedGraph(path: packageRoot + "/" + relativePath)
    } catch {
        let diagnostics = error.diagnostics
        Issue.record(Comment(rawValue: relativePath + ":\n" + DiagnosticRenderer(sources: compiler.sources).render(diagnostics)))
        throw error
    }
}

/// Output shapes by layer name.
func shapes(_ g: Graph) -> [String: [Int]] {
    Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.name, $0.shape?.dims ?? []) })
}

/// Every `.yaml` under `networks/`, relative to the package root.
func shippedSpecs() -> [String] {
    var result: [String] = []
    for directory in ["networks", "networks/variants"] {
        guard let d = opendir(packageRoot + "/" + directory) else { continue }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".yaml") { result.append(directory + "/" + name) }
        }
    }
    return result.sorted()
}

#if canImport(Glibc)
import Glibc
#endif
