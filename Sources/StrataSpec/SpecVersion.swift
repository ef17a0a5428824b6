import StrataDiagnostics

/// The versions of the spec language (network specs and experiment files), and how a file written
/// for an older one is read.
///
/// A file names the version it was written for with a top-level `version:`. A file without one was
/// written before versions existed: version 1. Loading applies each change from the file's version
/// to the current one to the parsed tree, with a warning at the place of each (`strata upgrade FILE`
/// rewrites the file, keeping its comments). A version above the current one is an error (the
/// readers' range check on `version`).
///
/// | version | change |
/// |---|---|
/// | 1 | specs and experiment files before versions |
/// | 2 | an experiment row's `data: {val_per_class: N}` is `data: {eval_per_class: N}` (the held-out test images per class) |
public enum SpecVersion {
    /// The version this Strata writes and reads without changes.
    public static let current = 2

    /// A file's version when it names none.
    public static let unversioned = 1

    /// What `version:` means, for the schema.
    public static let keyDoc = "the version of the spec language the file is written for (current: \(current)); 1 when absent. "
        + "A file for an older version is read with a warning per change; `strata upgrade FILE` rewrites it"

    /// A renamed key: from `version - 1` to `version`, the key `old` of the mappings at `path` is `new`.
    struct Rename {
        var version: Int
        var path: [Step]
        var old: String
        var new: String
        /// What the key means, for the warning.
        var meaning: String
    }

    /// A step of a path from the root: a key of a mapping, or each item of a list (a lone mapping
    /// where a list may stand counts as one item, as the readers take it).
    enum Step {
        case key(String)
        case items
    }

    /// Every change, oldest first.
    static let changes: [Rename] = [
        Rename(version: 2, path: [.key("rows"), .items, .key("data")], old: "val_per_class", new: "eval_per_class",
               meaning: "an experiment row's held-out test images per class"),
    ]

    /// One change made to a file: where, the text there before and after, and the warning.
    public struct Edit: Sendable {
        public var location: SourceLocation
        public var old: String
        public var new: String
        public var warning: Diagnostic
    }

    /// A file as the current version reads it: its tree (with `version: current`), the version it was
    /// written for, and each change.
    public struct Upgrade: Sendable {
        public var root: SpecNode
        public var from: Int
        public var edits: [Edit]
        /// Whether the file needs rewriting to be current: an older version, or none written.
        public var isNeeded: Bool
    }

    /// The version `root` names: `unversioned` when it names none, nil when `version` is not a
    /// version this Strata knows (the reader reports it).
    public static func version(of root: SpecNode) -> Int? {
        // An explicit null is no version, as every reader takes a null key for an absent one.
        guard let entry = root.mapping?[key: "version"], !entry.value.isNull else { return unversioned }
        guard let v = ScalarValue.int(entry.value), (1...current).contains(v) else { return nil }
        return v
    }

    /// Applies every change from the file's version to the current one. A file whose version is
    /// not known is returned as it is (its reader reports the version).
    public static func upgrade(_ root: SpecNode) -> Upgrade {
        guard let from = version(of: root), root.mapping != nil else { return Upgrade(root: root, from: current, edits: [], isNeeded: false) }
        var node = root
        var edits: [Edit] = []
        for change in changes where change.version > from {
            rename(&node, change, along: change.path[...], edits: &edits)
        }
        if !edits.isEmpty {
            // Said once per file, after its first change.
            edits[0].warning.notes = [.note("'strata upgrade \(edits[0].location.file)' rewrites the file for version \(current), keeping its comments")]
        }
        setVersion(&node)
        return Upgrade(root: node, from: from, edits: edits, isNeeded: from < current || root.mapping?[key: "version"] == nil)
    }

    private static func rename(_ node: inout SpecNode, _ change: Rename, along path: ArraySlice<Step>, edits: inout [Edit]) {
        switch (path.first, node.kind) {
        case (nil, .mapping(var entries)):
            guard let i = entries.firstIndex(where: { $0.key == change.old }), entries[key: change.new] == nil else { return }
            let at = entries[i].keyLocation
            entries[i].key = change.new
            node.kind = .mapping(entries)
            edits.append(Edit(location: at, old: change.old, new: change.new, warning: Diagnostic(
                .warning, "'\(change.old)' is '\(change.new)' since spec version \(change.version) (\(change.meaning)); read as '\(change.new)'",
                at: at)))
        case (.key(let key)?, .mapping(var entries)):
            guard let i = entries.firstIndex(where: { $0.key == key }) else { return }
            rename(&entries[i].value, change, along: path.dropFirst(), edits: &edits)
            node.kind = .mapping(entries)
        case (.items?, .sequence(var items)):
            for i in items.indices { rename(&items[i], change, along: path.dropFirst(), edits: &edits) }
            node.kind = .sequence(items)
        case (.items?, .mapping):
            rename(&node, change, along: path.dropFirst(), edits: &edits)
        default:
            return
        }
    }

    /// `version: current` in the root mapping, in place of the one written, else first.
    private static func setVersion(_ root: inout SpecNode) {
        guard case .mapping(var entries) = root.kind else { return }
        let value = SpecNode(.scalar("\(current)", plain: true), at: entries[key: "version"]?.value.location ?? root.location)
        if let i = entries.firstIndex(where: { $0.key == "version" }) {
            entries[i].value = value
        } else {
            entries.insert(SpecEntry(key: "version", keyLocation: root.location, value: value), at: 0)
        }
        root.kind = .mapping(entries)
    }
}
