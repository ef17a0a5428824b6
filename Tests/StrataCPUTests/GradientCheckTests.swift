import StrataCPU
import StrataIR
import StrataPlan
import Testing

/// Finite-difference checks, in float64, of every kernel's gradient: each network ends in an fc
/// layer and softmax, so the loss reaches every parameter through the op under test.
@Suite("Gradient checks (float64, finite differences)")
struct GradientCheckTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var input: String
        var layers: String
        var dropout = false
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "conv with stride and padding", input: "{channels: 2, height: 9, width: 9}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 3, stride: 2, pad: 1}\n"),
        Case(name: "conv with groups and rectangular windows", input: "{channels: 4, height: 7, width: 8}",
             layers: "  - {name: c, op: conv, filters: 6, kernel: [3, 2], stride: [1, 2], pad: [1, 0], groups: 2}\n"),
        Case(name: "conv after conv: data gradient through stride, padding and groups", input: "{channels: 2, height: 9, width: 9}",
             layers: "  - {name: c0, op: conv, filters: 4, kernel: 2}\n  - {name: c, op: conv, filters: 6, kernel: 3, stride: 2, pad: 1, groups: 2}\n"),
        Case(name: "conv after conv: rectangular, strided", input: "{channels: 1, height: 8, width: 9}",
             layers: "  - {name: c0, op: conv, filters: 2, kernel: 1}\n  - {name: c, op: conv, filters: 3, kernel: [2, 3], stride: [2, 1], pad: [0, 1]}\n"),
        Case(name: "pointwise conv without bias", input: "{channels: 3, height: 5, width: 5}",
             layers: "  - {name: c0, op: conv, filters: 2, kernel: 2}\n  - {name: c, op: conv, filters: 4, kernel: 1, bias: false}\n"),
        Case(name: "conv then relu (fused)", input: "{channels: 2, height: 6, width: 6}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 3}\n  - {name: r, op: relu}\n"),
        Case(name: "overlapping maxpool", input: "{channels: 2, height: 9, width: 9}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 2}\n  - {name: p, op: maxpool, kernel: 3, stride: 2}\n"),
        Case(name: "ceil-mode maxpool with padding", input: "{channels: 2, height: 8, width: 8}",
             layers: "  - {name: c, op: conv, filters: 2, kernel: 2}\n  - {name: p, op: maxpool, kernel: 3, stride: 2, pad: 1, ceil: true}\n"),
        Case(name: "ceil-mode avgpool with padding", input: "{channels: 2, height: 8, width: 8}",
             layers: "  - {name: c, op: conv, filters: 2, kernel: 2}\n  - {name: p, op: avgpool, kernel: 3, stride: 2, pad: 1, ceil: true}\n"),
        Case(name: "lrn (beta 0.75)", input: "{channels: 2, height: 5, width: 5}",
             layers: "  - {name: c, op: conv, filters: 7, kernel: 3, pad: 1}\n  - {name: n, op: lrn, size: 5, alpha: 0.5, beta: 0.75, k: 2}\n"),
        Case(name: "lrn (general beta, size 3)", input: "{channels: 2, height: 4, width: 4}",
             layers: "  - {name: c, op: conv, filters: 4, kernel: 3, pad: 1}\n  - {name: n, op: lrn, size: 3, alpha: 1.0, beta: 0.6, k: 1.5}\n"),
        Case(name: "tanh", input: "{channels: 2, height: 5, width: 5}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 3}\n  - {name: t, op: tanh}\n"),
        Case(name: "relu after pooling (in place)", input: "{channels: 2, height: 6, width: 6}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 3}\n  - {name: p, op: avgpool, kernel: 2}\n  - {name: r, op: relu}\n"),
        Case(name: "dropout with a fixed mask", input: "{channels: 2, height: 5, width: 5}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 3}\n  - {name: d, op: dropout, rate: 0.4}\n", dropout: true),
        Case(name: "fc after conv, fc after fc", input: "{channels: 2, height: 4, width: 4}",
             layers: "  - {name: c, op: conv, filters: 3, kernel: 3}\n  - {name: f, op: fc, units: 6}\n  - {name: r, op: relu}\n"),
        Case(name: "concat of a DAG, one value read twice", input: "{channels: 2, height: 6, width: 6}",
             layers: """
                  - {name: a, op: conv, filters: 2, kernel: 3, pad: 1}
                  - {name: b, op: conv, filters: 3, kernel: 1, from: a}
                  - {name: m, op: maxpool, kernel: 3, stride: 1, pad: 1, from: a}
                  - {name: j, op: concat, from: [b, m, a]}

                """),
        Case(name: "softmax inside the network", input: "{channels: 1, height: 3, width: 3}",
             layers: "  - {name: f, op: fc, units: 5}\n  - {name: s, op: softmax}\n"),
    ]

    /// Every registered op appears in at least one case above; the test names any that does not.
    @Test func everyRegisteredOpHasAGradientCheck() throws {
        var covered = Set<String>()
        for c in Self.cases { covered.formUnion(try graph(c.layers, input: c.input).nodes.map(\.op)) }
        for definition in Layer.registry where !covered.contains(definition.op) {
            Issue.record("op '\(definition.op)' has no case in GradientCheckTests.cases")
        }
    }

    @Test(arguments: cases)
    func analyticGradientsMatchFiniteDifferences(_ c: Case) throws {
        // Every case ends the same way: an fc to 3 classes and the softmax loss.
        let g = try graph(c.layers + "  - {name: head, op: fc, units: 3}\n  - {name: prob, op: softmax}\n", input: c.input)
        // Batch 5: with 2 threads, 2 and 3 images, so convolutions run both their one-image and tiled paths.
        let executor = try trainingExecutor(g, batch: 5, settings: cpu(.float64), dropout: c.dropout)
        let seed: UInt64 = 42
        let loss = try #require(try executor.run(seed: seed))
        #expect(loss.isFinite)
        // h = 1e-6 in float64: truncation error ~h², rounding ~1e-16/h; the tolerance is far above both
        // and far below any real mistake (which shows up at ~1e-2 relative).
        let h = 1e-6
        var checked = 0
        // Read every analytic gradient before any perturbed run overwrites them.
        let parameters = executor.plan.parameters
        let gradients = try parameters.map { try executor.readDoubles(.parameterGradient($0.node, $0.parameter)) }
        for (p, analytic) in zip(parameters, gradients) {
            let count = p.elementCount
            for index in stride(from: 0, to: count, by: max(1, count / 12)) {
                let original = try executor.element(p.tensor, index)
                try executor.setElement(p.tensor, index, original + h)
                let plus = try executor.run(seed: seed)!
                try executor.setElement(p.tensor, index, original - h)
                let minus = try executor.run(seed: seed)!
                try executor.setElement(p.tensor, index, original)
                let numeric = (plus - minus) / (2 * h)
                let error = abs(numeric - analytic[index]) / max(1e-3, abs(numeric) + abs(analytic[index]))
                #expect(error < 1e-5, "\(c.name): \(p.name)[\(index)] analytic \(analytic[index]) numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked >= 10)
    }

    /// Float32 gives the float64 results to float32 precision, on every GEMM path this CPU runs
    /// (Strata's where it has AVX-512, OpenBLAS always): on a network with every op, and on one
    /// whose convs are wide enough (64 channels in, 128 filters) to take the other float32 paths
    /// (the data gradient as a flipped-filter convolution, the filter gradient from a stored im2col
    /// matrix).
    @Test(arguments: ["every op", "wide convs"], GEMMPath.supported)
    func float32AgreesWithFloat64(_ network: String, _ gemm: GEMMPath) throws {
        let g = try Self.network(network)
        let single = try trainingExecutor(g, batch: 3, settings: cpu(.float32, gemm: gemm), dropout: true)
        let double = try trainingExecutor(g, batch: 3, settings: cpu(.float64), dropout: true)
        let l32 = try #require(try single.run(seed: 9)), l64 = try #require(try double.run(seed: 9))
        #expect(abs(l32 - l64) < 1e-5 * max(1, abs(l64)))
        for p in single.plan.parameters {
            let a = try single.readDoubles(.parameterGradient(p.node, p.parameter)), b = try double.readDoubles(.parameterGradient(p.node, p.parameter))
            let scale = max(1e-3, b.map(abs).max() ?? 0)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            // Float32 rounding over sums of a few hundred terms stays near 1e-6 of the scale; 1e-4 leaves room, and a wrong index is ~1.
            #expect(worst < 1e-4 * scale, "\(gemm): \(p.name): largest difference \(worst) (scale \(scale))")
        }
    }

    static func network(_ name: String) throws -> Graph {
        name == "wide convs" ? try graph("""
              - {name: c1, op: conv, filters: 64, kernel: 3, pad: 1}
              - {name: r1, op: relu}
              - {name: c2, op: conv, filters: 128, kernel: [3, 2], pad: [1, 0]}
              - {name: c3, op: conv, filters: 8, kernel: 3, pad: 1, groups: 2}
              - {name: f, op: fc, units: 5}
              - {name: prob, op: softmax}

            """, input: "{channels: 3, height: 6, width: 5}") : try graph("""
              - {name: c1, op: conv, filters: 6, kernel: 3, pad: 1, groups: 2}
              - {name: r1, op: relu}
              - {name: c2, op: conv, filters: 6, kernel: [3, 2], pad: [1, 0], groups: 2}
              - {name: c3, op: conv, filters: 4, kernel: 3, pad: 1}
              - {name: c4, op: conv, filters: 4, kernel: 2, stride: 2, pad: 1}
              - {name: r2, op: relu}
              - {name: n1, op: lrn, size: 3, alpha: 0.1}
              - {name: p1, op: maxpool, kernel: 3, stride: 2, ceil: true}
              - {name: a1, op: avgpool, kernel: 2, stride: 2, from: r2}
              - {name: j, op: concat, from: [p1, a1]}
              - {name: t, op: tanh}
              - {name: d, op: dropout, rate: 0.25}
              - {name: f, op: fc, units: 5}
              - {name: prob, op: softmax}

            """, input: "{channels: 2, height: 8, width: 8}")
    }

    /// The thread count changes only float32 rounding: the same plan run with 1, 2 and 3 threads
    /// (really split three ways: 5 images) draws the same dropout masks and computes the same
    /// forward values bit for bit, and gradients that differ only where per-thread partial sums
    /// over the batch are added in another order. A run repeated with the same seed is identical.
    @Test(arguments: GEMMPath.supported)
    func threadCountChangesOnlyRounding(_ gemm: GEMMPath) throws {
        let g = try Self.network("every op")
        let runs = try [1, 2, 3].map { threads -> (loss: Double, mask: [Float], values: [Float], gradients: [[Double]]) in
            let e = try trainingExecutor(g, batch: 5, settings: cpu(.float32, threads: threads, gemm: gemm), dropout: true)
            #expect(e.settings.threads == threads)
            let loss = try #require(try e.run(seed: 5))
            #expect(try e.run(seed: 5) == loss, "a repeated run with \(threads) threads differs")
            let d = try #require(g.nodes.firstIndex { $0.name == "d" }), f = try #require(g.nodes.firstIndex { $0.name == "f" })
            return (loss, try e.read(.saved(d, "mask")), try e.read(.value(f)),
                    try e.plan.parameters.map { try e.readDoubles(.parameterGradient($0.node, $0.parameter)) })
        }
        for r in runs.dropFirst() {
            #expect(r.mask == runs[0].mask)
            #expect(r.values == runs[0].values)
            #expect(abs(r.loss - runs[0].loss) <= 1e-6 * abs(runs[0].loss))
            for (a, b) in zip(r.gradients, runs[0].gradients) {
                let scale = max(1e-3, b.map(abs).max() ?? 0)
                #expect((zip(a, b).map { abs($0 - $1) }.max() ?? 0) < 1e-5 * scale)
            }
        }
        let other = try trainingExecutor(g, batch: 5, settings: cpu(.float32, gemm: gemm), dropout: true)
        #expect(try other.run(seed: 6) != runs[1].loss, "another seed draws other masks")
    }
}
