import StrataFormats
import StrataSpec

/// A recorded `SchemaDocument` as JSON Schema (draft 2020-12), the text `strata schema` writes.
///
/// Keywords used: `type`, `properties`, `required`, `additionalProperties`, `enum`, `const`,
/// `minimum`, `maximum`, `exclusiveMaximum`, `pattern`, `maxLength`, `items`, `minItems`, `maxItems`,
/// `anyOf`, `allOf` with `if`/`then` (one case per `op` of a layer or `type` of a schedule, so a
/// validator names the misspelt key of the case that applies, not "no alternative matched"),
/// `if`/`then`/`else` (an experiment or a spec), `dependentRequired`, `$ref`/`$defs`, and the
/// annotations `title`, `description`, `default`.
enum SchemaJSON {
    static let dialect = "https://json-schema.org/draft/2020-12/schema"

    static func document(_ d: SchemaDocument) -> JSONValue {
        var members: [(String, JSONValue)] = [("$schema", .string(dialect)), ("title", .string(d.title)), ("description", .string(d.doc))]
        if case .object(let root) = schema(d.root) { members += root }
        members.append(("$defs", .object(d.definitions.map { ($0.name, annotated(schema($0.schema), doc: $0.doc)) })))
        return .object(members)
    }

    static func schema(_ s: SpecSchema) -> JSONValue {
        switch s {
        case .integer(let range):
            var m: [(String, JSONValue)] = [("type", "integer"), ("minimum", .int(range.lowerBound))]
            if range.upperBound != Int.max { m.append(("maximum", .int(range.upperBound))) }
            return .object(m)
        case let .number(range, openUpper):
            return .object([("type", "number"), ("minimum", number(range.lowerBound)), (openUpper ? "exclusiveMaximum" : "maximum", number(range.upperBound))])
        case .boolean:
            return ["type": "boolean"]
        case let .string(choices, pattern, maxLength):
            var m: [(String, JSONValue)] = [("type", "string")]
            if let choices { m.append(("enum", .strings(choices))) }
            if let pattern { m.append(("pattern", .string(pattern))) }
            if let maxLength { m.append(("maxLength", .int(maxLength))) }
            return .object(m)
        case .null:
            return ["type": "null"]
        case let .list(item, minimum, maximum):
            var m: [(String, JSONValue)] = [("type", "array"), ("items", schema(item))]
            if minimum > 0 { m.append(("minItems", .int(minimum))) }
            if let maximum { m.append(("maxItems", .int(maximum))) }
            return .object(m)
        case .object(let o):
            return object(o)
        case .map(let value):
            return ["type": "object", "additionalProperties": schema(value)]
        case .anyOf(let options):
            return ["anyOf": .array(options.map(schema))]
        case .reference(let name):
            return ["$ref": .string("#/$defs/" + name)]
        case .constant(let word):
            return ["const": .string(word)]
        case let .whenPresent(key, then, otherwise):
            return ["if": ["required": .strings([key])], "then": schema(then), "else": schema(otherwise)]
        }
    }

    /// A mapping: its properties, the required ones, and either `additionalProperties: false` (a
    /// closed mapping) or, with variants, one `if`/`then` per case whose `then` lists the common
    /// keys with the case's and is closed itself.
    static func object(_ o: SchemaObject) -> JSONValue {
        var m: [(String, JSONValue)] = [("type", "object")]
        m += members(o.properties)
        if let v = o.variants {
            m.append(("allOf", .array(v.cases.map { c in
                var properties = o.properties.map { p in
                    p.name == v.key ? SchemaProperty(p.name, .constant(c.value), required: true, doc: c.doc) : p
                }
                for p in c.object.properties {
                    if let i = properties.firstIndex(where: { $0.name == p.name }) { properties[i] = p } else { properties.append(p) }
                }
                var then: [(String, JSONValue)] = [("description", .string(c.doc))] + members(properties)
                if o.closed { then.append(("additionalProperties", false)) }
                let constant: JSONValue = ["const": .string(c.value)]
                let condition: JSONValue = ["properties": .object([(v.key, constant)]), "required": .strings([v.key])]
                return ["if": condition, "then": .object(then)] as JSONValue
            })))
        } else if o.closed {
            m.append(("additionalProperties", false))
        }
        if !o.anyRequired.isEmpty {
            m.append(("anyOf", .array(o.anyRequired.map { ["required": .strings($0)] })))
        }
        if !o.dependentRequired.isEmpty {
            m.append(("dependentRequired", .object(o.dependentRequired.map { ($0.key, .strings($0.needs)) })))
        }
        return .object(m)
    }

    static func members(_ properties: [SchemaProperty]) -> [(String, JSONValue)] {
        var m: [(String, JSONValue)] = [("properties", .object(properties.map { ($0.name, property($0)) }))]
        let required = properties.filter(\.required).map(\.name)
        if !required.isEmpty { m.append(("required", .strings(required))) }
        return m
    }

    static func property(_ p: SchemaProperty) -> JSONValue {
        guard case .object(var m) = annotated(schema(p.schema), doc: p.doc) else { return schema(p.schema) }
        switch p.defaultValue {
        case .int(let n)?: m.append(("default", .int(n)))
        case .number(let x)?: m.append(("default", number(x)))
        case .bool(let b)?: m.append(("default", .bool(b)))
        case .string(let s)?: m.append(("default", .string(s)))
        case .ints(let xs)?: m.append(("default", .ints(xs)))
        case nil: break
        }
        return .object(m)
    }

    /// `schema` with a `description` (before its other keywords, so a reader sees it first).
    static func annotated(_ schema: JSONValue, doc: String) -> JSONValue {
        guard case .object(let m) = schema, !doc.isEmpty else { return schema }
        return .object([("description", .string(doc))] + m)
    }

    /// `2` for whole numbers, else Swift's shortest form (`0.0001`, `1e-12`).
    static func number(_ x: Double) -> JSONValue {
        x == x.rounded() && abs(x) < 1e15 ? .int(Int(x)) : .double(x)
    }
}
