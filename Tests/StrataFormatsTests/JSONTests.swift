import Foundation
@testable import StrataFormats
import Testing

@Suite("JSON writing")
struct JSONTests {
    static let awkward = ["plain", "quote \" and backslash \\", "line\nbreak\ttab\rreturn", "\u{01}\u{1f}\u{7f} controls", "ünïcödé 🎉", "</script>", "a/b", ""]

    @Test("strings round-trip through Foundation's parser and ours, whatever they hold")
    func stringsRoundTrip() throws {
        for s in Self.awkward {
            let text = JSONValue.array([.string(s)]).text()
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
            #expect(parsed == [s], "\(text)")
            #expect(try JSONValue.parse(Array(text.utf8)) == [.string(s)], "\(text)")
        }
    }

    @Test func escaping() {
        #expect(JSONValue.string("a\"b\\c\nd\te\r\u{01}\u{1f}").text() == #""a\"b\\c\nd\te\r\u0001\u001f""#)
        #expect(JSONValue.string("ü/🎉").text() == "\"ü/🎉\"")
        #expect(JSONValue.object([("k\"ey", 1)]).text() == #"{"k\"ey": 1}"#)
    }

    @Test func keysKeepTheirOrder() {
        let v: JSONValue = ["zeta": 1, "alpha": 2, "mid": [3, 4]]
        #expect(v.text() == #"{"zeta": 1, "alpha": 2, "mid": [3, 4]}"#)
        #expect(v.text(.minimal) == #"{"zeta":1,"alpha":2,"mid":[3,4]}"#)
        #expect(JSONValue.object([("b", .null), ("a", .bool(false))]).text() == #"{"b": null, "a": false}"#)
    }

    @Test func constructorsAndLiterals() {
        let v: JSONValue = ["s": "x", "i": 3, "d": 0.5, "t": true, "a": ["y", 1]]
        #expect(v == .object([("s", .string("x")), ("i", .number("3")), ("d", .number("0.5")), ("t", .bool(true)),
                              ("a", .array([.string("y"), .number("1")]))]))
        #expect(JSONValue.int(UInt64.max).text() == "18446744073709551615" && JSONValue.int(-7).text() == "-7")
        #expect(JSONValue.double(0.1).text() == "0.1" && JSONValue.double(3).text() == "3.0" && JSONValue.double(1e-5).text() == "1e-05")
        #expect(JSONValue.double(1.0 / 3, decimals: 2).text() == "0.33" && JSONValue.float(0.1).text() == "0.1")
        #expect(JSONValue.ints([1, 22, 333]).text() == "[1, 22, 333]" && JSONValue.ints([]).text() == "[]")
        #expect(JSONValue.strings(["a", "b"]).text(.minimal) == #"["a","b"]"#)
    }

    /// JSON has no NaN or infinity: the constructors give null, and a `.number` that holds other
    /// text than a JSON number is written null too, so the text always parses.
    @Test func nonFiniteNumbersAreNull() throws {
        for x in [Double.nan, .infinity, -.infinity] {
            #expect(JSONValue.double(x) == .null && JSONValue.double(x, decimals: 3) == .null)
        }
        #expect(JSONValue.float(.nan) == .null && JSONValue.float(-.infinity) == .null)
        let v: JSONValue = .array([.number("nan"), .number("inf"), .number("1."), .number("01"), .number(""), .number("-2.5e+3")])
        #expect(v.text() == "[null, null, null, null, null, -2.5e+3]")
        _ = try JSONValue.parse(Array(v.text().utf8))
    }

    @Test func nesting() {
        let v: JSONValue = ["a": [[], [1, [2, ["b": [:]]]]], "o": ["p": ["q": "r"]], "e": [:]]
        #expect(v.text() == #"{"a": [[], [1, [2, {"b": {}}]]], "o": {"p": {"q": "r"}}, "e": {}}"#)
        #expect(v.text(.minimal) == #"{"a":[[],[1,[2,{"b":{}}]]],"o":{"p":{"q":"r"}},"e":{}}"#)
    }

    /// Pretty: the outermost value broken one member per line, nested values of scalars on one line,
    /// deeper structure broken the same way.
    @Test func pretty() {
        let v: JSONValue = ["command": "sweep", "arguments": ["a", "b"], "parameters": ["fill": "black"], "files": [], "none": [:],
                            "rows": [["x": 1], ["x": 2]]]
        #expect(v.text(.pretty) == """
            {
              "command": "sweep",
              "arguments": ["a", "b"],
              "parameters": {"fill": "black"},
              "files": [],
              "none": {},
              "rows": [
                {"x": 1},
                {"x": 2}
              ]
            }
            """)
        let list: JSONValue = [["image": 1, "activation": 0.5], ["image": 2, "activation": 0.25]]
        #expect(list.text(.pretty) == "[\n  {\"image\": 1, \"activation\": 0.5},\n  {\"image\": 2, \"activation\": 0.25}\n]")
        #expect(JSONValue.object([]).text(.pretty) == "{}" && JSONValue.int(3).text(.pretty) == "3")
    }

    @Test("parse(text(v)) == v, in every style")
    func roundTrip() throws {
        var deep: JSONValue = "leaf"
        for k in 0..<10 { deep = k % 2 == 0 ? [deep, .int(k), .null] : ["k\(k)": deep, "s": .string(Self.awkward[k % Self.awkward.count])] }
        let values: [JSONValue] = [
            .null, true, false, 0, -12, .double(3.5e-7), .double(-0.0), .int(Int.min), "",
            .strings(Self.awkward), .object(Self.awkward.enumerated().map { ($0.1, .int($0.0)) }),
            ["a": [], "b": [:], "c": [[], [:]]], deep,
        ]
        for v in values {
            for style in [JSONValue.Style.compact, .minimal, .pretty] {
                let text = v.text(style)
                #expect(try JSONValue.parse(Array(text.utf8)) == v, "\(style): \(text)")
                _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
            }
        }
    }

    @Test func fieldsNameTheFileAndTheKey() throws {
        let v: JSONValue = ["row": "base", "seed": -3, "loss": "high", "best": .null]
        let fields = try JSONValue.Fields(v, path: "out/result.json", what: "an experiment result")
        #expect(try fields.required("row", .string) == "base")
        #expect(try fields.required("seed", .int) == -3)
        #expect(try fields.optional("best", .double) == nil && (try fields.optional("absent", .double)) == nil)
        let seed = #expect(throws: FormatError.self) { try fields.required("seed", .uint64) }
        #expect(seed?.description == "out/result.json: 'seed' is not a whole number ≥ 0 (it is -3)")
        let loss = #expect(throws: FormatError.self) { try fields.optional("loss", .double) }
        #expect(loss?.description == #"out/result.json: 'loss' is not a number (it is "high")"#)
        let missing = #expect(throws: FormatError.self) { try fields.required("spec", .string) }
        #expect(missing?.description == "out/result.json: it lacks 'spec'")
        let notObject = #expect(throws: FormatError.self) { try JSONValue.Fields([1], path: "t.json", what: "a tuning file") }
        #expect(notObject?.description == "t.json: it is not a tuning file (a JSON object)")
        let unreadable = #expect(throws: FormatError.self) { try JSONValue.Fields(path: "/nonexistent/r.json", what: "a result") }
        #expect(unreadable?.description.hasPrefix("/nonexistent/r.json: cannot read it") == true)
    }
}
