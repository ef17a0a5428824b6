import StrataDiagnostics

/// One spec file as written, before its `base:` is resolved: every top-level key is optional here.
struct SpecDocument {
    var file: String
    var root: SourceLocation
    var name: Located<String>?
    var description: String?
    var input: InputSpec?
    var layers: [LayerSpec]?
    var training: TrainingSpec?
    var base: Located<String>?
    var remove: [Located<String>] = []
    var set: [(layer: Located<String>, entries: [SpecEntry])] = []
    var insert: [(after: Located<String>, layers: [LayerSpec])] = []
    /// The keys this document wrote, for "replaces the base's".
    var writtenKeys: Set<String> = []

    /// The keys a spec without `base` must write; a variant takes them from its base.
    static let requiredWithoutBase = ["name", "input", "layers"]
    /// The keys that change a base spec, which only a variant (a spec with `base`) writes.
    static let variantKeys = ["remove", "set", "insert"]

    /// Decodes a parsed file; every independent error goes to `bag`.
    static func decode(_ node: SpecNode, file: String, bag: inout DiagnosticBag) -> SpecDocument {
        var doc = SpecDocument(file: file, root: node.location)
        guard let entries = node.mapping else {
            bag.error("a spec must be a mapping with 'name', 'input' and 'layers', got \(node.shortDescription)", at: node.location)
            return doc
        }
        var r = AttributeReader(entries, at: node.location, owner: "the spec")
        doc.writtenKeys = Set(entries.map(\.key))
        read(&r, into: &doc, bag: &bag)
        r.finish()
        bag.append(contentsOf: r.bag.diagnostics)
        return doc
    }

    /// The keys of a spec file, recorded from `read`, with the rules the loader applies to them.
    static var schema: SchemaObject {
        var r = AttributeReader(recordingSchemaAs: "the spec")
        var doc = SpecDocument(file: "", root: r.location)
        var bag = DiagnosticBag()
        read(&r, into: &doc, bag: &bag)
        r.finish()
        var object = r.schema ?? SchemaObject()
        object.anyRequired = [requiredWithoutBase, ["base"]]
        object.dependentRequired = variantKeys.map { ($0, ["base"]) }
        return object
    }

    /// Reads the top-level keys (the caller finishes the reader).
    static func read(_ r: inout AttributeReader, into doc: inout SpecDocument, bag: inout DiagnosticBag) {
        _ = r.int("version", default: SpecVersion.unversioned, in: 1...SpecVersion.current, doc: SpecVersion.keyDoc)
        let name = r.string("name", optional: true, doc: "the network's name (a variant inherits its base's); it names output folders")
        if let entry = r.entries[key: "name"], name != nil || entry.value.isNull {
            let n = name ?? Located("", at: r.location)
            if n.value.isEmpty { r.report("'name' of the spec must not be empty", at: n.location) }
            else if let problem = FileName.problem(n.value) { r.report("'name' of the spec, '\(n.value)', cannot be used: \(problem)", at: n.location) }
            doc.name = n
        }
        doc.description = r.string("description", optional: true, doc: "free text")?.value
        if var i = r.mapping("input", owner: "'input'", doc: "one image, channels × height × width; the batch size is chosen at run time") {
            let c = i.int("channels", in: 1...1_048_576, doc: "channels (3 for colour, 1 for grey)")
            let h = i.int("height", in: 1...1_048_576, doc: "height in pixels")
            let w = i.int("width", in: 1...1_048_576, doc: "width in pixels")
            i.finish()
            r.merge(i)
            if let c, let h, let w {
                doc.input = InputSpec(channels: Located(c, at: i.location(of: "channels")),
                                      height: Located(h, at: i.location(of: "height")),
                                      width: Located(w, at: i.location(of: "width")), location: i.location)
            }
        }
        if let layersNode = r.node("layers", accepts: .list(.reference("layer"), minimum: 1),
                                   doc: "the layers in order; each reads the layer above it unless it names `from`") {
            doc.layers = decodeLayers(layersNode, owner: "'layers'", bag: &bag)
        }
        if let t = r.node("training", accepts: .reference("training"), doc: "how `strata train` trains the network") {
            doc.training = TrainingSpec.decode(t, bag: &bag)
        }
        if let b = r.node("base", accepts: .string(), doc: "the spec this variant changes, relative to this file") {
            if case .scalar(let s, _) = b.kind, !s.isEmpty {
                doc.base = Located(s, at: b.location)
            } else {
                r.report("'base' must be the path of another spec, got \(b.shortDescription)", at: b.location)
            }
        }
        if let rm = r.node("remove", accepts: .names(), doc: "layers the variant deletes; their readers read what they read") {
            for item in rm.sequence ?? [rm] {
                if case .scalar(let s, _) = item.kind, !item.isNull {
                    doc.remove.append(Located(s, at: item.location))
                } else {
                    r.report("'remove' must be a list of layer names, got \(item.shortDescription)", at: item.location)
                }
            }
        }
        if let setNode = r.node("set", accepts: .map(.reference("layer-changes")),
                                doc: "attributes the variant changes, adds or (with `~`) deletes, by layer name") {
            if let layers = setNode.mapping {
                for entry in layers {
                    if let attrs = entry.value.mapping {
                        doc.set.append((Located(entry.key, at: entry.keyLocation), attrs))
                    } else {
                        r.report("'set' of layer '\(entry.key)' must be a mapping of attributes to values, got \(entry.value.shortDescription)",
                                 at: entry.value.location)
                    }
                }
            } else {
                r.report("'set' must be a mapping from layer names to attributes, got \(setNode.shortDescription)", at: setNode.location)
            }
        }
        if let ins = r.node("insert", accepts: .anyOf([.reference("insert"), .list(.reference("insert"))]),
                            doc: "layers the variant puts after named layers") {
            for item in ins.sequence ?? [ins] {
                var ir = AttributeReader(node: item, owner: "an 'insert' entry")
                let entry = readInsert(&ir, isMapping: item.mapping != nil, bag: &bag)
                ir.finish()
                r.merge(ir)
                if let entry { doc.insert.append(entry) }
            }
        }
    }

    /// One entry of `insert` (the caller finishes the reader).
    static func readInsert(_ ir: inout AttributeReader, isMapping: Bool, bag: inout DiagnosticBag) -> (after: Located<String>, layers: [LayerSpec])? {
        let after = ir.string("after", doc: "the layer the new ones follow (`input`: before the first layer)")
        let layers = ir.node("layers", accepts: .list(.reference("layer"), minimum: 1), required: true, doc: "the new layers, in order")
            .map { decodeLayers($0, owner: "'layers' of an 'insert' entry", bag: &bag) }
        if isMapping && layers == nil { ir.report("an 'insert' entry needs 'layers' (a list of layers)", at: ir.location) }
        guard let after, let layers else { return nil }
        return (after, layers)
    }

    /// What an entry of `insert` takes.
    static var insertSchema: SchemaObject {
        var r = AttributeReader(recordingSchemaAs: "an 'insert' entry")
        var bag = DiagnosticBag()
        _ = readInsert(&r, isMapping: true, bag: &bag)
        r.finish()
        return r.schema ?? SchemaObject()
    }

    static func decodeLayers(_ node: SpecNode, owner: String, bag: inout DiagnosticBag) -> [LayerSpec] {
        guard let items = node.sequence else {
            bag.error("\(owner) must be a list of layers (each '- name: ..., op: ...'), got \(node.shortDescription)", at: node.location)
            return []
        }
        return items.compactMap { decodeLayer($0, bag: &bag) }
    }

    static func decodeLayer(_ node: SpecNode, bag: inout DiagnosticBag) -> LayerSpec? {
        guard let entries = node.mapping else {
            bag.error("a layer must be a mapping with 'name' and 'op', got \(node.shortDescription)", at: node.location)
            return nil
        }
        var ok = true
        func name(_ key: String) -> Located<String>? {
            guard let entry = entries[key: key] else {
                let what = entries[key: "name"]?.value.scalar.map { "layer '\($0)'" } ?? "a layer"
                bag.error("\(what) needs '\(key)'", at: node.location)
                ok = false
                return nil
            }
            guard case .scalar(let s, _) = entry.value.kind, !entry.value.isNull else {
                bag.error("'\(key)' of a layer must be a name, got \(entry.value.shortDescription)", at: entry.value.location)
                ok = false
                return nil
            }
            return Located(s, at: entry.value.location)
        }
        let layerName = name("name"), op = name("op")
        if let layerName, !isValidName(layerName.value) {
            bag.error("layer name '\(layerName.value)' must start with a letter or '_' and contain only letters, digits, '_', '-' and '.'",
                      at: layerName.location)
            ok = false
        }
        var from: [Located<String>]?
        var fromIsList = false
        if let f = entries[key: "from"]?.value, !f.isNull {
            switch f.kind {
            case .scalar(let s, _):
                from = [Located(s, at: f.location)]
            case .sequence(let items):
                fromIsList = true
                from = []
                for item in items {
                    if case .scalar(let s, _) = item.kind, !item.isNull {
                        from?.append(Located(s, at: item.location))
                    } else {
                        bag.error("'from' must name a layer or list layer names, got \(item.shortDescription)", at: item.location)
                        ok = false
                    }
                }
                if items.isEmpty {
                    bag.error("'from' must name at least one layer", at: f.location)
                    ok = false
                }
            case .mapping:
                bag.error("'from' must name a layer or list layer names, got a mapping", at: f.location)
                ok = false
            }
        }
        guard ok, let layerName, let op else { return nil }
        return LayerSpec(name: layerName, op: op, from: from, fromIsList: fromIsList,
                         attributes: entries.filter { !LayerSpec.commonKeys.contains($0.key) }, location: node.location)
    }

    /// `isValidName` as a regular expression, for the schema.
    static let namePattern = "^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 128 else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
        return letter(first) && s.unicodeScalars.allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "." }
    }
}

extension LayerSpec {
    /// What `decodeLayer` reads besides the op's attributes: `name`, and `from` for a layer that
    /// reads one layer or (`manyInputs`, `concat`) several. `op` is the key that picks the attributes.
    public static func commonSchema(manyInputs: Bool) -> [SchemaProperty] {
        let from: SpecSchema = manyInputs ? .list(.string(), minimum: 2) : .anyOf([.string(), .list(.string(), minimum: 1, maximum: 1)])
        return [
            SchemaProperty("name", .string(pattern: SpecDocument.namePattern), required: true,
                           doc: "unique in the network; a letter or `_`, then letters, digits, `_`, `-`, `.`; `input` is reserved"),
            SchemaProperty("from", from, required: manyInputs,
                           doc: manyInputs ? "the layers it joins (at least two; `input` names the network input)"
                                           : "the layer it reads (`input`: the network input); the layer above it when absent"),
        ]
    }
}
