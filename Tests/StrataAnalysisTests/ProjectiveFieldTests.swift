import Foundation
import StrataAnalysis
import StrataCPU
import StrataIR
import Testing

/// The projective field against brute force: change the input inside a region, run the network in
/// full, and find which positions of each layer changed.
@Suite("Projective fields (what an occluder can change)")
struct ProjectiveFieldTests {
    /// Strided, padded and grouped convolutions, overlapping max-pooling with ceil, average pooling,
    /// LRN, tanh, a concat of two branches, then fc and softmax.
    static let spec = """
        name: field
        input: {channels: 2, height: 13, width: 11}
        layers:
          - {name: c1, op: conv, filters: 4, kernel: 3, stride: 2, pad: 1}
          - {name: r1, op: relu}
          - {name: n1, op: lrn, size: 3}
          - {name: p1, op: maxpool, kernel: 3, stride: 2, ceil: true}
          - {name: c2, op: conv, filters: 4, kernel: [3, 1], pad: [1, 0], groups: 2}
          - {name: t2, op: tanh}
          - {name: a1, op: avgpool, kernel: 3, stride: 2, ceil: true, from: n1}
          - {name: c3, op: conv, filters: 2, kernel: 1, from: a1}
          - {name: u, op: concat, from: [t2, c3]}
          - {name: f, op: fc, units: 3, from: u}
          - {name: prob, op: softmax}

        """

    @Test func aChangeReachesNoPositionOutsideTheField() throws {
        let graph = try compile(Self.spec)
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let nodes = Array(graph.nodes.indices)
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 2, keeping: nodes, weights: randomWeights(graph))
        for (rows, columns) in [(0...2, 0...2), (5...7, 4...5), (10...12, 8...10), (6...6, 0...10)] {
            var original = randomImages(1, c * h * w, seed: 7), changed = original
            for ch in 0..<c { for y in rows { for x in columns { changed[(ch * h + y) * w + x] += 1 } } }
            original += changed
            let outputs = try runner.outputs(original, count: 2, nodes: nodes)
            let fields = ProjectiveField.of(graph, rows: rows, columns: columns)
            for (k, node) in graph.nodes.enumerated() {
                let shape = node.shape!, size = shape.elementCount!
                let (a, b) = (outputs[k][0..<size], outputs[k][size..<(2 * size)])
                // Positions that changed by more than float rounding.
                var moved: [(Int, Int)] = []
                for i in 0..<size where abs(a[a.startIndex + i] - b[b.startIndex + i]) > 1e-5 {
                    moved.append(shape.isFeatureMap ? ((i / shape.width) % shape.height, i % shape.width) : (0, 0))
                }
                switch fields[k] {
                case .none:
                    #expect(moved.isEmpty, "\(node.name): \(moved.count) values changed outside an empty field")
                case .all:
                    #expect(!shape.isFeatureMap || node.op == "fc" || node.op == "softmax", "\(node.name): a feature map's field is the whole layer")
                case .window(let r, let cl):
                    for (y, x) in moved { #expect(r.contains(y) && cl.contains(x), "\(node.name): (\(y), \(x)) changed outside rows \(r), columns \(cl)") }
                    // Tight for convolutions, LRN and average pooling with generic weights: the field's
                    // corners change (max-pooling may keep a window's maximum, so it is not checked).
                    if ["c1", "n1", "a1", "c3"].contains(node.name) {
                        #expect(moved.contains { $0.0 == r.lowerBound } && moved.contains { $0.0 == r.upperBound }
                                && moved.contains { $0.1 == cl.lowerBound } && moved.contains { $0.1 == cl.upperBound },
                                "\(node.name): the field rows \(r), columns \(cl) is wider than what changed")
                    }
                }
            }
        }
    }

    @Test func theFieldFollowsTheWindowArithmetic() throws {
        let graph = try compile(Self.spec)
        let f = ProjectiveField.of(graph, rows: 0...0, columns: 10...10)
        // c1: kernel 3, stride 2, pad 1 over 13×11 → 7×6: input row 0 reaches outputs 0 (o·2 − 1 ≤ 0 ≤ o·2 + 1);
        // input column 10 reaches outputs 5 (o = 5: 9…11).
        #expect(f[0] == .window(rows: 0...0, columns: 5...5))
        #expect(f[9] == .all && f[10] == .all)
        #expect(f[0].positions == 1)
    }
}
