import Foundation
import StrataAnalysis
import StrataFigures
import StrataFormats
import StrataIR
import Testing

/// What deconv's, evolve's and filters' figures say: titles, panel and cell labels, the caption's
/// settings, and colour bars (each would fail if one went missing).
@Suite("Figures of projections, their evolution and filters")
struct AnalysisFigureTests {
    /// Every text and colour bar a figure of `size` draws.

    func settings(_ scale: HeatmapScale, clip: Double, weights: String = "w.safetensors") -> ProjectionSettings {
        ProjectionSettings(network: "small", layer: "r1", rule: .deconvnet, weights: weights, images: "3 images of x.npy", scale: scale, clipPercent: clip)
    }

    /// r1 (after a 3×3 conv, pad 1) of the two-channel small net: three activations, their
    /// projections `k + 1` halves in channel 0 (0 in channel 1).
    func mapFigure(_ scale: HeatmapScale, clip: Double, count: Int = 3) throws -> ProjectionFigure {
        let graph = try compile(smallNet)
        let input = AnalysisInput(images: randomImages(3, 128), count: 3, labels: [0, 2, 1], names: ["a", "b", "c"], perImage: 128)
        let places = [(0, 3, 3, 2), (2, 4, 4, 1.5), (1, 2, 5, 1)]
        let activations = (0..<count).map { k in
            let p = places[k % 3]
            return Activation(image: p.0, map: 1, row: p.1, column: p.2, value: Float(p.3))
        }
        let projections = (0..<count).map { k in (0..<128).map { $0 < 64 ? Float(k % 3 + 1) / 2 : 0 } }
        return ProjectionFigure(graph: graph, node: 1, activations: activations, projections: projections, input: input,
                                classNames: ["zero", "one", "two"], settings: settings(scale, clip: clip))
    }

    @Test func aMapFigureNamesLayerMapRuleAndEveryProjectionAndPatch() throws {
        let figure = try mapFigure(.perImage, clip: 1)
        let (texts, bars) = try figure.record()
        #expect(texts.first == "small r1, map 1: the 3 strongest activations projected to the input")
        #expect(texts.contains("projections (deconvnet)") && texts.contains("input patches (raw pixels)"))
        for label in ["#0 · 2", "#2 · 1.5", "#1 · 1", "#0 · zero", "#2 · one", "#1 · two"] { #expect(texts.contains(label), "\(label)") }
        let caption = texts.joined(separator: " ")
        for part in ["Weights: w.safetensors.", "Searched: 3 images of x.npy", "Rule: deconvnet (ZF:", "receptive field (up to 3×3 input pixels)",
                     "scale per projection", "|x| at percentile 99, the top 1% clipped", "summed over the input's 2 channels"] {
            #expect(caption.contains(part), "\(part)")
        }
        #expect(bars.count == 1 && bars[0].label == "projection ÷ own range" && bars[0].range == (-1, 1))
    }

    @Test func aSharedScaleHasOneRangeOnItsColourBar() throws {
        let figure = try mapFigure(.shared, clip: 0)
        let (texts, bars) = try figure.record()
        // Channel sums 0.5, 1 and 1.5: one range, ±1.5 with nothing clipped.
        #expect(bars.count == 1 && bars[0].label == "projection" && bars[0].range == (-1.5, 1.5))
        let caption = texts.joined(separator: " ")
        #expect(caption.contains("scale shared: one range, ±1.5, for all 3 projections") && caption.contains("nothing clipped"), "\(caption)")
    }

    @Test func aMapFigureShowsAtMostAHundred() throws {
        let figure = try mapFigure(.perImage, clip: 1, count: 150)
        #expect(figure.activations.count == ProjectionFigure.maximumShown && figure.found == 150)
        let (texts, _) = try figure.record()
        #expect(texts.joined(separator: " ").contains("the 100 largest of the 150 kept are shown"))
        #expect(figure.width <= Figure.maximumSide && figure.height <= Figure.maximumSide)
    }

    @Test func anOverviewHasABlockPerMapInBothPanels() throws {
        var overview = ProjectionOverview(settings: settings(.shared, clip: 0))
        var first = try mapFigure(.shared, clip: 0)
        first.map = 4
        overview.add(first)
        overview.add(try mapFigure(.shared, clip: 0, count: 2))
        #expect(overview.maps == 2)
        let (texts, bars) = try overview.record()
        #expect(texts.first == "small r1: the strongest activations of 2 maps projected to the input")
        #expect(texts.filter { $0 == "map 4" }.count == 2 && texts.filter { $0 == "map 1" }.count == 2)
        #expect(texts.contains("projections (deconvnet)") && texts.contains("input patches (raw pixels)"))
        #expect(texts.joined(separator: " ").contains("scale shared: one range, ±1.5, for all 5 projections"))
        #expect(bars.count == 1 && bars[0].range == (-1.5, 1.5))
    }

    func evolution(maps: [Int], epochs: [Int]) throws -> EvolutionFigure {
        let graph = try compile(smallNet)
        let cells = maps.count * epochs.count
        let activations = (0..<cells).map { k in Activation(image: k % 3, map: maps[k / epochs.count], row: 3, column: 3, value: Float(k)) }
        let projections = (0..<cells).map { k in (0..<128).map { Float(($0 + k) % 5) - 2 } }
        return EvolutionFigure(graph: graph, node: 1, epochs: epochs, maps: maps, activations: activations, projections: projections,
                               settings: settings(.shared, clip: 1, weights: "run/checkpoints"))
    }

    @Test func anEvolutionFigureLabelsEpochsAndMaps() throws {
        let figure = try evolution(maps: [0, 3], epochs: [1, 2, 5])
        let (texts, bars) = try figure.record()
        #expect(texts.first == "small r1: each map's strongest projection at every snapshot (deconvnet)")
        for label in ["epoch 1", "epoch 2", "epoch 5", "map 0", "map 3", "#0 · 0", "#2 · 5"] { #expect(texts.contains(label), "\(label)") }
        let caption = texts.joined(separator: " ")
        #expect(caption.contains("Snapshots: run/checkpoints (epochs 1, 2, 5)") && caption.contains("scale shared: one range"), "\(caption)")
        #expect(bars.count == 1 && bars[0].label == "projection" && bars[0].range.0 == -bars[0].range.1 && bars[0].range.1 > 0)
    }

    @Test func manyMapsShrinkTheCellsAndDropTheirLabels() throws {
        let figure = try evolution(maps: Array(0..<120), epochs: [1, 2])
        #expect(figure.height <= Figure.maximumSide)
        let (texts, _) = try figure.record()
        #expect(texts.contains("map 119") && !texts.contains { $0.hasPrefix("#") })
    }

    func filters(_ count: Int, channels: Int, groups: Int = 1, radius: Double? = nil, scale: HeatmapScale = .perImage) -> FiltersFigure {
        let weight = (0..<(count * channels * 9)).map { Float($0 % 7) - 3 }
        return FiltersFigure(network: "small", layer: "c1", weights: "w.safetensors", weight: weight, filters: count, channels: channels,
                             kernel: (3, 3), groups: groups, radius: radius, scale: scale, clipPercent: 1)
    }

    @Test func aFiltersFigureNumbersEveryFilterAndStatesRMSAndRadius() throws {
        let figure = filters(20, channels: 1, radius: 2)
        let (texts, bars) = try figure.record()
        #expect(texts.first == "small c1: 20 filters of 1×3×3")
        #expect((0..<20).allSatisfy { texts.contains(String($0)) })
        let caption = texts.joined(separator: " ")
        let rms = Filters.rms((0..<180).map { Float($0 % 7) - 3 }, filters: 20)
        let at = rms.filter { $0 >= 1.98 }.count
        #expect(at > 0 && at < 20)
        #expect(caption.contains("RMS per filter: \(Ticks.short(rms.min()!)) to \(Ticks.short(rms.max()!))"), "\(caption)")
        #expect(caption.contains("Clip radius (training.filter_rms_clip): 2; \(at) of 20 filters at it (within 1%), outlined."), "\(caption)")
        #expect(caption.contains("diverging colours") && caption.contains("scale per filter"))
        #expect(bars.count == 1 && bars[0].label == "weight ÷ own range" && bars[0].range == (-1, 1))
        let none = try filters(4, channels: 1).record()
        #expect(none.texts.joined(separator: " ").contains("No clip radius"))
    }

    @Test func groupsAreLabelledAndColoursFollowTheChannels() throws {
        let grouped = filters(6, channels: 1, groups: 2)
        let g = try grouped.record()
        #expect(g.texts.first == "small c1: 6 filters of 1×3×3 in 2 groups")
        #expect(g.texts.contains("group 1 of 2: filters 0–2, input channel 0") && g.texts.contains("group 2 of 2: filters 3–5, input channel 1"))
        let rgb = filters(4, channels: 3, scale: .shared)
        let r = try rgb.record()
        #expect(r.bars.count == 1 && r.bars[0].label == "weight, each of R, G, B" && r.bars[0].range == (-3, 3))
        #expect(r.texts.joined(separator: " ").contains("RGB, each channel centred on mid-grey"))
        let deep = filters(4, channels: 5)
        let d = try deep.record()
        #expect(d.bars.count == 1 && d.bars[0].label == "RMS weight ÷ own range" && d.bars[0].range == (0, 1))
        #expect(d.texts.joined(separator: " ").contains("RMS over its 5 input channels at each tap"))
    }
}
