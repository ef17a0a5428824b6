import StrataFigures
import Testing

@Suite("Figures: measuring and wrapping text")
struct TextLayoutTests {
    @Test func wrappedLinesFitAndKeepEveryWord() {
        let text = "Colours: diverging colours, blue < 0 < red, white = 0; scale per projection: each scaled to its own range."
        let lines = Figure.wrap(text, width: 150, size: 8)
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { Figure.textWidth($0, size: 8) <= 150 })
        #expect(lines.joined(separator: " ") == text)
        #expect(Figure.wrap("", width: 100, size: 8) == [""])
        #expect(Figure.textWidth("wide text", size: 16) > 1.9 * Figure.textWidth("wide text", size: 8))
    }
}
