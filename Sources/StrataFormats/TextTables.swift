/// Cells of the CSV and Markdown tables Strata writes, escaped so that any name (a row, a part, a
/// file) stays one cell.
public enum CSV {
    /// A CSV field by RFC 4180: quoted when it holds a comma, a quote or a line break, with its
    /// quotes doubled.
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One line of a CSV file (RFC 4180), the inverse of `field`: the fields of `line`, or nil when
    /// its quotes do not close.
    public static func split(_ line: Substring) -> [String]? {
        var fields: [String] = [], current = "", quoted = false, i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: i)
                    if next < line.endIndex && line[next] == "\"" { current.append("\""); i = next } else { quoted = false }
                } else {
                    current.append(c)
                }
            } else if c == "\"" && current.isEmpty {
                quoted = true
            } else if c == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(c)
            }
            i = line.index(after: i)
        }
        guard !quoted else { return nil }
        fields.append(current)
        return fields
    }
}

public enum Markdown {
    /// A Markdown table cell: `|` and `\` escaped, line breaks made spaces, and `<` `>` `&`
    /// written as entities so that no name becomes markup.
    public static func cell(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "|": out += "\\|"
            case "\\": out += "\\\\"
            case _ where c.isNewline: out += " "
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            default: out.append(c)
            }
        }
        return out
    }
}
