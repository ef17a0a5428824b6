import Testing
@testable import StrataDiagnostics

typealias SourceLocation = StrataDiagnostics.SourceLocation

@Suite("Diagnostics")
struct DiagnosticTests {
    let here = SourceLocation(file: "net.yaml", line: 2, column: 9)

    @Test func firstLineHasTheCompilerForm() {
        let d = Diagnostic.error("unknown op 'covn'", at: here)
        #expect(d.description == "net.yaml:2:9: error: unknown op 'covn'")
        #expect(Diagnostic.error("cannot read", at: nil).description == "error: cannot read")
    }

    @Test func rendersTheSourceLineWithACaretAndNotes() {
        let text = "name: x\nlayers: [{op: covn}]\n"
        let d = Diagnostic.error("unknown op 'covn'", at: SourceLocation(file: "net.yaml", line: 2, column: 15),
                                 notes: [.note("did you mean 'conv'?", at: SourceLocation(file: "net.yaml", line: 2, column: 15)),
                                         .note("the spec starts here", at: SourceLocation(file: "net.yaml", line: 1, column: 1))])
        let rendered = DiagnosticRenderer(sources: ["net.yaml": text]).render(d)
        #expect(rendered == """
            net.yaml:2:15: error: unknown op 'covn'
              layers: [{op: covn}]
                            ^
            net.yaml:2:15: note: did you mean 'conv'?
            net.yaml:1:1: note: the spec starts here
              name: x
              ^

            """)
    }

    @Test func caretKeepsTabsAndCountsUnicodeScalars() {
        let text = "\tname: \"é\" x\n"
        let rendered = DiagnosticRenderer(sources: ["f": text]).render(.error("bad", at: SourceLocation(file: "f", line: 1, column: 12)))
        #expect(rendered.hasSuffix("  \tname: \"é\" x\n  \t          ^\n"))
    }

    @Test func controlCharactersAreNotPrinted() {
        let rendered = DiagnosticRenderer(sources: ["f": "a\u{1B}[31mb\n"]).render(.error("bad", at: SourceLocation(file: "f", line: 1, column: 2)))
        #expect(!rendered.contains("\u{1B}"))
    }

    @Test func unknownFilesAndLinesRenderOnlyTheFirstLine() {
        let d = Diagnostic.error("bad", at: SourceLocation(file: "gone.yaml", line: 40, column: 1))
        #expect(DiagnosticRenderer(sources: ["gone.yaml": "one line\n"]).render(d) == "gone.yaml:40:1: error: bad\n")
        #expect(DiagnosticRenderer().render(d) == "gone.yaml:40:1: error: bad\n")
    }

    @Test func bagSortsByPlaceAndThrowsOnlyWithErrors() throws {
        var bag = DiagnosticBag()
        try bag.throwIfErrors()
        bag.error("second", at: SourceLocation(file: "a", line: 3, column: 1))
        bag.error("first", at: SourceLocation(file: "a", line: 1, column: 5))
        bag.error("unplaced", at: nil)
        let error = #expect(throws: DiagnosticError.self) { try bag.throwIfErrors() }
        #expect(error?.diagnostics.map(\.message) == ["unplaced", "first", "second"])
    }

    @Test(arguments: [
        ("filtrs", ["filters", "kernel", "stride"], "filters"),
        ("covn", ["conv", "maxpool", "fc"], "conv"),
        ("maxpol", ["conv", "maxpool", "avgpool"], "maxpool"),
        ("Kernel", ["filters", "kernel"], "kernel"),
        ("stirde", ["stride", "pad"], "stride"),
    ])
    func suggestsCloseSpellings(word: String, candidates: [String], expected: String) {
        #expect(Spelling.suggestion(for: word, among: candidates) == expected)
    }

    @Test func doesNotSuggestUnrelatedWords() {
        #expect(Spelling.suggestion(for: "banana", among: ["conv", "fc", "lrn"]) == nil)
        #expect(Spelling.suggestion(for: "x", among: ["fc"]) == nil)
        #expect(Spelling.suggestion(for: String(repeating: "q", count: 500), among: ["conv"]) == nil)
    }

    @Test func editDistanceCountsTranspositionsAsOne() {
        #expect(Spelling.distance("kernel", "kernel") == 0)
        #expect(Spelling.distance("kenrel", "kernel") == 1)
        #expect(Spelling.distance("", "abc") == 3)
        #expect(Spelling.distance("conv", "fc") == 4)
    }
}
