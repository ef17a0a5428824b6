import Foundation
import StrataAnalysis
import StrataCPU
import StrataFigures
import StrataIR
import StrataPlan
import Testing

@Suite("deconv --sanity: the randomisation cascade and its measures")
struct SanityTests {
    /// The cascade is the layers with parameters, top first; step s replaces exactly the top s
    /// layers' tensors (cumulatively) and keeps the others trained.
    @Test func theCascadeGoesTopDownAndAccumulates() throws {
        let graph = try compile(smallNet)
        let order = Sanity.cascade(graph)
        #expect(order.map { graph.nodes[$0].name } == ["f1", "c2", "c1"])
        let trained = randomWeights(graph, seed: 1), random = randomWeights(graph, seed: 2)
        for step in 0...3 {
            let w = Sanity.weights(trained: trained, random: random, graph: graph, order: order, step: step)
            let replaced = Set(order.prefix(step).map { graph.nodes[$0].name })
            for p in graph.namedParameters() {
                let expected = replaced.contains(graph.nodes[p.node].name) ? random[p.name]! : trained[p.name]!
                #expect(w[p.name]!.values == expected.values, "step \(step): \(p.name)")
            }
        }
    }

    /// Step 0 compares the trained projections with themselves: exactly 1 for both measures; so do
    /// the steps that only re-initialise layers above the projected one (f1 above c2); below, the
    /// projections change.
    @Test func stepZeroAndLayersAboveAreExactlyOne() throws {
        let graph = try compile(smallNet)
        let input = AnalysisInput(images: randomImages(4, 128), count: 4, labels: nil, names: ["a", "b", "c", "d"], perImage: 128)
        let layer = graph.nodes.firstIndex { $0.name == "c2" }!
        let units = [Activation(image: 0, map: 1, row: 1, column: 2, value: 3), Activation(image: 2, map: 3, row: 3, column: 0, value: 2)]
        let result = try Sanity.run(graph: graph, layer: layer, units: units, rules: [.deconvnet, .gradient, .guided], input: input,
                                    trained: randomWeights(graph, seed: 1), random: randomWeights(graph, seed: 7), backend: CPUBackend(), batch: 2)
        #expect(result.rows.count == 4 * 3 * 2)
        #expect(result.cascade == ["f1", "c2", "c1"] && (0...3).map(result.stepLabel) == ["trained", "f1", "c2", "c1"])
        for row in result.rows where row.step <= 1 {
            #expect(row.spearman == 1 && row.ssim == 1, "\(row)")
        }
        #expect(result.rows.filter { $0.step == 1 }.allSatisfy { $0.layers == ["f1"] })
        #expect(result.rows.filter { $0.step == 3 }.allSatisfy { $0.layers == ["f1", "c2", "c1"] })
        #expect(result.rows.contains { $0.step == 2 && $0.ssim < 0.999 }, "re-initialising c2 changes its projections")
        #expect(result.examples.count == 3 && result.examples[0].count == 4 && result.examples[0][0].count == 128)
        #expect(result.projections[3][1][1].count == 128)
        let csv = result.csv.split(separator: "\n")
        #expect(csv.first == "step,layers_randomised,rule,map,image,spearman,ssim" && csv.count == 25)
        #expect(csv[1] == "0,none,deconvnet,1,0,1.0,1.0" && csv.last!.hasPrefix("3,f1;c2;c1,guided,3,2,"))
        let md = result.markdown(heading: "h")
        #expect(md.contains("| 0 | (none: trained) | deconvnet | 2 | 1.000 ± 0.000 | 1.000 ± 0.000 |"), "\(md)")
    }

    @Test func spearmanOnHandComputedCases() {
        #expect(Sanity.spearman([0.1, 0.5, 0.2, 0.9], [0.1, 0.5, 0.2, 0.9]) == 1)
        #expect(Sanity.spearman([1, 2, 3, 4, 5], [50, 40, 30, 20, 10]) == -1)
        // Of absolute values: signs do not count.
        #expect(Sanity.spearman([-3, 1, 2], [3, -1, 2]) == 1)
        // Ties take their mean rank: ranks (1, 2, 3, 4, 5) and (1, 2, 3.5, 5, 3.5); deviations
        // (−2, −1, 0, 1, 2) and (−2, −1, 0.5, 2, 0.5): r = 8 / √(10 · 9.5).
        #expect(abs(Sanity.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) - 8 / (95.0).squareRoot()) < 1e-12)
        #expect(Sanity.ranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2])
        #expect(Sanity.spearman([0, 0, 0], [0, 0, 0]) == 1 && Sanity.spearman([0, 0, 0], [1, 2, 3]) == 0)
    }

    @Test func ssimOnHandComputedCases() {
        let shape = TensorShape([1, 7, 7])
        let a: [Float] = (0..<49).map { $0 < 25 ? 1 : 0 }
        #expect(Sanity.ssim(a, a, shape: shape) == 1)
        // Scaling to [0, 1] first: a linear rescaling changes nothing.
        #expect(abs(Sanity.ssim(a, a.map { 3 * $0 - 2 }, shape: shape) - 1) < 1e-12)
        // One 7×7 window; b = 1 − a: μa = 25/49, μb = 24/49, σa² = σb² = 25·24/(49·48) = 25/98
        // (sample variances), σab = −25/98, C1 = 0.01², C2 = 0.03²:
        // SSIM = (2 μa μb + C1)(2 σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)) = −0.99564867118466.
        let (ma, mb, v) = (25.0 / 49, 24.0 / 49, 25.0 / 98)
        let byFormula = ((2 * ma * mb + 1e-4) * (-2 * v + 9e-4)) / ((ma * ma + mb * mb + 1e-4) * (2 * v + 9e-4))
        #expect(abs(byFormula - -0.9956486711846586) < 1e-12)
        #expect(abs(Sanity.ssim(a, a.map { 1 - $0 }, shape: shape) - byFormula) < 1e-9)
        // An 8×8 image has 4 windows of 7×7, two channels twice as many: the mean over all.
        let big = TensorShape([2, 8, 8])
        let x = randomImages(1, 128), y = randomImages(1, 128, seed: 9)
        let s = Sanity.ssim(x, y, shape: big)
        #expect(s > -1 && s < 1 && Sanity.ssim(x, x, shape: big) == 1)
    }

    /// The figure has its title, both panels, the axis labels, the step labels, a legend entry per
    /// rule and a colour bar.
    @Test func theFigureSaysWhatItShows() throws {
        let graph = try compile(smallNet)
        let input = AnalysisInput(images: randomImages(2, 128), count: 2, labels: nil, names: ["a", "b"], perImage: 128)
        let layer = graph.nodes.firstIndex { $0.name == "c2" }!
        let result = try Sanity.run(graph: graph, layer: layer, units: [Activation(image: 1, map: 0, row: 2, column: 2, value: 1)],
                                    rules: [.deconvnet, .gradient, .guided], input: input, trained: randomWeights(graph, seed: 1),
                                    random: randomWeights(graph, seed: 7), backend: CPUBackend(), batch: 2)
        let settings = ProjectionSettings(network: "small", layer: "c2", rule: .deconvnet, weights: "w.safetensors", images: "2 images",
                                          scale: .perImage, clipPercent: 1)
        let figure = SanityFigure(graph: graph, node: layer, result: result, settings: settings, maps: [0], top: 1, seed: 0, exampleClass: "class 1: b")
        let record = try figure.record()
        let (texts, bars) = (record.texts, record.bars.map(\.label))
        #expect(texts.first?.hasPrefix("small c2: do the projections depend on the learned weights?") == true)
        for t in ["(a)", "(b)", "Spearman rank correlation of |projection|", "SSIM of projections scaled to [0, 1]",
                  "re-initialised down to (cumulative, top first)", "Spearman with the trained projection", "SSIM with the trained projection",
                  "deconvnet", "gradient", "guided", "trained", "f1", "c2", "c1"] {
            #expect(texts.contains(t), "\(t)")
        }
        #expect(texts.joined(separator: " ").contains("f1 lie above c2 and do not enter"), "the caption says which steps cannot change")
        #expect(bars == ["projection ÷ own range"])
        #expect(texts.joined(separator: " ").contains("strongest unit (image 1, class 1: b, row 2, column 2)"))
    }
}
