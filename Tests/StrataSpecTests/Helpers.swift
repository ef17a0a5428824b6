import StrataDiagnostics
@testable import StrataSpec
import Testing

/// Our source locations, not Swift Testing's.
typealias SourceLocation = StrataDiagnostics.SourceLocation

/// A loader over an in-memory file system: `files` maps paths to texts.
func loader(_ files: [String: String]) -> SpecLoader {
    SpecLoader(readFile: { path in
        guard let text = files[path] else { throw FileError(reason: "No such file or directory") }
        return Array(text.utf8)
    })
}

/// Loads `path` from `files`, expecting success.
func load(_ files: [String: String], _ path: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> NetworkSpec {
    do {
        return try loader(files).load(path: path)
    } catch {
        Issue.record("unexpected errors:\n\(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// Loads `path`, expecting errors; returns them as `line:col: message` strings.
func errors(_ files: [String: String], _ path: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [String] {
    do {
        _ = try loader(files).load(path: path)
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.diagnostics.map { "\($0.location.map { "\($0.file):\($0.line):\($0.column)" } ?? "-"): \($0.message)" }
    }
}

let tiny = """
    name: tiny
    input: {channels: 1, height: 8, width: 8}
    layers:
      - {name: c1, op: conv, filters: 4, kernel: 3}
      - {name: r1, op: relu}
      - {name: c2, op: conv, filters: 4, kernel: 3}
      - {name: r2, op: relu}
      - {name: f, op: fc, units: 2}

    """
