import Foundation
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
import StrataTrain

/// An error a command reports without a spec location (a file that cannot be used, an argument
/// that does not fit the spec): `error: message` and exit 1.
struct CommandError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Shared steps of the commands that run a network.
enum CommandSupport {
    /// Compiles a spec to a shaped graph, printing located diagnostics on failure.
    static func graph(_ path: String, errors: inout some TextOutputStream) -> (Graph, NetworkSpec)? {
        let compiler = Compiler()
        let spec: NetworkSpec
        do {
            spec = try compiler.spec(path: path)
        } catch {
            warn(compiler.loader, errors: &errors)
            _ = emit(error, sources: compiler.sources, errors: &errors)
            return nil
        }
        warn(compiler.loader, errors: &errors)
        do {
            return (try ShapeInference.infer(GraphBuilder.build(spec)), spec)
        } catch {
            _ = emit(error, sources: compiler.sources, errors: &errors)
            return nil
        }
    }

    /// Prints what loading changed in files written for an older version of the spec language
    /// (`SpecLoader.warnings`), each with its source line.
    static func warn(_ loader: SpecLoader, errors: inout some TextOutputStream) {
        if !loader.warnings.isEmpty { errors.write(DiagnosticRenderer(sources: loader.sources).render(loader.warnings)) }
    }

    /// Runs `body`, turning `CommandError`, `FormatError` and `DiagnosticError` into messages and exit 1.
    static func run(errors: inout some TextOutputStream, _ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch let error as CommandError {
            errors.write("error: \(error.message)\n")
        } catch let error as FormatError {
            errors.write("error: \(error)\n")
        } catch let error as DiagnosticError {
            errors.write(DiagnosticRenderer().render(error.diagnostics))
        } catch {
            errors.write("error: \(error)\n")
        }
        return 1
    }

    /// Parses `a,b,c` into node indices, with "did you mean" for unknown names.
    static func layers(_ list: String, in graph: Graph) throws -> [Int] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw CommandError("--layers needs at least one layer name") }
        if let twice = names.enumerated().first(where: { names[..<$0.offset].contains($0.element) })?.element {
            throw CommandError("--layers names '\(twice)' twice; name each layer once")
        }
        return try names.map { name in
            guard let i = graph.nodes.firstIndex(where: { $0.name == name }) else {
                let hint = Spelling.suggestion(for: name, among: graph.nodes.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
                throw CommandError("'\(graph.name)' has no layer '\(name)'\(hint) (its layers: \(graph.nodes.map(\.name).joined(separator: ", ")))")
            }
            return i
        }
    }

    /// The most images per run any command takes (as `check` allows): sizes stay far from overflow,
    /// and the backend's memory check gives the real limit.
    static let maximumBatch = 1 << 20

    /// Reads an N×C×H×W float32 batch that must fit the spec's input (a single C×H×W image is N = 1).
    static func inputBatch(_ path: String, graph: Graph) throws -> NumpyArray.Array32 {
        var array = try NumpyArray.readFloats(path: path)
        let expected = graph.input.dims
        if array.shape == expected { array.shape = [1] + expected }
        guard array.shape.count == 4, Array(array.shape.dropFirst()) == expected, array.shape[0] >= 1 else {
            throw CommandError("\(path): the array is (\(array.shape.map(String.init).joined(separator: ", "))) but '\(graph.name)' takes "
                               + "(N, \(expected.map(String.init).joined(separator: ", "))) float32 images")
        }
        if let bad = array.firstNonFinite() {
            throw CommandError("\(path): image \(bad.image) holds \(bad.value) at position \(bad.offset); inputs must be finite numbers")
        }
        return array
    }
}
