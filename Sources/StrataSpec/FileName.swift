/// Names that become file or folder names (a network's `name`, an experiment's, its rows'): one
/// path component of safe characters, so a name never reaches outside the folder it is put in.
public enum FileName {
    /// Why `name` cannot be a file name, or nil when it can: 1–128 characters, letters, digits,
    /// '_', '-' and '.', not starting with '.' or '-' (so never '.', '..' or an option).
    public static func problem(_ name: String) -> String? {
        let scalars = name.unicodeScalars
        guard let first = scalars.first else { return "it is empty" }
        guard scalars.count <= 128 else { return "it is longer than 128 characters" }
        func plain(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" }
        guard plain(first) else { return "it must start with a letter, a digit or '_'" }
        guard let bad = scalars.first(where: { !plain($0) && $0 != "-" && $0 != "." }) else { return nil }
        return "it contains '\(bad.escaped(asASCII: true))'; a name becomes a file name, so it may hold only letters, digits, '_', '-' and '.'"
    }
}
