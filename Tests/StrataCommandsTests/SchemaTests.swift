import Foundation
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataSpec
import Testing

/// `strata schema`: the JSON Schema of the spec language, generated from the readers, checked
/// against the layer registry, every shipped spec, and Strata's own reader.
@Suite("strata schema")
struct SchemaTests {
    static func generated() throws -> JSONValue {
        let run = strata("schema")
        #expect(run.status == 0, "\(run.errors)")
        return try JSONValue.parse(Array(run.output.utf8))
    }

    static func failures(_ text: String, file: String = "t.yaml") throws -> [SchemaValidator.Failure] {
        SchemaValidator(root: try generated()).validate(try YAMLReader.parse(text: text, file: file))
    }

    /// The `then` of the `if op == OP` case of the layer definition.
    static func layerCase(_ op: String, in schema: JSONValue) -> JSONValue? {
        schema["$defs"]?["layer"]?["allOf"]?.arrayItems.first { $0["if"]?["properties"]?["op"]?["const"]?.text == op }?["then"]
    }

    @Test func everyRegisteredLayerAndEachOfItsAttributesIsInTheSchema() throws {
        let schema = try Self.generated()
        #expect(schema["$defs"]?["layer"]?["properties"]?["op"]?["enum"] == .strings(Layer.opNames))
        for definition in Layer.registry {
            guard let layer = Self.layerCase(definition.op, in: schema), case .object(let properties)? = layer["properties"] else {
                Issue.record("op '\(definition.op)' has no case in the schema's layer definition")
                continue
            }
            #expect(layer["description"]?.text == definition.summary)
            // The attributes as the IR dump lists them (`attributeList`, written apart from the reads).
            var placeholder = AttributeReader(recordingSchemaAs: definition.op)
            let names = definition.init(attributes: &placeholder)?.attributeList.map(\.0) ?? []
            for name in names {
                guard let attribute = properties.first(where: { $0.0 == name })?.1 else {
                    Issue.record("op '\(definition.op)': attribute '\(name)' is not in the schema")
                    continue
                }
                let doc = attribute["description"]?.text ?? ""
                #expect(!doc.isEmpty, "op '\(definition.op)': attribute '\(name)' has no doc string")
                #expect(attribute["type"] != nil || attribute["anyOf"] != nil, "op '\(definition.op)': attribute '\(name)' has no type")
            }
            let extra = properties.map(\.0).filter { !names.contains($0) && !LayerSpec.commonKeys.contains($0) }
            #expect(extra.isEmpty, "op '\(definition.op)': the schema lists \(extra), which the layer does not have")
            #expect(layer["additionalProperties"] == .bool(false))
        }
    }

    @Test func attributesCarryTheirDefaultsAndRanges() throws {
        let schema = try Self.generated()
        let conv = try #require(Self.layerCase("conv", in: schema)?["properties"])
        #expect(conv["filters"]?["minimum"] == .int(1) && conv["filters"]?["maximum"] == .int(1_048_576))
        #expect(conv["groups"]?["default"] == .int(1) && conv["bias"]?["default"] == .bool(true))
        let dropout = try #require(Self.layerCase("dropout", in: schema)?["properties"]?["rate"])
        #expect(dropout["exclusiveMaximum"] == .int(1) && dropout["default"]?.double == 0.5)
        #expect(Self.layerCase("concat", in: schema)?["required"] == .strings(["name", "op", "from"]))
    }

    @Test func everyShippedSpecAndExperimentValidates() throws {
        let validator = SchemaValidator(root: try Self.generated())
        var checked = 0
        for folder in ["networks", "experiments"] {
            let root = packageRoot + "/" + folder
            for case let file as String in FileManager.default.enumerator(atPath: root)! where file.hasSuffix(".yaml") {
                let path = folder + "/" + file
                let text = try String(contentsOfFile: packageRoot + "/" + path, encoding: .utf8)
                let failures = validator.validate(try YAMLReader.parse(text: text, file: path))
                #expect(failures.isEmpty, "\(path) does not validate:\n\(failures.map(\.description).joined(separator: "\n"))")
                checked += 1
            }
        }
        #expect(checked >= 19)
    }

    /// What `compile --stop-after spec` prints (every training default written out) is a valid spec.
    @Test func printedSpecsValidate() throws {
        let validator = SchemaValidator(root: try Self.generated())
        for spec in ["networks/alexnet.yaml", "networks/variants/zfnet-fc2048.yaml", "networks/zfnet-mini.yaml"] {
            let printed = strata("compile", packageRoot + "/" + spec, "--stop-after", "spec")
            let failures = validator.validate(try YAMLReader.parse(text: printed.output, file: spec + " printed"))
            #expect(failures.isEmpty, "\(failures.map(\.description))")
        }
    }

    @Test func aMisspeltAttributeFailsAtTheSamePlaceAsTheReader() throws {
        let text = "name: t\ninput: {channels: 3, height: 32, width: 32}\nlayers:\n  - {name: conv1, op: conv, filter: 8, kernel: 3}\n"
        let failures = try Self.failures(text)
        let unknown = try #require(failures.first { $0.message == "unknown key 'filter'" }, "\(failures)")
        #expect(unknown.path == "/layers/0/filter")
        #expect(unknown.location.description == "t.yaml:4:29")
        // The schema also says 'filters' is missing; Strata's reader reports the same key at the same place.
        #expect(failures.contains { $0.path == "/layers/0" && $0.message == "needs 'filters'" })
        let check = try #require(Compiler().catching(text))
        #expect(check.contains("t.yaml:4:29: error: unknown key 'filter' in conv layer 'conv1'"), "\(check)")
    }

    /// Specs the reader refuses for a type, a range, a spelling or a missing key, which the schema
    /// refuses too, and specs both accept.
    @Test(arguments: [
        ("kernel: 2.5", "conv", "/layers/0/kernel"),
        ("kernel: [3, 3, 3]", "conv", "/layers/0/kernel"),
        ("stride: 0", "conv", "/layers/0/stride"),
        ("bias: yes", "conv", "/layers/0/bias"),
        ("units: \"10\"", "fc", "/layers/0/units"),
        ("rate: 1", "dropout", "/layers/0/rate"),
        ("alpha: -1", "lrn", "/layers/0/alpha"),
        ("ceil: 1", "maxpool", "/layers/0/ceil"),
    ])
    func aWrongValueFailsBoth(attribute: String, op: String, path: String) throws {
        let key = attribute.split(separator: ":")[0]
        let required = (["conv": ["filters: 4", "kernel: 3"], "fc": ["units: 4"], "maxpool": ["kernel: 2"]][op] ?? []).filter { !$0.hasPrefix(key + ":") }
        let text = "name: t\ninput: {channels: 3, height: 32, width: 32}\nlayers:\n  - {name: l, op: \(op), \((required + [attribute]).joined(separator: ", "))}\n"
        let failures = try Self.failures(text)
        #expect(failures.contains { $0.path == path }, "\(failures)")
        #expect(Compiler().catching(text) != nil, "Strata's reader accepted \(attribute)")
    }

    @Test(arguments: [
        ("name: t\nlayers: [{name: fc, op: fc, units: 2}]\n", "/", "needs 'input'"),
        ("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: fc, op: covn}]\n", "/layers/0/op", "must be one of"),
        ("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: 9fc, op: relu}]\n", "/layers/0/name", "must match"),
        ("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: a, op: relu}, {name: c, op: concat, from: a}]\n", "/layers/1/from", "type array"),
        ("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: a, op: relu}]\nremove: [a]\n", "/", "'remove' needs 'base'"),
        ("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: a, op: relu}]\ntraining: {schedule: {type: step, patience: 2}}\n",
         "/training/schedule/patience", "unknown key"),
        ("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: a, op: relu}]\ntraining: {optimizer: {type: sgd}}\n",
         "/training/optimizer", "needs 'lr'"),
    ])
    func aWrongSpecFailsBoth(text: String, path: String, message: String) throws {
        let failures = try Self.failures(text)
        #expect(failures.contains { ($0.path.isEmpty ? "/" : $0.path) == path && $0.message.contains(message) }, "\(failures)")
        #expect(Compiler().catching(text) != nil, "Strata's reader accepted:\n\(text)")
    }

    @Test(arguments: [
        "name: t\ninput: {channels: 1, height: 8, width: 8}\nlayers:\n  - {name: a, op: conv, filters: 2, kernel: [3, 1], pad: [1, 0]}\n"
            + "  - {name: b, op: conv, filters: 2, kernel: 1, from: input}\n  - {name: c, op: concat, from: [a, b]}\n",
        "name: t\ninput: {channels: 1, height: 8, width: 8}\nlayers:\n  - name: a-1.b_2\n    op: conv\n    filters: 2\n    kernel: 2\n    stride: [2, 1]\n"
            + "training: {schedule: {type: step, epochs: 3}, init: {layers: {a-1.b_2: {std: 0.1}}}, augment: {crop: [6, 6]}, freeze: a-1.b_2}\n",
    ])
    func aGoodSpecPassesBoth(text: String) throws {
        #expect(try Self.failures(text).isEmpty)
        #expect(Compiler().catching(text) == nil)
    }

    @Test func aVariantsChangesAreCheckedByAttributeName() throws {
        let good = "base: ../networks/zfnet-mini.yaml\nset: {conv1: {stride: ~, filters: 16}, fc6: {units: 256, from: pool5}}\n"
            + "insert: [{after: relu1, layers: [{name: extra, op: relu}]}]\n"
        #expect(try Self.failures(good).isEmpty)
        let bad = "base: ../networks/zfnet-mini.yaml\nset: {conv1: {filter: 16}}\n"
        #expect(try Self.failures(bad).contains { $0.path == "/set/conv1/filter" && $0.message == "unknown key 'filter'" })
    }

    @Test func theCommittedSchemaIsTheGeneratedOne() throws {
        let committed = try String(contentsOfFile: packageRoot + "/docs/strata-spec.schema.json", encoding: .utf8)
        #expect(committed == strata("schema").output,
                "docs/strata-spec.schema.json is out of date: run 'strata schema --out docs/strata-spec.schema.json'")
    }

    @Test func outWritesTheSameTextToAFile() throws {
        let path = NSTemporaryDirectory() + "strata-schema-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = strata("schema", "--out", path)
        #expect(run.status == 0 && run.output == "wrote \(path)\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == strata("schema").output)
    }

    @Test func theValidatorRefusesAKeywordItDoesNotKnow() throws {
        let schema = try JSONValue.parse(Array(#"{"type": "object", "propertyNames": {"maxLength": 2}}"#.utf8))
        let failures = SchemaValidator(root: schema).validate(try YAMLReader.parse(text: "abc: 1\n", file: "t.yaml"))
        #expect(failures.map(\.message) == ["the validator does not know the keyword 'propertyNames'"])
    }
}

extension Compiler {
    /// The rendered errors of checking `text` as the spec `t.yaml` in the networks folder (so a
    /// `base: ../networks/...` resolves), or nil when it checks clean.
    func catching(_ text: String) -> String? {
        do {
            _ = try ShapeInference.infer(GraphBuilder.build(loader.load(text: text, file: packageRoot + "/networks/t.yaml")))
            return nil
        } catch {
            return DiagnosticRenderer(sources: sources).render(error.diagnostics).replacingOccurrences(of: packageRoot + "/networks/", with: "")
        }
    }
}
