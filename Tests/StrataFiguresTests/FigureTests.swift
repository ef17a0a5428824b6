import Foundation
import StrataFigures
import StrataFormats
import Testing

/// One drawing, three formats: a PNG of the right size whose pixels show what was drawn, a PDF
/// and an SVG with the same content as vectors.
@Suite("Figures: Cairo drawing in PNG, PDF and SVG")
struct FigureTests {
    /// A small figure with every element: heading, picture, heat map with colour bar, plot with a band, legend.
    func sample(_ canvas: Canvas) {
        Heading.draw(canvas, title: "a title", caption: ["patch 4, stride 2"])
        canvas.image(RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255]), in: Rect(10, 40, 40, 20))
        let values: [Float] = [0, 1, 2, 3]
        canvas.image(RGBImage(values: values[...], rows: 2, columns: 2, map: .viridis, range: (0, 3)), in: Rect(60, 40, 40, 40))
        ColourBar.draw(canvas, in: Rect(104, 40, ColourBar.width, 40), map: .viridis, range: (0, 3), label: "activation")
        let plot = Plot(canvas, in: Rect(10, 90, 180, 100), x: (0, 10), y: (0, 1), xLabel: "shift (pixels)", yLabel: "p(true class)", title: "a plot")
        plot.band([0, 5, 10], low: [0.1, 0.2, 0.3], high: [0.5, 0.6, 0.7], Colour.series(0))
        plot.line([0, 5, 10], [0.3, 0.4, 0.5], Colour.series(0))
        Legend.draw(canvas, at: Point(200, 90), entries: [("mean", Colour.series(0)), ("image 1", Colour.series(1))])
    }

    /// A plot with categories labels x = 0, 1, … with them instead of numbers.
    @Test func aPlotLabelsCategories() throws {
        var texts: [String] = []
        _ = try Figure.render(width: 260, height: 200, format: .png) { canvas in
            _ = Plot(canvas, in: Rect(10, 10, 240, 180), x: (0, 2), y: (0, 1), xLabel: "step", yLabel: "SSIM", title: "t",
                     categories: ["trained", "fc8", "fc7"])
            texts = canvas.texts
        }
        #expect(texts.contains("trained") && texts.contains("fc8") && texts.contains("fc7"))
        #expect(!texts.contains("1.5") && !texts.contains("2"), "no numeric x ticks (y runs 0…1): \(texts)")
    }

    @Test func aPNGHasTheSizeAndThePixelsDrawn() throws {
        let data = try Figure.render(width: 260, height: 200, format: .png, sample)
        // STRATA_FIGURE_OUT=folder keeps the sample, to look at.
        if let folder = ProcessInfo.processInfo.environment["STRATA_FIGURE_OUT"] {
            try data.write(to: URL(fileURLWithPath: folder + "/figure-sample.png"))
            try Figure.render(width: 260, height: 200, format: .pdf, sample).write(to: URL(fileURLWithPath: folder + "/figure-sample.pdf"))
        }
        let image = try Images.decode(data, path: "figure.png", channels: 3)
        #expect(image.width == 520 && image.height == 400, "2 pixels per point")
        // The picture's left pixel is red and its right blue, unsmoothed (nearest neighbour).
        func pixel(_ x: Int, _ y: Int) -> [Float] { (0..<3).map { image.pixels[($0 * image.height + y) * image.width + x] } }
        #expect(pixel(30, 100) == [255, 0, 0])
        #expect(pixel(90, 100) == [0, 0, 255])
        // The heat map's corners: viridis at 0 (dark purple) and 3 (yellow).
        #expect(pixel(125, 85) == [68, 1, 84])
        #expect(pixel(195, 155) == [253, 231, 37])
        // Text is drawn (dark pixels where the title is), so the font was found.
        var dark = 0
        for y in 12...34 { for x in 20...120 where pixel(x, y).allSatisfy({ $0 < 100 }) { dark += 1 } }
        #expect(dark > 30, "the title's glyphs are drawn (DejaVu Sans from fonts-dejavu-core)")
    }

    @Test func pdfAndSVGAreVectorsOfTheSameDrawing() throws {
        let pdf = try Figure.render(width: 260, height: 200, format: .pdf, sample)
        #expect(String(decoding: pdf.prefix(5), as: UTF8.self) == "%PDF-")
        let pdfText = String(decoding: pdf, as: UTF8.self)
        #expect(pdfText.contains("DejaVu"), "the font is embedded")
        let svg = String(decoding: try Figure.render(width: 260, height: 200, format: .svg, sample), as: UTF8.self)
        #expect(svg.contains("<svg") && svg.contains("width=\"260\"") && svg.contains("height=\"200\""))
        #expect(svg.contains("<path"), "lines and glyphs as paths")
        #expect(svg.contains("<image style=\"image-rendering:pixelated\""), "pictures embedded, drawn pixel for pixel in a browser too")
    }

    @Test func theCanvasRecordsWhatTheFigureSays() throws {
        var texts: [String] = [], bars: [String] = []
        _ = try Figure.render(width: 260, height: 200, format: .png) { canvas in
            sample(canvas)
            texts = canvas.texts
            bars = canvas.colourBars.map(\.label)
        }
        for expected in ["a title", "patch 4, stride 2", "shift (pixels)", "p(true class)", "a plot", "mean", "image 1", "activation"] {
            #expect(texts.contains(expected), "'\(expected)' drawn")
        }
        #expect(bars == ["activation"])
        #expect(texts.contains("0") && texts.contains("10"), "x ticks at round numbers")
    }

    /// A categorical x axis names its categories where numbers would be, at 0, 1, …; intervals draw.
    @Test func categoriesReplaceTheNumbersOnTheXAxis() throws {
        var texts: [String] = []
        _ = try Figure.render(width: 200, height: 150, format: .svg) { canvas in
            let plot = Plot(canvas, in: Rect(0, 0, 200, 150), x: (0, 1), y: (0, 1), xLabel: "layer", yLabel: "distance", title: "t",
                            categories: ["relu1", "relu2", "fc8"])
            plot.interval(1, 0.5, low: 0.4, high: 0.6, .black)
            #expect(abs(plot.point(0, 0).x - (plot.area.x + plot.area.width / 6)) < 1e-9 && plot.x == (-0.5, 2.5))
            texts = canvas.texts
        }
        #expect(texts.contains("relu1") && texts.contains("relu2") && texts.contains("fc8") && texts.contains("layer"))
        #expect(!texts.contains("2") && !texts.contains("2.5") && !texts.contains("-0.5"), "\(texts)")   // no numeric x ticks
    }

    @Test func aFigureTooLargeOrEmptyIsAnError() {
        #expect(throws: FigureError.self) { try Figure.render(width: 5000, height: 10, format: .png) { _ in } }
        #expect(throws: FigureError.self) { try Figure.render(width: 0, height: 10, format: .svg) { _ in } }
    }

    @Test func ticksAreRoundNumbersCoveringTheRange() {
        #expect(Ticks.nice(0, 10, count: 5) == [0, 2, 4, 6, 8, 10])
        #expect(Ticks.nice(-0.3, 0.7, count: 4) == [-0.2, 0, 0.2, 0.4, 0.6])
        let tenths = Ticks.nice(0.5, 1.0, count: 5)
        #expect(tenths.count == 6 && abs(tenths[0] - 0.5) < 1e-12 && abs(tenths[5] - 1.0) < 1e-12)
        #expect(Ticks.label(0.25, step: 0.05) == "0.25")
        #expect(Ticks.label(20, step: 10) == "20")
        #expect(Ticks.nice(3, 3) == [3])
    }

    @Test func colourMapsHaveTheirEndsAndCentre() {
        #expect(ColourMap.viridis.colour(0).byte == (68, 1, 84))
        #expect(ColourMap.viridis.colour(1).byte == (253, 231, 37))
        #expect(ColourMap.diverging.colour(0.5).byte == (247, 247, 247), "0 is white on a range centred on 0")
        let blue = ColourMap.diverging.colour(0), red = ColourMap.diverging.colour(1)
        #expect(blue.b > blue.r && red.r > red.b)
        #expect(ColourMap.viridis.colour(.nan).byte == (68, 1, 84))
    }

    @Test func colourRangesClipAtThePercentile() {
        // 99 values 1…99 and one outlier of 10000.
        let values = (1...99).map(Float.init) + [10000]
        let clipped = ColourRange.of(values, signed: false, clipPercent: 1, note: "")
        #expect(clipped.low == 1 && clipped.high == 99, "the top 1% (the outlier) clipped")
        let whole = ColourRange.of(values, signed: false, clipPercent: 0, note: "")
        #expect(whole.high == 10000)
        let signed = ColourRange.of(values.map { -$0 } + [5], signed: true, clipPercent: 1, note: "")
        #expect(signed.low == -signed.high && signed.high == 99, "symmetric about 0")
        let empty = ColourRange.of([Float.nan], signed: true, clipPercent: 1, note: "")
        #expect(empty.low == -1 && empty.high == 1)
    }

    @Test func textIsWrappedToAWidthAtSpaces() throws {
        let text = "a caption long enough to need three or four lines at this width"
        let lines = TextLayout.wrap(text, width: 120, size: 8)
        #expect(lines.count >= 3 && lines.joined(separator: " ") == text)
        #expect(lines.allSatisfy { TextLayout.width($0, size: 8) <= 120 })
        #expect(TextLayout.wrap("unbreakable_word_wider_than_the_width", width: 10, size: 8) == ["unbreakable_word_wider_than_the_width"])
        #expect(TextLayout.wrap(lines: ["one", "two"], width: 100, size: 8) == ["one", "two"])
        // The canvas' metrics: a vector format's exactly, a PNG's within 2%.
        let width = TextLayout.width(text, size: 8, bold: true)
        for format in FigureFormat.allCases {
            _ = try Figure.render(width: 10, height: 10, format: format) { canvas in
                let drawn = canvas.textWidth(text, size: 8, bold: true)
                #expect(abs(drawn - width) <= (format == .png ? 0.02 * width : 0.01), "\(format): \(drawn) against \(width)")
            }
        }
    }
}
