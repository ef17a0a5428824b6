import StrataSpec

/// The layers' part of the spec language's schema (`strata schema`), recorded from the registry:
/// each layer type's `init(attributes:)` runs on a reader in schema mode, so the schema states the
/// attributes, types, ranges, defaults and doc strings that the definition reads, and nothing else.
extension Layer {
    /// One entry of `layers:`: `name`, `op` and `from`, and, picked by `op`, the attributes of that type.
    public static var schema: SchemaObject {
        var object = SchemaObject(properties: [
            LayerSpec.commonSchema(manyInputs: false)[0],
            SchemaProperty("op", .string(choices: opNames), required: true, doc: "the layer's type"),
            SchemaProperty("from", .names(minimum: 1), doc: "the layer or layers it reads (`input`: the network input); the layer above it when absent"),
        ], closed: true)
        object.variants = SchemaVariants(key: "op", doc: "the layer's type", cases: registry.map { definition in
            SchemaVariants.Case(value: definition.op, doc: definition.summary, object: attributeSchema(of: definition))
        })
        return object
    }

    /// The attributes one layer type reads (its `init(attributes:)` in schema mode), and its `from`.
    public static func attributeSchema(of definition: any LayerDefinition.Type) -> SchemaObject {
        var r = AttributeReader(recordingSchemaAs: "\(definition.op) layer")
        _ = definition.init(attributes: &r)
        r.finish()
        var object = r.schema ?? SchemaObject()
        let from = LayerSpec.commonSchema(manyInputs: definition.takesManyInputs).filter { $0.name == "from" }
        object.properties = from + object.properties
        return object
    }

    /// What `set: {LAYER: {...}}` of a variant may write: `op`, `from` and any layer type's attribute,
    /// each also `~` (delete it). The base decides the layer's type, so every type's attributes are
    /// allowed here; the layer's own reader checks them once the variant is resolved.
    public static var changesSchema: SchemaObject {
        var byName: [(name: String, schemas: [SpecSchema], docs: [String])] = []
        for definition in registry {
            for property in attributeSchema(of: definition).properties where property.name != "from" {
                let doc = "\(definition.op): \(property.doc)"
                if let i = byName.firstIndex(where: { $0.name == property.name }) {
                    if !byName[i].schemas.contains(property.schema) { byName[i].schemas.append(property.schema) }
                    byName[i].docs.append(doc)
                } else {
                    byName.append((property.name, [property.schema], [doc]))
                }
            }
        }
        var object = SchemaObject(properties: [
            SchemaProperty("op", .string(choices: opNames), doc: "a new type for the layer"),
            SchemaProperty("from", .anyOf([.names(minimum: 1), .null]), doc: "what the layer reads (`~`: the layer above it)"),
        ], closed: true)
        for (name, schemas, docs) in byName {
            object.add(SchemaProperty(name, .anyOf(schemas + [.null]), doc: docs.joined(separator: "; ") + " (`~` deletes it)"))
        }
        return object
    }
}
