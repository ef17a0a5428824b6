/// Turns diagnostics into the text a terminal shows: the located first line, the source line with
/// a caret under the column, then each note the same way.
///
///     networks/zfnet.yaml:14:7: error: unknown op 'covn'
///       op: covn
///           ^
///     networks/zfnet.yaml:14:7: note: did you mean 'conv'?
public struct DiagnosticRenderer: Sendable {
    /// The text of every file a diagnostic may point into, by the path used in its locations.
    public var sources: [String: String]

    public init(sources: [String: String] = [:]) {
        self.sources = sources
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined()
    }

    public func render(_ diagnostic: Diagnostic) -> String {
        render(diagnostic, parent: nil)
    }

    /// A note at its parent's place repeats no source line.
    private func render(_ diagnostic: Diagnostic, parent: SourceLocation?) -> String {
        var out = diagnostic.description + "\n"
        if let location = diagnostic.location, location != parent, let line = sourceLine(location) {
            out += line
        }
        for note in diagnostic.notes {
            out += render(note, parent: diagnostic.location)
        }
        return out
    }

    /// The source line at `location` and a caret line, or nil when the text is unknown.
    func sourceLine(_ location: SourceLocation) -> String? {
        // Past the width we show, a caret would point at nothing: the located first line says enough.
        guard let text = sources[location.file], location.line >= 1, location.column <= 240 else { return nil }
        var current = 1
        var start = text.unicodeScalars.startIndex
        let scalars = text.unicodeScalars
        if location.line > 1 {
            var i = scalars.startIndex
            while i < scalars.endIndex {
                if scalars[i] == "\n" {
                    current += 1
                    if current == location.line { start = scalars.index(after: i); break }
                }
                i = scalars.index(after: i)
            }
            guard current == location.line else { return nil }
        }
        var end = start
        while end < scalars.endIndex, scalars[end] != "\n", scalars[end] != "\r" { end = scalars.index(after: end) }
        // Keep terminal output printable: show control characters as '?' and cap the width.
        var line = String.UnicodeScalarView()
        var caret = ""
        var column = 1
        var i = start
        while i < end, column <= 240 {
            let s = scalars[i]
            let printable = s == "\t" || (s.value >= 0x20 && s.value != 0x7F && !(0x80...0x9F).contains(s.value))
            line.append(printable ? s : "?")
            if column < location.column { caret.append(s == "\t" ? "\t" : " ") }
            column += 1
            i = scalars.index(after: i)
        }
        if location.column > column { caret += String(repeating: " ", count: location.column - column) }
        return "  " + String(line) + "\n  " + caret + "^\n"
    }
}
