import StrataDiagnostics

/// `strata upgrade`'s rewrite: the upgrade's changes made in the file's text, at the places they were
/// written, so comments, blank lines and layout survive (Yams cannot write comments back).
extension SpecVersion {
    /// The file's text for the current version, and what changed; nil when it is current already.
    /// Throws the parse's errors, and an error at a change's place when the text there is not what
    /// the tree says (the rewritten text must read back as the upgraded tree, or nothing is written).
    public static func rewrite(text: String, file: String) throws(DiagnosticError) -> (text: String, upgrade: Upgrade)? {
        let root = try YAMLReader.parse(text: text, file: file)
        if root.mapping?[key: "version"].map({ !$0.value.isNull }) == true && version(of: root) == nil {
            let at = root.mapping?[key: "version"]?.value.location
            throw DiagnosticError(.error("'version' must be a spec version from 1 to \(current), got \(root.mapping?[key: "version"]?.value.shortDescription ?? "?")", at: at))
        }
        let upgrade = upgrade(root)
        guard upgrade.isNeeded else { return nil }
        let failure = { (at: SourceLocation?) in
            DiagnosticError(.error("cannot rewrite '\(file)' for version \(current) in place: the text here is not what it reads as", at: at,
                                   notes: upgrade.edits.map { .note("change '\($0.old)' to '\($0.new)' by hand", at: $0.location) }
                                       + [.note("add 'version: \(current)' as the first key by hand")]))
        }
        guard let rewritten = edited(text, root: root, upgrade: upgrade) else { throw failure(nil) }
        let reread: SpecNode
        do { reread = try YAMLReader.parse(text: rewritten, file: file) } catch { throw failure(root.location) }
        let again = self.upgrade(reread)
        guard !again.isNeeded, again.edits.isEmpty, sameContent(again.root, upgrade.root) else { throw failure(root.location) }
        return (rewritten, upgrade)
    }

    /// The text with each renamed key rewritten (inside its quotes, if quoted) and `version:` written
    /// over the old one or added as the first key; nil when a change's place holds other text.
    static func edited(_ text: String, root: SpecNode, upgrade: Upgrade) -> String? {
        var scalars = Array(text.unicodeScalars)
        var lineStarts = [0]
        for (i, c) in scalars.enumerated() where c == "\n" { lineStarts.append(i + 1) }
        func offset(_ l: SourceLocation) -> Int? {
            guard l.line >= 1, l.line <= lineStarts.count else { return nil }
            let o = lineStarts[l.line - 1] + l.column - 1
            return o <= scalars.count ? o : nil
        }
        var replacements: [(at: Int, length: Int, text: String)] = []
        func replace(_ old: String, with new: String, at location: SourceLocation) -> Bool {
            guard var o = offset(location) else { return false }
            if o < scalars.count, scalars[o] == "\"" || scalars[o] == "'" { o += 1 }
            let n = old.unicodeScalars.count
            guard o + n <= scalars.count, scalars[o..<(o + n)].elementsEqual(old.unicodeScalars) else { return false }
            replacements.append((o, n, new))
            return true
        }
        for edit in upgrade.edits {
            guard replace(edit.old, with: edit.new, at: edit.location) else { return nil }
        }
        if let written = root.mapping?[key: "version"] {
            guard let old = written.value.scalar, replace(old, with: "\(current)", at: written.value.location) else { return nil }
        } else {
            guard let o = offset(root.location), root.location.column >= 1 else { return nil }
            if o < scalars.count && scalars[o] == "{" {
                replacements.append((o + 1, 0, "version: \(current), "))
            } else {
                // A block mapping: a line of its own above the first key, at its indentation.
                // The file's own line ending (CRLF or LF), so a CRLF file stays one.
                let ending = text.contains("\r\n") ? "\r\n" : "\n"
                replacements.append((lineStarts[root.location.line - 1], 0, String(repeating: " ", count: root.location.column - 1) + "version: \(current)" + ending))
            }
        }
        for r in replacements.sorted(by: { $0.at > $1.at }) {
            scalars.replaceSubrange(r.at..<(r.at + r.length), with: Array(r.text.unicodeScalars))
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// Whether two trees say the same, wherever they were written.
    static func sameContent(_ a: SpecNode, _ b: SpecNode) -> Bool {
        switch (a.kind, b.kind) {
        case let (.scalar(x, px), .scalar(y, py)): return x == y && px == py
        case let (.sequence(xs), .sequence(ys)): return xs.count == ys.count && zip(xs, ys).allSatisfy { sameContent($0, $1) }
        case let (.mapping(xs), .mapping(ys)):
            return xs.count == ys.count && zip(xs, ys).allSatisfy { $0.key == $1.key && sameContent($0.value, $1.value) }
        default: return false
        }
    }
}
