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
}
