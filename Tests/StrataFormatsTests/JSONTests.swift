import Foundation
import StrataFormats
import Testing

@Suite("JSON writing")
struct JSONTests {
    @Test("strings round-trip through a JSON parser, whatever they hold")
    func stringsRoundTrip() throws {
        for s in ["plain", "quote \" and backslash \\", "line\nbreak\ttab\rreturn", "\u{01}\u{1f} controls", "ünïcödé 🎉", ""] {
            let text = JSON.string(s)
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) as? [String]
            #expect(parsed == [s], "\(text)")
        }
    }

    @Test func arrays() {
        #expect(JSON.array([1, 22, 333]) == "[1, 22, 333]")
        #expect(JSON.array([]) == "[]")
    }
}
