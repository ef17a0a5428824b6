import StrataDiagnostics

/// A YAML node with the place it was written: what the YAML stage hands to the spec decoder.
///
/// Yams' `compose` gives nodes with marks; decoding into Decodable types would lose them, so the spec stage walks
/// this tree instead and keeps a location on every value it decodes.
public struct SpecNode: Sendable {
    public enum Kind: Sendable {
        /// A scalar's text; `plain` is false when it was quoted or a block scalar, which makes it a string
        /// whatever it looks like (`"5"` is a string, `5` a number).
        case scalar(String, plain: Bool)
        case sequence([SpecNode])
        case mapping([SpecEntry])
    }

    public var kind: Kind
    public var location: SourceLocation

    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// `~`, `null` or an empty plain scalar.
    public var isNull: Bool {
        if case .scalar(let s, true) = kind { return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" }
        return false
    }

    public var scalar: String? {
        if case .scalar(let s, _) = kind { return s }
        return nil
    }

    public var sequence: [SpecNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    public var mapping: [SpecEntry]? {
        if case .mapping(let entries) = kind { return entries }
        return nil
    }

    /// How a message names what was found: `'3.5'`, `a list`, `a mapping`.
    public var shortDescription: String {
        switch kind {
        case .scalar(let s, _):
            if isNull { return "nothing" }
            let shown = s.count > 40 ? String(s.prefix(37)) + "..." : s
            return "'\(shown.unicodeScalars.map { $0.value < 0x20 ? "?" : String($0) }.joined())'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// One `key: value` pair of a mapping, with the key's own location (where "unknown key" points).
public struct SpecEntry: Sendable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: SpecNode

    public init(key: String, keyLocation: SourceLocation, value: SpecNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}

extension Array where Element == SpecEntry {
    public subscript(key key: String) -> SpecEntry? {
        first { $0.key == key }
    }
}
