import StrataAnalysis
import StrataCPU
import StrataIR
import StrataPlan
import Testing

@Suite("Occlusion, projections, correspondence, receptive fields")
struct AnalysisTests {
    /// One occlusion position equals a forward pass of that occluded image, in every array.
    @Test func anOcclusionPositionIsAForwardPassOfTheOccludedImage() throws {
        let graph = try compile(smallNet)
        let weights = randomWeights(graph)
        let input = AnalysisInput(images: randomImages(3, 128), count: 3, labels: [2, 0, 1], names: ["a", "b", "c"], perImage: 128)
        let layer = 4   // r2
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 5, keeping: [layer, 6], weights: weights)
        let r = try Occlusion.run(input, runner: runner, layer: layer, patch: 3, stride: 2)
        #expect(r.rows == 3 && r.columns == 3 && r.probability.count == 27)
        let clean = try runner.outputs(input.images, count: 3, nodes: [layer])[0]
        for image in 0..<3 {
            // The strongest map holds the image's largest activation.
            let values = clean[(image * 64)..<((image + 1) * 64)]
            let best = values.indices.max { values[$0] < values[$1] }! - image * 64
            #expect(Int(r.strongestMap[image]) == best / 16)
            #expect(r.strongest[image] == Activation(image: image, map: best / 16, row: best % 16 / 4, column: best % 4, value: values[image * 64 + best]))
            for (i, j) in [(0, 0), (1, 2), (2, 1)] {
                var occluded = [Float](repeating: 0, count: 128)
                occluded.withUnsafeMutableBufferPointer { r.occlude(input.image(image), into: $0.baseAddress!, channels: 2, height: 8, width: 8, at: i, j) }
                #expect(occluded.filter { $0 == 0.5 }.count >= 18)   // the paper's grey square, on the raw image
                let outs = try runner.outputs(occluded, count: 1, nodes: [layer, 6])
                let q = image * 9 + i * 3 + j
                #expect(abs(r.probability[q] - outs[1][input.labels![image]]) < 1e-6)
                #expect(Int(r.topClass[q]) == outs[1].indices.max { outs[1][$0] < outs[1][$1] }!)
                let m = Int(r.strongestMap[image])
                #expect(abs(r.activation[q] - outs[0][(m * 16)..<((m + 1) * 16)].reduce(0, +)) < 1e-4)
            }
        }
    }

    @Test func theStrongestActivationsAreOnePerImageInDescendingOrder() {
        // 3 images, 2 maps of 1×2: map 0 holds (image 0: 1, 5), (image 1: 5, 2), (image 2: 3, 3).
        let outputs: [Float] = [1, 5, 9, 9, 5, 2, 0, 0, 3, 3, 1, 1]
        let top = Projection.strongest(outputs, count: 3, shape: TensorShape([2, 1, 2]), maps: [0, 1], top: 2)
        #expect(top[0] == [Activation(image: 0, map: 0, row: 0, column: 1, value: 5), Activation(image: 1, map: 0, row: 0, column: 0, value: 5)])
        #expect(top[1].map(\.image) == [0, 2] && top[1][0].column == 0)
    }

    /// Through a grouped conv, a map of group 0 projects only onto group 0's input channels.
    @Test func aGroupedConvProjectsOntoItsGroupOnly() throws {
        let graph = try compile("""
            name: g
            input: {channels: 4, height: 6, width: 6}
            layers:
              - {name: c, op: conv, filters: 4, kernel: 3, groups: 2}
              - {name: r, op: relu}

            """)
        let input = AnalysisInput(images: randomImages(2, 144), count: 2, labels: nil, names: ["a", "b"], perImage: 144)
        for rule in BackwardRule.allCases {
            let runner = try Projection.runner(graph: graph, layer: 0, rule: rule, backend: CPUBackend(), batch: 2, weights: randomWeights(graph))
            let p = try Projection.project([Activation(image: 1, map: 1, row: 2, column: 1, value: 1.5)], input: input, runner: runner, layer: 0)[0]
            #expect(p[72...].allSatisfy { $0 == 0 }, "\(rule)")
            #expect(p[..<72].contains { $0 != 0 }, "\(rule)")
        }
    }

    /// Under the gradient rule, a projection seeded with activation a of a linear layer (no bias
    /// path below) is a·∂a/∂x, so ⟨projection, x⟩ = a·(a − bias).
    @Test func theGradientRuleIsTheDerivativeOfTheActivation() throws {
        let graph = try compile("""
            name: l
            input: {channels: 2, height: 5, width: 5}
            layers:
              - {name: c, op: conv, filters: 3, kernel: 3}
              - {name: p, op: avgpool, kernel: 3}

            """)
        let weights = randomWeights(graph)
        let input = AnalysisInput(images: randomImages(2, 50), count: 2, labels: nil, names: ["a", "b"], perImage: 50)
        let forward = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 2, keeping: [1], weights: weights)
        let a = try forward.outputs(input.images, count: 2, nodes: [1])[0][3 + 2]   // image 1, map 2
        let runner = try Projection.runner(graph: graph, layer: 1, rule: .gradient, backend: CPUBackend(), batch: 1, weights: weights)
        let p = try Projection.project([Activation(image: 1, map: 2, row: 0, column: 0, value: a)], input: input, runner: runner, layer: 1)[0]
        let dot = zip(p, input.image(1)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        let bias = weights["c.bias"]!.values[2]
        #expect(abs(dot - a * (a - bias)) < 1e-4 * max(1, abs(a * a)))
    }

    @Test func receptiveFieldsComeFromTheGraph() throws {
        let graph = try compile(smallNet)
        // c1 (3×3, pad 1) at (0, 0): rows −1…1 → clipped 0…1.
        #expect(ReceptiveField.of(graph, node: 0, row: 0, column: 0) == (0, 0, 2, 2))
        // p1 (2×2 stride 2) at (1, 1) covers c1 rows 2…3 → input rows 1…4.
        #expect(ReceptiveField.of(graph, node: 2, row: 1, column: 1) == (1, 1, 4, 4))
        // c2 (3×3 pad 1) at (1, 1) covers p1 rows 0…2 → c1 rows 0…5 → input 0…6.
        #expect(ReceptiveField.of(graph, node: 3, row: 1, column: 1) == (0, 0, 7, 7))
        // An fc sees everything.
        #expect(ReceptiveField.of(graph, node: 5, row: 0, column: 0) == (0, 0, 8, 8))
    }

    /// Hand-made signs: three difference vectors of 4 positions.
    @Test func correspondenceOfKnownSigns() {
        let d: [[Float]] = [[1, -1, 0, 2], [1, 1, 0, -3], [-1, -1, 5, 2]]
        // Pairs: (0,1) disagree at 1, 3 → 0.5; (0,2) at 0, 2 → 0.5; (1,2) at 0, 1, 2, 3 → 1.
        let s = Correspondence.score(d)
        #expect(abs(s.mean - 2.0 / 3) < 1e-12)
        #expect(abs(s.std - (6.0 / 108).squareRoot()) < 1e-12)   // population std of 0.5, 0.5, 1
        #expect(Correspondence.score([[1, 2], [1, 2]]).mean == 0)
    }

    /// correspondence.csv: a header and a line per row, parts quoted by RFC 4180.
    @Test func correspondenceCSV() {
        let rows = [Correspondence.Row(part: "eye, left", layer: "c1", score: .init(mean: 0.25, std: 0.5, pairs: 3),
                                       control: .init(mean: 0.5, std: 0, pairs: 6), controlFallbacks: 1)]
        #expect(Correspondence.csv(rows) == "part,layer,delta_mean,delta_std,pairs,control_mean,control_std,control_pairs,control_fallback_images\n"
                + "\"eye, left\",c1,0.25,0.5,3,0.5,0.0,6,1\n")
    }

    /// correspondence.md: the table, what Δ is, and a note (once, not per layer) for a control that fell back.
    @Test func correspondenceMarkdown() {
        func row(_ part: String, _ layer: String, fallbacks: Int) -> Correspondence.Row {
            Correspondence.Row(part: part, layer: layer, score: .init(mean: 0.125, std: 0.25, pairs: 3), control: .init(mean: 0.5, std: 0.0625, pairs: 6),
                               controlFallbacks: fallbacks)
        }
        let rows = [row("eye", "c1", fallbacks: 0), row("eye", "f1", fallbacks: 0), row("nose", "c1", fallbacks: 2), row("nose", "f1", fallbacks: 2)]
        let md = Correspondence.markdown(rows, parts: ["eye", "nose"], layers: ["c1", "f1"], draws: 1, images: 3, fill: .grey)
        #expect(md == """
            | | Δ c1 | Δ f1 |
            |---|---|---|
            | eye | 0.1250 ± 0.2500 | 0.1250 ± 0.2500 |
            | random (eye's size, 1 draw) | 0.5000 ± 0.0625 | 0.5000 ± 0.0625 |
            | nose | 0.1250 ± 0.2500 | 0.1250 ± 0.2500 |
            | random (nose's size, 1 draw) | 0.5000 ± 0.0625 | 0.5000 ± 0.0625 |

            Δ: the mean over the 3 image pairs of the fraction of features where the two images' changes differ in sign, ± std over pairs; \
            the part covered with grey (0.5) on the raw image; the controls' pairs pooled over the draws.

            note: 2 image(s) had no place where a patch of nose's size is half on the object; their control took the place with the most object pixels.

            """)
    }

    /// The RMS table marks the filters at the clip radius only when there is one (the figure:
    /// `AnalysisFigureTests`).
    @Test func filterRMSTable() throws {
        #expect(Filters.rms([3, 4, 0, 0], filters: 2) == [(12.5 as Double).squareRoot(), 0])
        #expect(Filters.rmsCSV([0.5, 1, 2, 0.995], groups: 2, radius: 1) == "filter,group,rms,at_clip_radius\n0,0,0.5,0\n1,0,1.0,1\n2,1,2.0,1\n3,1,0.995,1\n")
        #expect(Filters.rmsCSV([0.5], groups: 1, radius: nil) == "filter,group,rms,at_clip_radius\n0,0,0.5,\n")
    }
}
