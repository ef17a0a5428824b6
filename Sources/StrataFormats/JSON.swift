import Foundation

/// Strata's one way to read and write JSON: every JSON file and `--json` output is a `JSONValue`,
/// built with the constructors below and written by `text(_:)`, or read by `parse(_:)`.
///
/// Reading is strict (the safetensors header, `run.json`, `tuning.json`, `result.json`, checkpoint
/// class lists): every key of an object once, numbers kept as their text so a reader can demand
/// whole numbers, nesting bounded. Writing keeps the keys in the order given, and always gives
/// text that `parse` accepts: a number that JSON cannot hold (NaN, ±infinity) is written `null`.
public indirect enum JSONValue: Sendable, Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The number's text as written (`12`, `-3.5e2`).
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)), let (.number(x), .number(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// The value of `key` in an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// A number that is a whole number written without fraction or exponent (`12`, not `12.0`).
    public var integer: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    public var text: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }

    /// The value as a `Double` (a number's text read as one).
    public var double: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    public var bool: Bool? {
        guard case .bool(let b) = self else { return nil }
        return b
    }

    /// Deepest nesting of arrays and objects accepted.
    public static let maximumDepth = 64

    /// Parses UTF-8 JSON text; the error says what is wrong and at which byte.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONError) -> JSONValue {
        var parser = Parser(bytes: Array(bytes))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.at == parser.bytes.count else { throw parser.error("text after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0

        func error(_ what: String) -> JSONError { JSONError(message: "\(what) at byte \(at)") }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func expect(_ c: UInt8) throws(JSONError) {
            guard at < bytes.count, bytes[at] == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
            at += 1
        }

        mutating func literal(_ word: String, _ value: JSONValue) throws(JSONError) -> JSONValue {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { throw error("unexpected text") }
            at += w.count
            return value
        }

        mutating func value(depth: Int) throws(JSONError) -> JSONValue {
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                guard depth < JSONValue.maximumDepth else { throw error("nesting deeper than \(JSONValue.maximumDepth)") }
                at += 1
                var members: [(String, JSONValue)] = []
                var seen = Set<String>()
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object([]) }
                while true {
                    skipSpace()
                    let key = try string()
                    guard seen.insert(key).inserted else { throw error("the key \"\(key)\" appears twice") }
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard at < bytes.count else { throw error("unexpected end") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    try expect(UInt8(ascii: "}"))
                    return .object(members)
                }
            case UInt8(ascii: "["):
                guard depth < JSONValue.maximumDepth else { throw error("nesting deeper than \(JSONValue.maximumDepth)") }
                at += 1
                var items: [JSONValue] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array([]) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw error("unexpected end") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    try expect(UInt8(ascii: "]"))
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func number() throws(JSONError) -> JSONValue {
            let start = at
            func digits(_ p: inout Parser) -> Int {
                let s = p.at
                while p.at < p.bytes.count, (0x30...0x39).contains(p.bytes[p.at]) { p.at += 1 }
                return p.at - s
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let whole = digits(&self)
            guard whole > 0 else { throw error("unexpected character") }
            guard whole == 1 || bytes[at - whole] != UInt8(ascii: "0") else { throw error("a number with a leading zero") }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits(&self) > 0 else { throw error("a number without digits after '.'") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits(&self) > 0 else { throw error("a number without digits in its exponent") }
            }
            return .number(String(decoding: bytes[start..<at], as: UTF8.self))
        }

        mutating func string() throws(JSONError) -> String {
            try expect(UInt8(ascii: "\""))
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() throws(JSONError) {
                guard !raw.isEmpty else { return }
                guard let s = String(validating: raw, as: UTF8.self) else { throw JSONError(message: "a string that is not UTF-8") }
                scalars.append(contentsOf: s.unicodeScalars)
                raw.removeAll()
            }
            while true {
                guard at < bytes.count else { throw error("an unterminated string") }
                let c = bytes[at]
                at += 1
                switch c {
                case UInt8(ascii: "\""):
                    try flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try flush()
                    guard at < bytes.count else { throw error("an unterminated string") }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard at + 2 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                                throw error("an unpaired surrogate")
                            }
                            at += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("an unpaired surrogate") }
                            code = 0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw error("an invalid \\u escape") }
                        scalars.append(scalar)
                    default: throw error("an invalid escape")
                    }
                default:
                    guard c >= 0x20 else { throw error("a control character in a string") }
                    raw.append(c)
                }
            }
        }

        mutating func hex4() throws(JSONError) -> UInt32 {
            guard at + 4 <= bytes.count, bytes[at..<(at + 4)].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }),
                  let v = UInt32(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16) else {
                throw error("an invalid \\u escape")
            }
            at += 4
            return v
        }
    }
}

// MARK: building

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
                     ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// `["name": .string(x), "batch": .int(4)]`: an object, keys in the order written.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }

    /// A whole number.
    public static func int(_ n: some BinaryInteger) -> JSONValue { .number(String(n)) }

    /// A number as Swift writes it, shortest text that reads back the same (`0.1`, `1e-05`, `3.0`);
    /// NaN and ±infinity, which JSON cannot hold, are `null`.
    public static func double(_ x: Double) -> JSONValue { x.isFinite ? .number(String(x)) : .null }

    /// A number with `decimals` digits after the point (`12.35` for 2); not finite: `null`.
    public static func double(_ x: Double, decimals: Int) -> JSONValue {
        x.isFinite ? .number(String(format: "%.\(max(0, decimals))f", x)) : .null
    }

    /// A `Float` as Swift writes it (`0.1`, not `0.10000000149011612`); not finite: `null`.
    public static func float(_ x: Float) -> JSONValue { x.isFinite ? .number(String(x)) : .null }

    /// Strings as an array of strings.
    public static func strings(_ xs: [String]) -> JSONValue { .array(xs.map(JSONValue.string)) }

    /// Whole numbers as an array (a shape, offsets).
    public static func ints(_ xs: [Int]) -> JSONValue { .array(xs.map { .int($0) }) }
}

// MARK: writing

extension JSONValue {
    /// How `text(_:)` lays a value out.
    public enum Style: Sendable {
        /// One line, `{"a": 1, "b": [1, 2]}`: the `--json` output of the commands.
        case compact
        /// One line without spaces, `{"a":1,"b":[1,2]}`: the safetensors header and its metadata
        /// values, as the reference implementation writes them.
        case minimal
        /// For files people read: the outermost value's members (or items) one per line, indented
        /// by 2 spaces; a nested array or object that holds only strings, numbers, `true`, `false`,
        /// `null` (or nothing) stays on one line in the compact form, others are broken the same
        /// way. `run.json`, `result.json`, `tuning.json`, `transfer.json`.
        case pretty
    }

    /// The value as JSON text, keys in the order given, without a final newline. A `.number` whose
    /// text is not a JSON number is written `null`, so the text always parses. Keys of an object
    /// are meant to be distinct (the reader refuses a key twice).
    public func text(_ style: Style = .compact) -> String {
        var out = ""
        write(to: &out, style: style, indent: 0, top: true)
        return out
    }

    /// Holds nothing but strings, numbers, booleans and null.
    var isFlat: Bool {
        switch self {
        case .array(let items): items.allSatisfy(\.isScalar)
        case .object(let members): members.allSatisfy(\.1.isScalar)
        default: true
        }
    }

    var isScalar: Bool {
        switch self {
        case .array(let items): items.isEmpty
        case .object(let members): members.isEmpty
        default: true
        }
    }

    func write(to out: inout String, style: Style, indent: Int, top: Bool) {
        switch self {
        case .string(let s): Self.escape(s, to: &out)
        case .number(let n): out += Self.isNumber(n) ? n : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            container(items.map { (nil, $0) }, open: "[", close: "]", to: &out, style: style, indent: indent, top: top)
        case .object(let members):
            assert(Set(members.map(\.0)).count == members.count, "a JSON object with a key twice")
            container(members.map { ($0.0, $0.1) }, open: "{", close: "}", to: &out, style: style, indent: indent, top: top)
        }
    }

    private func container(_ entries: [(String?, JSONValue)], open: String, close: String, to out: inout String,
                           style: Style, indent: Int, top: Bool) {
        out += open
        guard !entries.isEmpty else { out += close; return }
        let broken = style == .pretty && (top || !isFlat)
        let comma = broken ? ",\n" : style == .minimal ? "," : ", "
        let colon = style == .minimal ? ":" : ": "
        let inner = String(repeating: " ", count: indent + 2)
        if broken { out += "\n" + inner }
        for (k, (key, value)) in entries.enumerated() {
            if k > 0 { out += comma + (broken ? inner : "") }
            if let key { Self.escape(key, to: &out); out += colon }
            value.write(to: &out, style: broken ? .pretty : style, indent: indent + 2, top: false)
        }
        if broken { out += "\n" + String(repeating: " ", count: indent) }
        out += close
    }

    /// `s` as a JSON string literal, quotes included: `"` and `\` escaped, control characters as
    /// `\n`, `\r`, `\t` or `\u00XX`, everything else as it is (UTF-8).
    static func escape(_ s: String, to out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    /// Whether `text` is a JSON number, whole (`-12`, `0`) or not (`3.5e-2`).
    static func isNumber(_ text: String) -> Bool {
        var parser = Parser(bytes: Array(text.utf8))
        guard (try? parser.number()) != nil else { return false }
        return parser.at == parser.bytes.count
    }
}

// MARK: reading files

extension JSONValue {
    /// What a file's reader takes from a member: its name in errors ("a whole number") and how.
    public struct Kind<T>: Sendable {
        public let name: String
        public let read: @Sendable (JSONValue) -> T?

        public init(_ name: String, read: @escaping @Sendable (JSONValue) -> T?) {
            self.name = name
            self.read = read
        }
    }

    /// The members of a JSON object read from a file, with errors that name the file and the key:
    /// `OUT/result.json: 'seed' is not a whole number ≥ 0 (it is -3)`; for an object inside the
    /// file, `within` names its key: `tuning.json: in 'GPU | 1', 'tm' is not a whole number (it is "x")`.
    public struct Fields: Sendable {
        public let path: String
        public let within: String?
        public let members: [(String, JSONValue)]

        /// `value`, which must be an object; `what` says what it should be ("a tuning file").
        public init(_ value: JSONValue, path: String, what: String, within: String? = nil) throws(FormatError) {
            guard case .object(let members) = value else {
                throw FormatError(path: path, reason: (within.map { "'\($0)'" } ?? "it") + " is not \(what) (a JSON object)")
            }
            (self.path, self.within, self.members) = (path, within, members)
        }

        /// Reads and parses the file at `path`: missing, unreadable or not JSON is an error naming it.
        public init(path: String, what: String) throws(FormatError) {
            let bytes = try FileCheck.contents(path)
            let value: JSONValue
            do { value = try JSONValue.parse(bytes) } catch { throw FormatError(path: path, reason: "it is not valid JSON: \(error)") }
            try self.init(value, path: path, what: what)
        }

        /// The member `key`, which must be there.
        public func required<T>(_ key: String, _ kind: Kind<T>) throws(FormatError) -> T {
            guard let value = members.first(where: { $0.0 == key })?.1 else {
                throw failure((within.map { "'\($0)'" } ?? "it") + " lacks '\(key)'", located: false)
            }
            return try read(key, value, kind)
        }

        /// The member `key`, or nil when it is missing or `null`.
        public func optional<T>(_ key: String, _ kind: Kind<T>) throws(FormatError) -> T? {
            guard let value = members.first(where: { $0.0 == key })?.1, value != .null else { return nil }
            return try read(key, value, kind)
        }

        func read<T>(_ key: String, _ value: JSONValue, _ kind: Kind<T>) throws(FormatError) -> T {
            guard let v = kind.read(value) else {
                var shown = value.text()
                if shown.count > 60 { shown = String(shown.prefix(57)) + "..." }
                throw failure("'\(key)' is not \(kind.name) (it is \(shown))", located: true)
            }
            return v
        }

        func failure(_ reason: String, located: Bool) -> FormatError {
            FormatError(path: path, reason: (located ? within.map { "in '\($0)', " } ?? "" : "") + reason)
        }
    }
}

extension JSONValue.Kind where T == String {
    public static var string: Self { .init("a string") { $0.text } }
}

extension JSONValue.Kind where T == Int {
    public static var int: Self { .init("a whole number") { $0.integer } }
}

extension JSONValue.Kind where T == UInt64 {
    public static var uint64: Self {
        .init("a whole number ≥ 0") { v in
            guard case .number(let text) = v else { return nil }
            return UInt64(text)
        }
    }
}

extension JSONValue.Kind where T == Double {
    public static var double: Self { .init("a number") { $0.double } }
}

public struct JSONError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
