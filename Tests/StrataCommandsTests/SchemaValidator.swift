import Foundation
import StrataDiagnostics
import StrataFormats
import StrataSpec

/// A JSON Schema (draft 2020-12) validator for YAML documents, covering the keywords `strata schema`
/// writes and failing on any other, so the schema cannot use a keyword this check would skip.
///
/// YAML scalars are typed as a YAML 1.2 editor types them (Strata's `ScalarValue`): a plain `5` is an
/// integer, `0.5` a number, `true` a boolean, `~` null; anything quoted is a string. Each failure
/// names the instance's path as a JSON pointer (`/layers/0/filter`) and its place in the file.
struct SchemaValidator {
    struct Failure: CustomStringConvertible {
        var path: String
        var location: SourceLocation
        var message: String
        var description: String { "\(location): \(path.isEmpty ? "/" : path): \(message)" }
    }

    let root: JSONValue

    /// Keywords that only annotate.
    static let annotations: Set<String> = ["$schema", "title", "description", "default"]

    func validate(_ document: SpecNode) -> [Failure] {
        check(document, against: root, path: "", at: document.location)
    }

    private func check(_ node: SpecNode, against schema: JSONValue, path: String, at location: SourceLocation) -> [Failure] {
        if case .bool(let allowed) = schema { return allowed ? [] : [Failure(path: path, location: location, message: "nothing is allowed here")] }
        guard case .object(let keywords) = schema else { return [Failure(path: path, location: location, message: "the schema here is not an object")] }
        var failures: [Failure] = []
        func fail(_ message: String) { failures.append(Failure(path: path, location: location, message: message)) }
        for (keyword, value) in keywords {
            switch keyword {
            case _ where Self.annotations.contains(keyword), "$defs":
                continue
            case "$ref":
                guard let target = resolve(value.text ?? "") else { fail("unresolved $ref \(value.text ?? "?")"); continue }
                failures += check(node, against: target, path: path, at: location)
            case "type":
                if !Self.instanceTypes(node).contains(value.text ?? "") { fail("must be of type \(value.text ?? "?"), got \(node.shortDescription)") }
            case "enum":
                guard case .array(let options) = value else { fail("bad enum"); continue }
                if !options.contains(where: { Self.equals(node, $0) }) { fail("must be one of \(options.map { $0.text(.compact) }.joined(separator: ", ")), got \(node.shortDescription)") }
            case "const":
                if !Self.equals(node, value) { fail("must be \(value.text(.compact)), got \(node.shortDescription)") }
            case "minimum", "maximum", "exclusiveMaximum":
                guard let x = Self.number(node), let bound = value.double else { continue }
                let ok = keyword == "minimum" ? x >= bound : keyword == "maximum" ? x <= bound : x < bound
                if !ok { fail("\(keyword) is \(value.text(.compact)), got \(node.shortDescription)") }
            case "pattern":
                guard let s = Self.string(node), let pattern = value.text else { continue }
                if (try? NSRegularExpression(pattern: pattern))?.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) == nil {
                    fail("must match \(pattern), got \(node.shortDescription)")
                }
            case "maxLength":
                if let s = Self.string(node), let n = value.integer, s.count > n { fail("must be at most \(n) characters long") }
            case "required":
                guard let entries = node.mapping, case .array(let names) = value else { continue }
                for name in names.compactMap(\.text) where entries[key: name] == nil { fail("needs '\(name)'") }
            case "dependentRequired":
                guard let entries = node.mapping, case .object(let rules) = value else { continue }
                for (key, needs) in rules where entries[key: key] != nil {
                    for case .string(let name) in needs.arrayItems where entries[key: name] == nil { fail("'\(key)' needs '\(name)' beside it") }
                }
            case "properties", "additionalProperties":
                failures += checkMapping(node, keyword: keyword, value, keywords: keywords, path: path)
            case "items", "minItems", "maxItems":
                guard let items = node.sequence else { continue }
                if keyword == "items" {
                    for (i, item) in items.enumerated() { failures += check(item, against: value, path: path + "/\(i)", at: item.location) }
                } else if let n = value.integer, keyword == "minItems" ? items.count < n : items.count > n {
                    fail("must have \(keyword == "minItems" ? "at least" : "at most") \(n) items, got \(items.count)")
                }
            case "anyOf", "oneOf", "allOf":
                guard case .array(let options) = value else { fail("bad \(keyword)"); continue }
                let results = options.map { check(node, against: $0, path: path, at: location) }
                let passed = results.filter(\.isEmpty).count
                if keyword == "allOf" {
                    failures += results.flatMap { $0 }
                } else if passed == 0 {
                    // The alternative that came closest says what is wrong.
                    failures += results.min { $0.count < $1.count } ?? []
                } else if keyword == "oneOf" && passed > 1 {
                    fail("matches \(passed) alternatives of oneOf, not exactly one")
                }
            case "if":
                let branch = check(node, against: value, path: path, at: location).isEmpty ? "then" : "else"
                if let next = keywords.first(where: { $0.0 == branch })?.1 { failures += check(node, against: next, path: path, at: location) }
            case "then", "else":
                continue
            default:
                fail("the validator does not know the keyword '\(keyword)'")
            }
        }
        return failures
    }

    /// `properties` and `additionalProperties` of a mapping (a node of another kind passes them).
    private func checkMapping(_ node: SpecNode, keyword: String, _ value: JSONValue, keywords: [(String, JSONValue)], path: String) -> [Failure] {
        guard let entries = node.mapping else { return [] }
        var failures: [Failure] = []
        let properties: [(String, JSONValue)] = { if case .object(let p)? = keywords.first(where: { $0.0 == "properties" })?.1 { return p }; return [] }()
        switch keyword {
        case "properties":
            guard case .object(let members) = value else { return [] }
            for entry in entries {
                if let schema = members.first(where: { $0.0 == entry.key })?.1 {
                    failures += check(entry.value, against: schema, path: path + "/" + entry.key, at: entry.value.location)
                }
            }
        case "additionalProperties":
            for entry in entries where !properties.contains(where: { $0.0 == entry.key }) {
                if case .bool(false) = value {
                    failures.append(Failure(path: path + "/" + entry.key, location: entry.keyLocation, message: "unknown key '\(entry.key)'"))
                } else {
                    failures += check(entry.value, against: value, path: path + "/" + entry.key, at: entry.value.location)
                }
            }
        default:
            break
        }
        return failures
    }

    private func resolve(_ reference: String) -> JSONValue? {
        // Only the document's own definitions: the schema refers to nothing outside itself.
        guard reference.hasPrefix("#/$defs/") else { return nil }
        return root["$defs"]?[String(reference.dropFirst("#/$defs/".count))]
    }

    /// The JSON types a YAML node has: a plain `5` is both an integer and a number.
    static func instanceTypes(_ node: SpecNode) -> Set<String> {
        switch node.kind {
        case .mapping: return ["object"]
        case .sequence: return ["array"]
        case .scalar(_, plain: false): return ["string"]
        case .scalar:
            if node.isNull { return ["null"] }
            if ScalarValue.bool(node) != nil { return ["boolean"] }
            if ScalarValue.int(node) != nil { return ["integer", "number"] }
            if ScalarValue.double(node) != nil { return ["number"] }
            return ["string"]
        }
    }

    static func number(_ node: SpecNode) -> Double? {
        instanceTypes(node).contains("number") ? ScalarValue.double(node) : nil
    }

    static func string(_ node: SpecNode) -> String? {
        instanceTypes(node) == ["string"] ? node.scalar : nil
    }

    static func equals(_ node: SpecNode, _ value: JSONValue) -> Bool {
        switch value {
        case .string(let s): string(node) == s
        case .bool(let b): instanceTypes(node) == ["boolean"] && ScalarValue.bool(node) == b
        case .number: number(node) == value.double
        case .null: node.isNull
        default: false
        }
    }
}

extension JSONValue {
    /// The items of an array; none for anything else.
    var arrayItems: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}
