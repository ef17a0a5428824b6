/// Just enough JSON writing for our files and reports, with keys in the order the caller chooses:
/// the safetensors header, and the `--json` output of the commands.
public enum JSON {
    /// `s` as a JSON string literal, quotes included.
    public static func string(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// Integers as a JSON array, `[1, 2, 3]`.
    public static func array(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
}
