import StrataFigures
import Testing

@Suite("Figures: measuring and wrapping text")
struct TextLayoutTests {
    @Test func wrappedLinesFitAndKeepEveryWord() {
        let text = "Colours: diverging colours, blue < 0 < red, white = 0; scale per projection: each scaled to its own range."
        let lines = TextLayout.wrap(text, width: 150, size: 8)
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { TextLayout.width($0, size: 8) <= 150 })
        #expect(lines.joined(separator: " ") == text)
        #expect(TextLayout.wrap("", width: 100, size: 8) == [""])
        #expect(TextLayout.width("wide text", size: 16) > 1.9 * TextLayout.width("wide text", size: 8))
    }
}
