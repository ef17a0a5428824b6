/// Finds the first YAML alias (`*name`) in a text without parsing it, so that an alias bomb is refused
/// before Yams builds and hashes its expansion.
///
/// A light lexer: it knows where a token may start (line start, after `: `, `- `, `? `, `[`, `{`, `,`),
/// skips quoted scalars, comments and block scalars (`|`, `>`), and reports a `*` that starts a token.
/// It may err only towards reporting an alias inside unusual plain text; the YAML parser does the rest.
enum AliasScanner {
    static func firstAlias(in text: String) -> (line: Int, column: Int)? {
        // Fast path: no '*' at all.
        if !text.utf8.contains(UInt8(ascii: "*")) { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var quote: Character? = nil          // open quoted scalar spanning lines
        var blockIndent: Int? = nil          // inside a block scalar whose parent line had this indent
        for (index, rawLine) in lines.enumerated() {
            let line = Array(rawLine)
            let indent = line.prefix { $0 == " " }.count
            if let parentIndent = blockIndent {
                let blank = line.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" }
                if blank || indent > parentIndent { continue }
                blockIndent = nil
            }
            var tokenStart = quote == nil
            var i = 0
            while i < line.count {
                let c = line[i]
                if let q = quote {
                    if c == q {
                        if q == "'" && i + 1 < line.count && line[i + 1] == "'" { i += 2; continue }
                        quote = nil
                        tokenStart = false
                    } else if c == "\\" && q == "\"" {
                        i += 1
                    }
                    i += 1
                    continue
                }
                switch c {
                case " ", "\t", "\r":
                    break
                case "#" where i == 0 || line[i - 1] == " " || line[i - 1] == "\t":
                    i = line.count
                    continue
                case "[", "{", ",":
                    tokenStart = true
                case ":", "-", "?":
                    // An indicator only when followed by a space or the end of the line.
                    if i + 1 >= line.count || line[i + 1] == " " || line[i + 1] == "\t" || line[i + 1] == "\r" {
                        tokenStart = true
                    } else {
                        tokenStart = false
                    }
                case "*" where tokenStart:
                    return (index + 1, i + 1)
                case "'" where tokenStart, "\"" where tokenStart:
                    quote = c
                case "|" where tokenStart, ">" where tokenStart:
                    blockIndent = indent
                    i = line.count
                    continue
                default:
                    tokenStart = false
                }
                i += 1
            }
        }
        return nil
    }
}
