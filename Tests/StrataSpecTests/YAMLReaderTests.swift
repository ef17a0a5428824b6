import StrataDiagnostics
@testable import StrataSpec
import Testing

@Suite("YAML reader")
struct YAMLReaderTests {
    @Test func keepsLocationsOfKeysAndValues() throws {
        let root = try YAMLReader.parse(text: "name: x\ninput:\n  channels: 3\n", file: "f.yaml")
        let entries = try #require(root.mapping)
        #expect(entries[0].key == "name")
        #expect(entries[0].keyLocation == SourceLocation(file: "f.yaml", line: 1, column: 1))
        #expect(entries[0].value.location == SourceLocation(file: "f.yaml", line: 1, column: 7))
        let channels = try #require(entries[1].value.mapping?[0])
        #expect(channels.keyLocation.line == 3 && channels.keyLocation.column == 3)
        #expect(channels.value.scalar == "3")
    }

    @Test func quotedScalarsAreStrings() throws {
        let root = try YAMLReader.parse(text: "a: 5\nb: \"5\"\nc: '5'\nd: !!str 5\n", file: "f")
        let values = try #require(root.mapping).map(\.value)
        #expect(ScalarValue.int(values[0]) == 5)
        #expect(values.dropFirst().allSatisfy { ScalarValue.int($0) == nil })
    }

    @Test func scalarTypesFollowTheCoreSchema() throws {
        func node(_ s: String) -> SpecNode { SpecNode(.scalar(s, plain: true), at: SourceLocation(file: "f", line: 1, column: 1)) }
        #expect(ScalarValue.int(node("-3")) == -3)
        #expect(ScalarValue.int(node("3.0")) == nil)
        #expect(ScalarValue.int(node("0x10")) == nil)
        #expect(ScalarValue.double(node("1e-4")) == 1e-4)
        #expect(ScalarValue.double(node(".inf")) == nil)
        #expect(ScalarValue.double(node("nan")) == nil)
        #expect(ScalarValue.bool(node("true")) == true)
        #expect(ScalarValue.bool(node("yes")) == nil)
        #expect(node("~").isNull && node("").isNull && node("null").isNull)
    }

    @Test func emptyDocumentIsAnEmptyMapping() throws {
        #expect(try YAMLReader.parse(text: "", file: "f").mapping?.isEmpty == true)
        #expect(try YAMLReader.parse(text: "# only a comment\n", file: "f").mapping?.isEmpty == true)
    }

    @Test func syntaxErrorsAreLocated() {
        let error = #expect(throws: DiagnosticError.self) { try YAMLReader.parse(text: "name: x\ninput: [1\n", file: "f") }
        #expect(error?.diagnostics.first?.message.hasPrefix("invalid YAML") == true)
        #expect(error?.diagnostics.first?.location?.line == 3)
    }

    @Test func duplicateKeysAreErrors() {
        let error = #expect(throws: DiagnosticError.self) { try YAMLReader.parse(text: "a: 1\nb: 2\na: 3\n", file: "f") }
        #expect(error?.diagnostics.first?.message.contains("duplicate key 'a'") == true)
    }

    @Test func nonScalarKeysAreErrors() {
        let error = #expect(throws: DiagnosticError.self) { try YAMLReader.parse(text: "? [a, b]\n: 1\n", file: "f") }
        #expect(error?.diagnostics.first?.message == "mapping keys must be names, not lists")
    }

    @Test func invalidUTF8IsReportedAtItsByte() {
        let bytes = Array("name: x\nin".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let error = #expect(throws: DiagnosticError.self) { try YAMLReader.parse(bytes: bytes, file: "f") }
        #expect(error?.diagnostics.first?.location == SourceLocation(file: "f", line: 2, column: 3))
        #expect(error?.diagnostics.first?.message == "spec is not UTF-8 text: invalid byte 0xC3")
    }

    @Test func utf8ValidationAcceptsMultibyteText() {
        #expect(YAMLReader.firstInvalidUTF8(Array("é € 𝄞 ok".utf8)) == nil)
        #expect(YAMLReader.firstInvalidUTF8([0xE0, 0x80, 0x80]) == 0)      // overlong
        #expect(YAMLReader.firstInvalidUTF8([0xED, 0xA0, 0x80]) == 0)      // surrogate
        #expect(YAMLReader.firstInvalidUTF8([0x61, 0xF0, 0x9F]) == 1)      // truncated
    }

    @Test func oversizedFilesAreRefused() {
        let bytes = [UInt8](repeating: UInt8(ascii: "#"), count: YAMLReader.maximumBytes + 1)
        let error = #expect(throws: DiagnosticError.self) { try YAMLReader.parse(bytes: bytes, file: "f") }
        #expect(error?.diagnostics.first?.message.contains("larger than") == true)
    }

    @Test(arguments: [
        ("a: &x 1\nb: *x\n", 2, 4),
        ("a: [*x]\n", 1, 5),
        ("- *x\n", 1, 3),
        ("a: {k: *x}\n", 1, 8),
    ])
    func aliasesAreRefused(text: String, line: Int, column: Int) {
        let error = #expect(throws: DiagnosticError.self) { try YAMLReader.parse(text: text, file: "f") }
        #expect(error?.diagnostics.first?.location == SourceLocation(file: "f", line: line, column: column))
        #expect(error?.diagnostics.first?.message == "YAML aliases are not allowed in a spec")
    }

    @Test(arguments: [
        "a: \"*not an alias\"\n",
        "a: '*x'\n",
        "a: 2*3\n",
        "a: x # *comment\n",
        "a: |\n  *literal text\nb: 1\n",
        "a: it's *fine\n",
    ])
    func starsThatAreNotAliasesAreFine(text: String) throws {
        _ = try YAMLReader.parse(text: text, file: "f")
    }

    /// Hostile inputs end quickly with a located error and bounded memory. The bound is generous
    /// (a debug build on a loaded 2-core machine); each finishes in milliseconds.
    static let hostileInputs: [(String, String)] = {
        let depth = 20_000
        let flow = "name: x\nlayers: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let mappings = "layers: " + String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
        let compact = "layers: " + String(repeating: "- ", count: depth) + "x\n"
        let block = (0...1_000).map { String(repeating: " ", count: $0) + "-\n" }.joined()
        return [("alias bomb", billionLaughs()), ("flow nesting 20,000 deep", flow), ("mapping nesting 20,000 deep", mappings),
                ("compact sequences 20,000 deep", compact), ("block nesting 1,001 deep", block)]
    }()

    /// Refused up front (aliases) or at a depth limit (nesting), so the work is bounded by the
    /// input's size; speed itself is not asserted here (it lives in benchmarks).
    @Test(arguments: hostileInputs)
    func hostileInputEndsWithAnError(name: String, text: String) {
        let error = #expect(throws: DiagnosticError.self, "\(name)") { try YAMLReader.parse(text: text, file: "f") }
        #expect(error?.diagnostics.first?.location != nil)
    }

    @Test func randomBinaryEndsWithAnError() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<50 {
            let bytes = (0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(throws: DiagnosticError.self) { try YAMLReader.parse(bytes: bytes, file: "f") }
        }
    }
}

func billionLaughs() -> String {
    var lines = ["a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]"]
    for i in 1..<10 {
        let this = String(UnicodeScalar(UInt8(97 + i))), previous = String(UnicodeScalar(UInt8(96 + i)))
        lines.append("\(this): &\(this) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]")
    }
    return lines.joined(separator: "\n") + "\n? *j\n: 1\n"
}

/// A small deterministic generator for tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
