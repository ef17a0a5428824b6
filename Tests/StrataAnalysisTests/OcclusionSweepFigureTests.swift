import Foundation
import StrataAnalysis
import StrataCPU
import StrataFigures
import StrataIR
import StrataPlan
import StrataTrain
import Testing

/// What the occlusion (Fig. 7), sweep (Fig. 5) and sweep-strip figures say on themselves: titles,
/// column and axis titles, colour bars with their ranges, legends, captions with the settings, and
/// raw pixels where images are drawn.
@Suite("Occlusion and sweep figures")
struct OcclusionSweepFigureTests {
    /// The texts and colour bars a drawing records.

    /// A rule subtracting `mean` from 2×8×8 images.
    func rule(mean: [Float]) -> InputRule {
        InputRule(preprocessing: Preprocessing(stored: (2, 8, 8), input: (8, 8), mean: mean, flip: false, randomCrop: false, pcaColor: 0,
                                               pcaValues: [], pcaVectors: []), description: "a test mean")
    }

    func occlusionFigure(scale: HeatmapScale, projected: Bool = true) throws -> OcclusionFigure {
        let graph = try compile(smallNet)
        let weights = randomWeights(graph)
        var input = AnalysisInput(raw: randomImages(3, 128), count: 3, labels: [2, 0, 1], names: ["a", "b", "c"],
                                  rule: rule(mean: randomImages(1, 128, seed: 7).map { 0.2 + 0.5 * $0 }))
        input.classNames = ["cat", "dog", "bird"]
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 5, keeping: [4, 6], weights: weights)
        let r = try Occlusion.run(input, runner: runner, layer: 4, patch: 3, stride: 2)
        let shown = Array(r.strongest.prefix(2))
        let projector = try Projection.runner(graph: graph, layer: 4, rule: .deconvnet, backend: CPUBackend(), batch: 5, weights: weights)
        let projections = projected ? try Projection.project(shown, input: input, runner: projector, layer: 4) : nil
        return OcclusionFigure(occlusion: r, input: input, shape: graph.input, shown: 2, projections: projections,
                               fields: shown.map { ReceptiveField.of(graph, node: 4, row: $0.row, column: $0.column) }, network: "small", layer: "r2",
                               checkpoint: "w.safetensors", fill: .grey, scale: scale, clipPercent: 1)
    }

    @Test func theOcclusionFigureHasItsPanelsColourBarsAndLegend() throws {
        for scale in HeatmapScale.allCases {
            let figure = try occlusionFigure(scale: scale)
            let (texts, bars) = try figure.record()
            let title = try #require(texts.first)
            let maps = Set(figure.occlusion.strongestMap.prefix(2)).sorted().map(String.init).joined(separator: ", ")
            #expect(title.contains("small") && title.contains("layer r2") && title.contains("checkpoint w.safetensors") && title.contains("images 0–1")
                    && title.contains(maps), "\(title)")
            for column in ["(a) input, occluder where", "(b) strongest map's total", "(c) its strongest activation,", "(d) p(true class),",
                           "(e) most probable class,"] {
                #expect(texts.contains(column), "\(column)")
            }
            let caption = texts.joined(separator: " ")
            #expect(caption.contains("3×3-pixel square moved by 2 pixels") && caption.contains("filled grey (0.5)")
                    && caption.contains("--scale \(scale.rawValue)") && caption.contains("--clip-percentile 1") && caption.contains("deconvnet projection"),
                    "\(texts)")
            // Three heat maps with colour bars per row; shared probabilities on [0, 1], per-image on their own range.
            #expect(bars.map(\.label) == Array(repeating: ["summed activation", "projection (signed)", "p(true class)"], count: 2).flatMap { $0 })
            let probability = bars.filter { $0.label == "p(true class)" }
            if scale == .shared {
                #expect(probability.allSatisfy { $0.range == (0, 1) })
                #expect(bars[0].range == bars[3].range && bars[1].range == bars[4].range)
            } else {
                let own = figure.occlusion.probability[0..<9]
                #expect(probability[0].range.0 == Double(own.min()!) && probability[0].range.1 == Double(own.max()!))
            }
            // The projection's range is centred on 0.
            #expect(bars[1].range.0 == -bars[1].range.1 && bars[1].range.1 > 0)
            // Each row names its image, true class and map; the legend names every class drawn.
            #expect(texts.contains { $0.hasPrefix("image 0 (a) · true class 2 (bird) · strongest map \(figure.occlusion.strongestMap[0])") }, "\(texts)")
            let classes = Set(figure.occlusion.topClass.prefix(18).map(Int.init) + [2, 0]).sorted()
            #expect(texts.contains("(e) classes:") && classes.allSatisfy { texts.contains(["0: cat", "1: dog", "2: bird"][$0]) })
        }
        let missing = try occlusionFigure(scale: .perImage, projected: false)
        let (texts, bars) = try missing.record()
        #expect(texts.contains("not computed") && bars.count == 4)
    }

    /// Panel (a) is the raw image (not mean-subtracted) with the grey square where p(true) is lowest.
    @Test func theOcclusionFiguresInputIsRawWithTheOccluderWhereTheTrueClassDropsMost() throws {
        let figure = try occlusionFigure(scale: .perImage)
        for i in 0..<2 {
            let low = figure.lowest(i)
            let maps = figure.occlusion.probability[(i * 9)..<((i + 1) * 9)]
            #expect(low.probability == maps.min()! && maps[i * 9 + low.row * 3 + low.column] == low.probability)
            let pixels = figure.occludedImage(i), raw = Array(figure.input.rawImage(i))
            for ch in 0..<2 { for y in 0..<8 { for x in 0..<8 {
                let inside = (low.row * 2..<low.row * 2 + 3).contains(y) && (low.column * 2..<low.column * 2 + 3).contains(x)
                let k = (ch * 8 + y) * 8 + x
                #expect(pixels[k] == (inside ? 0.5 : raw[k]))
            } } }
        }
    }

    func sweepRows() -> (AnalysisInput, [SweepRow]) {
        var input = AnalysisInput(images: randomImages(5, 128), count: 5, labels: [0, 1, 2, 0, 1], names: (0..<5).map { "\($0)" }, perImage: 128)
        input.classNames = ["cat", "dog", "bird"]
        var rows: [SweepRow] = []
        for amount in [-2.0, 0, 2] {
            for image in 0..<5 {
                for layer in ["c1", "r2", "f1"] {
                    let d = abs(amount) * Double(image + 1)
                    rows.append(SweepRow(image: image, transform: .translateX, amount: amount, layer: layer, distance: d, relativeDistance: d / 10,
                                         trueProbability: amount == 0 ? 0.9 : 0.4, topLabel: 0))
                }
            }
        }
        return (input, rows)
    }

    @Test func theSweepFigureHasThreePanelsALegendAndTheSettings() throws {
        let (input, rows) = sweepRows()
        let figure = SweepFigure(transform: .translateX, amounts: [-2, 0, 2], rows: rows, input: input, shown: 2, layers: ["c1", "r2"],
                                 swept: ["c1", "r2", "f1"], network: "small", checkpoint: "w.safetensors", fill: .edge, interpolation: .nearest)
        let (texts, bars) = try figure.record()
        #expect(texts[0] == "Invariance to horizontal translation (translate-x, ZF Fig. 5): small, checkpoint w.safetensors, layers c1 and r2")
        for panel in ["(a) distance at c1", "(b) distance at r2", "(c) p(true class)", "‖f(T(x)) − f(x)‖ at c1", "‖f(T(x)) − f(x)‖ at r2",
                      "p(true class) (probability)", Transform.translateX.axisLabel] {
            #expect(texts.contains(panel), "\(panel)")
        }
        #expect(texts.contains("mean of 5 images ± 95% interval") && texts.contains("image 0 (0: cat)") && texts.contains("image 1 (1: dog)")
                && !texts.contains { $0.hasPrefix("image 2") })
        let caption = texts.joined(separator: " ")
        #expect(caption.contains("fill edge, interpolation nearest") && caption.contains("T(x) − μ") && caption.contains("5 images")
                && caption.contains("layers swept: c1, r2, f1") && caption.contains("absolute, as the paper plots it") && caption.contains("95% interval"))
        #expect(bars.isEmpty)
        // The series: the mean over all images and each shown image's values, per amount.
        #expect(figure.amounts == [-2, 0, 2] && figure.rows.count == rows.count)
    }

    @Test func theSweepFiguresLayersAreTheLowestAndTheHighestBeforeTheClassifier() throws {
        let graph = try compile(smallNet)   // c1 r1 p1 c2 r2 f1 prob: the classifier is f1 (5)
        #expect(Sweep.figureLayers(graph, layers: [5, 4, 1]) == [1, 4])
        #expect(Sweep.figureLayers(graph, layers: [1, 5]) == [1, 5])
        #expect(Sweep.figureLayers(graph, layers: [4]) == [4])
        #expect(Sweep.figureLayers(graph, layers: []) == [])
    }

    @Test func everyTransformHasAUnitAnAxisLabelAndAmountLabels() {
        for t in Transform.allCases {
            #expect(!t.axisLabel.isEmpty && !t.noun.isEmpty && t.label(t.identity).contains(Ticks.short(t.identity)))
        }
        #expect(Transform.rotate.label(30) == "30°" && Transform.translateY.label(-3) == "-3 px" && Transform.scale.label(1.2) == "1.2×")
        #expect(Transform.blur.label(2) == "σ 2 px" && Transform.noise.label(0.1) == "w 0.1" && Transform.rotate.unit == "°")
    }

    /// A strip: a row per image and a column per amount (sampled evenly past 40), raw pixels transformed, titled.
    @Test func aStripIsRawPixelsTransformedWithTitledRowsAndColumns() throws {
        #expect(Sweep.sample(Array(0..<100), count: 5) == [0, 24, 49, 74, 99])
        #expect(Sweep.sample([1, 2, 3], count: 5) == [1, 2, 3])
        var input = AnalysisInput(raw: randomImages(5, 128), count: 5, labels: [0, 1, 2, 0, 1], names: (0..<5).map { "\($0)" },
                                  rule: rule(mean: [Float](repeating: 0.4, count: 128)))
        input.classNames = ["cat", "dog", "bird"]
        let shape = try compile(smallNet).input
        let many = SweepStrip(input, shape: shape, transform: .translateX, amounts: (0..<50).map(Double.init), images: 3)
        #expect(many.amounts.count == Sweep.stripColumns && many.amounts.first == 0 && many.amounts.last == 49 && many.total == 50)
        #expect(many.images == [0, 1, 2] && many.pixels(row: 2, column: 39).count == 128)
        let few = SweepStrip(input, shape: shape, transform: .rotate, amounts: [0, 90], images: 9, fill: .mean)
        #expect(few.images == [0, 1, 2, 3, 4])
        // The identity column is the raw image (not the network's mean-subtracted input); 90° is the raw image rotated.
        #expect(few.pixels(row: 0, column: 0) == Array(input.rawImage(0)) && few.pixels(row: 0, column: 0) != Array(input.image(0)))
        var turned = [Float](repeating: 0, count: 128)
        Array(input.rawImage(1)).withUnsafeBufferPointer { x in
            turned.withUnsafeMutableBufferPointer { Transform.rotate.apply(x.baseAddress!, $0.baseAddress!, channels: 2, height: 8, width: 8, amount: 90) }
        }
        #expect(few.pixels(row: 1, column: 1) == turned)
        let (texts, bars) = try many.record()
        #expect(texts[0] == "The sweep's inputs, translate-x: images 0–2 at each amount" && bars.isEmpty)
        #expect(texts.contains("image 2") && texts.contains("2: bird") && texts.contains("0 px") && texts.contains("49 px")
                && texts.contains(Transform.translateX.axisLabel))
        let caption = texts.joined(separator: " ")
        #expect(caption.contains("40 of the 50 amounts, evenly spaced") && caption.contains("fill black, interpolation bilinear")
                && caption.contains("before the mean is subtracted"))
    }
}
