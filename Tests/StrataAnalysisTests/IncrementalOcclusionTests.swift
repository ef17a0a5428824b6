import Foundation
@testable import StrataAnalysis
import StrataCPU
import StrataIR
import StrataTrain
import Testing

/// Incremental occlusion against the full forward pass of every occluded copy: the same maps.
@Suite("Occlusion by incremental inference")
struct IncrementalOcclusionTests {
    /// Strided, padded and grouped convolutions with asymmetric kernels, overlapping max-pooling
    /// with ceil and padding, LRN, tanh, dropout, two fully connected layers.
    static let spec = """
        name: incremental
        input: {channels: 2, height: 17, width: 15}
        layers:
          - {name: c1, op: conv, filters: 4, kernel: [3, 5], stride: [2, 1], pad: [1, 2]}
          - {name: r1, op: relu}
          - {name: n1, op: lrn, size: 3}
          - {name: p1, op: maxpool, kernel: 3, stride: 2, pad: 1, ceil: true}
          - {name: c2, op: conv, filters: 6, kernel: 3, pad: 1, groups: 2}
          - {name: t2, op: tanh}
          - {name: d2, op: dropout, rate: 0.5}
          - {name: f1, op: fc, units: 5}
          - {name: r3, op: relu}
          - {name: f2, op: fc, units: 3}
          - {name: prob, op: softmax}

        """

    func input(_ graph: Graph, count: Int) -> AnalysisInput {
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let mean = randomImages(1, c * h * w, seed: 5)
        let rule = InputRule(preprocessing: Preprocessing(stored: (c, h, w), input: (h, w), mean: mean, flip: false, randomCrop: false, pcaColor: 0,
                                                          pcaValues: [], pcaVectors: []), description: "a test mean")
        return AnalysisInput(raw: randomImages(count, c * h * w), count: count, labels: Array((0..<count).map { $0 % 3 }), names: [], rule: rule)
    }

    /// Occluder sizes and strides, and the tracked layer: t2 (the end of a piece: conv, tanh) or r1
    /// (inside one: c1, r1 | n1).
    @Test(arguments: [(3, 2, 5), (5, 3, 5), (4, 4, 1), (1, 1, 5), (3, 2, 1)])
    func theMapsEqualTheFullForwardPasses(patch: Int, stride: Int, tracked: Int) throws {
        let graph = try compile(Self.spec)
        let weights = randomWeights(graph)
        let images = input(graph, count: 2)
        let full = try Occlusion.run(images, runner: BatchRunner(graph: graph, backend: CPUBackend(), batch: 16, keeping: [tracked, graph.nodes.count - 1],
                                                                  weights: weights),
                                     layer: tracked, patch: patch, stride: stride, fill: .grey)
        let cut = try #require(IncrementalOcclusion.cut(graph))
        #expect(cut == 7, "f1 is the first layer that mixes every position")
        let engine = try #require(try IncrementalOcclusion(graph: graph, backend: CPUBackend(), batch: 16, weights: weights, patch: patch, stride: stride,
                                                           tracking: tracked))
        #expect(engine.pieces.map(\.node).contains(tracked), "a piece ends at the tracked layer")
        let fast = try engine.run(images, layer: tracked, fill: .grey)
        #expect(fast.strongestMap == full.strongestMap)
        #expect(fast.probability.count == full.probability.count)
        // Float32 sums in another order (a crop's GEMM against the whole image's): agreement to
        // ~1e-6 of the values' scale; 1e-4 leaves room, and a wrong window is off by ~1e-1.
        let p = zip(fast.probability, full.probability).map { abs($0 - $1) }.max() ?? 0
        let a = zip(fast.activation, full.activation).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(p < 1e-4, "p(true class) differs by \(p)")
        #expect(a < 1e-4, "the tracked map's total differs by \(a) (relative)")
        #expect(fast.topClass == full.topClass)
    }

    @Test func graphsItCannotRecomputeTakeTheFullPath() throws {
        #expect(IncrementalOcclusion.cut(try compile(smallNet)) == 5)
        let branching = try compile("""
            name: b
            input: {channels: 1, height: 8, width: 8}
            layers:
              - {name: a, op: conv, filters: 2, kernel: 3}
              - {name: b, op: conv, filters: 2, kernel: 3, from: input}
              - {name: u, op: concat, from: [a, b]}
              - {name: f, op: fc, units: 2}
              - {name: prob, op: softmax}

            """)
        #expect(IncrementalOcclusion.cut(branching) == nil)
        #expect(!IncrementalOcclusion.supports(branching, layer: 0))
        // A branch after the first fully connected layer: the rest could not run as a chain either.
        let branchingTail = try compile("""
            name: t
            input: {channels: 1, height: 8, width: 8}
            layers:
              - {name: a, op: conv, filters: 2, kernel: 3}
              - {name: f, op: fc, units: 4}
              - {name: g, op: fc, units: 4}
              - {name: u, op: concat, from: [f, g]}
              - {name: o, op: fc, units: 2}
              - {name: prob, op: softmax}

            """)
        #expect(IncrementalOcclusion.cut(branchingTail) == nil)
    }

    /// The drill-down's grid: every second position and the last, and the coarse positions that
    /// bracket each fine one.
    @Test func theDrillDownBracketsEachFinePositionWithCoarseOnes() {
        let d = OcclusionApproximation.DrillDown(step: 2, moved: 0.01)
        // 5 rows × 6 columns: coarse rows 0, 2, 4; coarse columns 0, 2, 4, 5 (the last).
        let coarse = (0..<30).filter { d.isCoarse(position: $0, rows: 5, columns: 6) }
        #expect(coarse == [0, 2, 4, 5, 12, 14, 16, 17, 24, 26, 28, 29])
        #expect(d.neighbours(of: 1, rows: 5, columns: 6) == [0, 2])
        #expect(d.neighbours(of: 6, rows: 5, columns: 6) == [0, 12])
        #expect(d.neighbours(of: 9, rows: 5, columns: 6) == [2, 4, 14, 16])
        #expect(d.neighbours(of: 14, rows: 5, columns: 6) == [14])
    }

    /// τ = 1 without a drill-down recomputes every field whole: the exact maps. A threshold of 1
    /// leaves every fine position to its neighbours' mean; a threshold of 0 sends every one whose
    /// neighbours moved at all to the fine stride, which gives the exact maps again.
    @Test func theApproximationsLimitsGiveTheExactMaps() throws {
        let graph = try compile(Self.spec)
        let weights = randomWeights(graph)
        let images = input(graph, count: 2)
        func engine(_ a: OcclusionApproximation?) throws -> IncrementalOcclusion {
            try #require(try IncrementalOcclusion(graph: graph, backend: CPUBackend(), batch: 8, weights: weights, patch: 3, stride: 2, tracking: 5,
                                                  approximation: a))
        }
        let exact = try engine(nil).run(images, layer: 5)
        let whole = try engine(OcclusionApproximation(threshold: 1, drillDown: nil)).run(images, layer: 5)
        #expect(whole.probability == exact.probability && whole.activation == exact.activation)

        let everywhere = try engine(OcclusionApproximation(threshold: 1, drillDown: .init(step: 2, moved: 0)))
        let drilled = try everywhere.run(images, layer: 5)
        let (computed, of) = try #require(everywhere.lastDrillDown)
        #expect(exact.rows == 8 && exact.columns == 7)
        #expect(of == 2 * (8 * 7 - 5 * 4), "rows 0, 2, 4, 6, 7 by columns 0, 2, 4, 6 are coarse")
        #expect(computed == of, "every neighbourhood moved")
        #expect(drilled.probability == exact.probability)

        let nowhere = try engine(OcclusionApproximation(threshold: 1, drillDown: .init(step: 2, moved: 1)))
        let interpolated = try nowhere.run(images, layer: 5)
        let d = OcclusionApproximation.DrillDown(step: 2, moved: 1)
        let positions = exact.rows * exact.columns
        for q in 0..<(2 * positions) {
            let (n, p) = (q / positions, q % positions)
            if d.isCoarse(position: p, rows: exact.rows, columns: exact.columns) {
                #expect(interpolated.probability[q] == exact.probability[q])
            } else if interpolated.topClass[q] != exact.topClass[q] || abs(interpolated.probability[q] - exact.probability[q]) > 1e-6 {
                // Not computed: the mean of its coarse neighbours (where they kept the clean top class).
                let around = d.neighbours(of: p, rows: exact.rows, columns: exact.columns).map { exact.probability[n * positions + $0] }
                #expect(abs(interpolated.probability[q] - around.reduce(0, +) / Float(around.count)) < 1e-6)
            }
        }
        #expect(try #require(nowhere.lastDrillDown).computed < of)
    }

    /// A small τ recomputes less of each layer (windows at most τ of a side, a larger predicted
    /// saving) and moves the maps away from exact by an amount the agreement measures.
    @Test func aSmallThresholdRecomputesLessAndTheAgreementSaysHowFarItIs() throws {
        let graph = try compile(Self.spec)
        let weights = randomWeights(graph)
        let images = input(graph, count: 2)
        let exactEngine = try #require(try IncrementalOcclusion(graph: graph, backend: CPUBackend(), batch: 8, weights: weights, patch: 5, stride: 2,
                                                                tracking: 5))
        let small = try #require(try IncrementalOcclusion(graph: graph, backend: CPUBackend(), batch: 8, weights: weights, patch: 5, stride: 2, tracking: 5,
                                                          approximation: OcclusionApproximation(threshold: 0.25, drillDown: nil)))
        for (a, b) in zip(small.pieces, exactEngine.pieces) {
            let shape = graph.nodes[a.node].shape!
            #expect(a.window.rows <= max(1, Int((0.25 * Double(shape.height)).rounded(.up))) && a.window.rows <= b.window.rows)
            #expect(a.window.columns <= max(1, Int((0.25 * Double(shape.width)).rounded(.up))) && a.window.columns <= b.window.columns)
        }
        #expect(small.predictedSpeedUp > exactEngine.predictedSpeedUp)
        let exact = try exactEngine.run(images, layer: 5), approximate = try small.run(images, layer: 5)
        let agreement = OcclusionAgreement(approximate, exact, images: 2)
        let differences = zip(approximate.probability, exact.probability).map { Double(abs($0 - $1)) }
        #expect(agreement.largestProbabilityDifference == differences.max())
        #expect(agreement.largestProbabilityDifference > 1e-4, "a quarter of each layer leaves some of the occluder's effect out")
        let same = zip(approximate.topClass, exact.topClass).filter { $0 == $1 }.count
        #expect(agreement.topClassAgreement == Double(same) / Double(exact.topClass.count))
        let identical = OcclusionAgreement(exact, exact, images: 2)
        #expect(identical.topClassAgreement == 1 && identical.largestProbabilityDifference == 0 && identical.largestActivationDifference == 0)
    }

    /// The drill-down interpolates a fine position only over a flat, confident neighbourhood: its
    /// coarse neighbours' p(true) within δ of each other, one top class, each leading its
    /// runner-up by at least δ/4.
    @Test func theDrillDownInterpolatesOnlyFlatConfidentNeighbourhoods() {
        let d = OcclusionApproximation.DrillDown(step: 2, moved: 0.2)
        // A 3 × 3 grid: coarse corners 0, 2, 6, 8; position 4 lies between all four.
        func state(probability: [Float], top: [Int32] = Array(repeating: 1, count: 9), margin: Float = 0.5) -> IncrementalOcclusion.RunState {
            var o = Occlusion(height: 5, width: 5, patch: 3, stride: 1)
            (o.probability, o.topClass, o.activation) = (probability, top, (0..<9).map(Float.init))
            let s = IncrementalOcclusion.RunState(result: o, activations: [])
            s.margin = Array(repeating: margin, count: 9)
            return s
        }
        let flat: [Float] = [0.5, 0, 0.6, 0, 0, 0, 0.55, 0, 0.65]
        let taken = state(probability: flat)
        #expect(taken.interpolate(image: 0, position: 4, drill: d))
        #expect(abs(taken.result.probability[4] - 0.575) < 1e-6 && taken.result.activation[4] == 4 && taken.result.topClass[4] == 1)
        #expect(!state(probability: [0.5, 0, 0.75, 0, 0, 0, 0.55, 0, 0.65]).interpolate(image: 0, position: 4, drill: d), "a spread of 0.25")
        #expect(!state(probability: flat, top: [1, 1, 2, 1, 1, 1, 1, 1, 1]).interpolate(image: 0, position: 4, drill: d), "two top classes")
        #expect(!state(probability: flat, margin: 0.04).interpolate(image: 0, position: 4, drill: d), "a lead under 0.05")
        #expect(state(probability: flat, margin: 0.05).interpolate(image: 0, position: 1, drill: d), "between 0 and 2 only")
    }
}
