import StrataDiagnostics
#if canImport(Glibc)
import Glibc
#endif

/// Stage 1's entry point: a spec path → a `NetworkSpec` with every variant resolved.
///
/// A variant names `base: PATH` (relative to its own file) and changes it: top-level keys it writes
/// replace the base's, then `remove:`, `set:` and `insert:` apply in that order. Cycles of `base:`
/// are errors. The loader keeps the text of every file it read in `sources`, so diagnostics can
/// show the offending line even after a failure.
public final class SpecLoader {
    /// Reads a file's bytes; tests swap in an in-memory file system.
    public var readFile: (String) throws -> [UInt8]
    /// The text of every file read so far, by path as used in locations.
    public private(set) var sources: [String: String] = [:]
    /// What loading changed in files written for an older version of the language (`SpecVersion`),
    /// one warning per change at its place, for the commands to print.
    public private(set) var warnings: [Diagnostic] = []

    /// Variants nest at most this deep: enough for any real chain, and a guard against runaway recursion.
    public static let maximumBaseDepth = 32

    public init(readFile: @escaping (String) throws -> [UInt8] = SpecLoader.readFromDisk) {
        self.readFile = readFile
    }

    /// Loads and resolves the spec at `path`.
    public func load(path: String) throws(DiagnosticError) -> NetworkSpec {
        try load(path: Path.normalize(path), referencedFrom: nil, stack: [])
    }

    /// Parses and resolves a spec given as text (for tests and tools); `base:` paths read through `readFile`.
    public func load(text: String, file: String) throws(DiagnosticError) -> NetworkSpec {
        sources[file] = text
        let root = try YAMLReader.parse(text: text, file: file)
        return try resolve(upgrade(root), file: file, stack: [file])
    }

    /// Resolves a spec document that is part of another file (an experiment's row, a variant of its
    /// base written inline): `base:` is relative to `file`, and errors point into `file`.
    public func load(node: SpecNode, file: String) throws(DiagnosticError) -> NetworkSpec {
        try resolve(node, file: file, stack: [])
    }

    /// Records a file's text so that diagnostics can quote it.
    public func remember(_ text: String, file: String) { sources[file] = text }

    /// A parsed file as the current version of the language reads it, its changes recorded in
    /// `warnings` (once per place, however often the file is read).
    public func upgrade(_ root: SpecNode) -> SpecNode {
        let upgrade = SpecVersion.upgrade(root)
        for edit in upgrade.edits where !warnings.contains(edit.warning) { warnings.append(edit.warning) }
        return upgrade.root
    }

    private func load(path: String, referencedFrom: SourceLocation?, stack: [String]) throws(DiagnosticError) -> NetworkSpec {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            let reason = (error as? FileError)?.reason ?? "\(error)"
            let message = referencedFrom == nil ? "cannot read spec '\(path)': \(reason)" : "cannot read base spec '\(path)': \(reason)"
            throw DiagnosticError(.error(message, at: referencedFrom))
        }
        let parsed: (text: String, root: SpecNode)
        do {
            parsed = try YAMLReader.parse(bytes: bytes, file: path)
        } catch {
            sources[path] = String(decoding: bytes.prefix(YAMLReader.maximumBytes), as: UTF8.self)
            throw error
        }
        sources[path] = parsed.text
        return try resolve(upgrade(parsed.root), file: path, stack: stack + [path])
    }

    private func resolve(_ root: SpecNode, file: String, stack: [String]) throws(DiagnosticError) -> NetworkSpec {
        var bag = DiagnosticBag()
        let doc = SpecDocument.decode(root, file: file, bag: &bag)
        try bag.throwIfErrors()

        var spec: NetworkSpec
        if let base = doc.base {
            let basePath = Path.normalize(Path.join(Path.directory(of: file), base.value))
            if let i = stack.firstIndex(of: basePath) {
                let cycle = (stack[i...] + [basePath]).joined(separator: " → ")
                throw DiagnosticError(.error("'base' makes a cycle: \(cycle)", at: base.location))
            }
            if stack.count >= Self.maximumBaseDepth {
                throw DiagnosticError(.error("variants nest more than \(Self.maximumBaseDepth) deep", at: base.location))
            }
            spec = try load(path: basePath, referencedFrom: base.location, stack: stack)
            spec.file = file
            spec.chain = [file] + spec.chain
            if let name = doc.name { spec.name = name }
            if doc.writtenKeys.contains("description") { spec.description = doc.description }
            if let input = doc.input { spec.input = input }
            if let layers = doc.layers { spec.layers = layers }
            if doc.writtenKeys.contains("training") { spec.training = doc.training }
            applyRemove(doc, to: &spec, bag: &bag)
            applySet(doc, to: &spec, bag: &bag)
            applyInsert(doc, to: &spec, bag: &bag)
        } else {
            for key in ["remove", "set", "insert"] where doc.writtenKeys.contains(key) {
                bag.error("'\(key)' changes a base spec, but this spec has no 'base'", at: root.mapping?[key: key]?.keyLocation ?? root.location)
            }
            for key in ["name", "input", "layers"] where !doc.writtenKeys.contains(key) {
                bag.error("the spec needs '\(key)'", at: root.location)
            }
            try bag.throwIfErrors()
            guard let name = doc.name, let input = doc.input, let layers = doc.layers else {
                // decode reported why each is missing
                throw DiagnosticError(bag.sorted().isEmpty ? [.error("the spec is incomplete", at: root.location)] : bag.sorted())
            }
            spec = NetworkSpec(file: file, name: name, description: doc.description, input: input,
                               layers: layers, training: doc.training, chain: [file])
        }
        validate(spec, bag: &bag)
        try bag.throwIfErrors()
        return spec
    }

    // MARK: variant operations

    private func applyRemove(_ doc: SpecDocument, to spec: inout NetworkSpec, bag: inout DiagnosticBag) {
        for name in doc.remove {
            guard let index = spec.layers.firstIndex(where: { $0.name.value == name.value }) else {
                bag.error("cannot remove '\(name.value)': the base has no layer of that name", at: name.location,
                          notes: Spelling.note(for: name.value, among: spec.layers.map(\.name.value), at: name.location))
                continue
            }
            let removed = spec.layers.remove(at: index)
            // An init override belongs to its layer and goes with it.
            spec.training?.initialization.layers[removed.name.value] = nil
            spec.training?.initialization.layerLocations[removed.name.value] = nil
            // What the removed layer read becomes what its readers read.
            let source: [Located<String>] = (removed.from ?? [Located(index == 0 ? inputReferenceName : spec.layers[index - 1].name.value,
                                                                      at: name.location)])
                .map { Located($0.value, at: name.location) }
            for j in spec.layers.indices {
                guard let from = spec.layers[j].from, from.contains(where: { $0.value == removed.name.value }) else { continue }
                if source.count > 1 && !spec.layers[j].fromIsList {
                    bag.error("cannot remove '\(removed.name.value)': '\(spec.layers[j].name.value)' reads it, and it reads several layers",
                              at: name.location)
                    continue
                }
                spec.layers[j].from = from.flatMap { $0.value == removed.name.value ? source : [$0] }
            }
            if index < spec.layers.count, spec.layers[index].from == nil {
                let implicit = index == 0 ? inputReferenceName : spec.layers[index - 1].name.value
                if source.count > 1 {
                    spec.layers[index].from = source
                    spec.layers[index].fromIsList = true
                } else if source[0].value != implicit {
                    spec.layers[index].from = source
                }
            }
        }
    }

    private func applySet(_ doc: SpecDocument, to spec: inout NetworkSpec, bag: inout DiagnosticBag) {
        for (layer, entries) in doc.set {
            guard let index = spec.layers.firstIndex(where: { $0.name.value == layer.value }) else {
                bag.error("cannot set attributes of '\(layer.value)': there is no layer of that name", at: layer.location,
                          notes: Spelling.note(for: layer.value, among: spec.layers.map(\.name.value), at: layer.location))
                continue
            }
            spec.layers[index].changedByVariant = true
            for entry in entries {
                switch entry.key {
                case "name":
                    bag.error("'set' cannot rename a layer; remove it and insert a new one", at: entry.keyLocation)
                case "op":
                    guard case .scalar(let s, _) = entry.value.kind, !entry.value.isNull else {
                        bag.error("'op' of a layer must be a name, got \(entry.value.shortDescription)", at: entry.value.location)
                        continue
                    }
                    spec.layers[index].op = Located(s, at: entry.value.location)
                case "from":
                    let wrapped = SpecNode(.mapping([SpecEntry(key: "name", keyLocation: layer.location, value: SpecNode(.scalar(layer.value, plain: true), at: layer.location)),
                                                     SpecEntry(key: "op", keyLocation: layer.location, value: SpecNode(.scalar("x", plain: true), at: layer.location)),
                                                     entry]), at: layer.location)
                    if let decoded = SpecDocument.decodeLayer(wrapped, bag: &bag) {
                        spec.layers[index].from = decoded.from
                        spec.layers[index].fromIsList = decoded.fromIsList
                    }
                default:
                    spec.layers[index].attributes.removeAll { $0.key == entry.key }
                    if !entry.value.isNull { spec.layers[index].attributes.append(entry) }
                }
            }
        }
    }

    private func applyInsert(_ doc: SpecDocument, to spec: inout NetworkSpec, bag: inout DiagnosticBag) {
        for (after, layers) in doc.insert {
            let position: Int
            if after.value == inputReferenceName {
                position = 0
            } else if let index = spec.layers.firstIndex(where: { $0.name.value == after.value }) {
                position = index + 1
            } else {
                bag.error("cannot insert after '\(after.value)': there is no layer of that name", at: after.location,
                          notes: Spelling.note(for: after.value, among: spec.layers.map(\.name.value), at: after.location))
                continue
            }
            spec.layers.insert(contentsOf: layers.map { var l = $0; l.changedByVariant = true; return l }, at: position)
        }
    }

    // MARK: checks on the resolved spec

    private func validate(_ spec: NetworkSpec, bag: inout DiagnosticBag) {
        var seen: [String: LayerSpec] = [:]
        for layer in spec.layers {
            if layer.name.value == inputReferenceName {
                bag.error("a layer cannot be named '\(inputReferenceName)': 'from: \(inputReferenceName)' names the network input",
                          at: layer.name.location)
            } else if let first = seen[layer.name.value] {
                bag.error("duplicate layer name '\(layer.name.value)'; layer names must be unique", at: layer.name.location,
                          notes: [.note("'\(layer.name.value)' first declared here", at: first.name.location)])
            } else {
                seen[layer.name.value] = layer
            }
        }
        if spec.layers.isEmpty {
            bag.error("'layers' must list at least one layer", at: spec.name.location)
        }
        if let training = spec.training {
            for (name, location) in training.initialization.layerLocations.sorted(by: { $0.value < $1.value }) where seen[name] == nil {
                bag.error("init override names '\(name)', which is not a layer", at: location,
                          notes: Spelling.note(for: name, among: spec.layers.map(\.name.value), at: location))
            }
            var frozen: [String: SourceLocation] = [:]
            for name in training.freeze {
                if seen[name.value] == nil {
                    bag.error("'freeze' names '\(name.value)', which is not a layer", at: name.location,
                              notes: Spelling.note(for: name.value, among: spec.layers.map(\.name.value), at: name.location))
                } else if let first = frozen[name.value] {
                    bag.error("'freeze' names '\(name.value)' twice", at: name.location, notes: [.note("first named here", at: first)])
                } else {
                    frozen[name.value] = name.location
                }
            }
        }
    }

    /// Reads a whole file, refusing directories and anything larger than `YAMLReader.maximumBytes` + 1.
    public static func readFromDisk(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw FileError(reason: "it is a directory") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= YAMLReader.maximumBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }
}

/// Why a file could not be read, in words ("No such file or directory").
public struct FileError: Error, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Path arithmetic on strings, kept lexical so diagnostics show paths the way the user wrote them.
enum Path {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func join(_ directory: String, _ path: String) -> String {
        if path.hasPrefix("/") || directory == "." { return path }
        return directory + "/" + path
    }

    /// Removes `.` and folds `dir/..`, keeping leading `..` of relative paths.
    static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            if part == "..", absolute { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
