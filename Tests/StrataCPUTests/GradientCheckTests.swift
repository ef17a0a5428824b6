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

    @Test(arguments: cases)
    func analyticGradientsMatchFiniteDifferences(_ c: Case) throws {
        // Every case ends the same way: an fc to 3 classes and the softmax loss.
        let g = try graph(c.layers + "  - {name: head, op: fc, units: 3}\n  - {name: prob, op: softmax}\n", input: c.input)
        // Batch 5: with 2 threads, 2 and 3 images, so convolutions run both their one-image and tiled paths.
        let executor = try trainingExecutor(g, batch: 5, precision: .float64, dropout: c.dropout)
        let seed: UInt64 = 42
        let loss = try #require(executor.run(seed: seed))
        #expect(loss.isFinite)
        // h = 1e-6 in float64: truncation error ~h², rounding ~1e-16/h; the tolerance is far above both
        // and far below any real mistake (which shows up at ~1e-2 relative).
        let h = 1e-6
        var checked = 0
        // Read every analytic gradient before any perturbed run overwrites them.
        let gradients = executor.parameterNames.map { p -> [Double] in
            guard case .parameter(let node, let name) = p.tensor else { return [] }
            return executor.read(.parameterGradient(node, name))
        }
        for (p, analytic) in zip(executor.parameterNames, gradients) {
            let count = p.shape.reduce(1, *)
            for index in stride(from: 0, to: count, by: max(1, count / 12)) {
                let original = executor.element(p.tensor, index)
                executor.setElement(p.tensor, index, original + h)
                let plus = executor.run(seed: seed)!
                executor.setElement(p.tensor, index, original - h)
                let minus = executor.run(seed: seed)!
                executor.setElement(p.tensor, index, original)
                let numeric = (plus - minus) / (2 * h)
                let error = abs(numeric - analytic[index]) / max(1e-3, abs(numeric) + abs(analytic[index]))
                #expect(error < 1e-5, "\(c.name): \(p.name)[\(index)] analytic \(analytic[index]) numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked >= 10)
    }

    /// Float32 gives the float64 results to float32 precision: on a network with every op, and on
    /// one whose convs are wide enough (64 channels in, 128 filters) to take the other float32
    /// paths (the data gradient as a flipped-filter convolution, the filter gradient from a stored
    /// im2col matrix).
    @Test(arguments: ["every op", "wide convs"])
    func float32AgreesWithFloat64(_ network: String) throws {
        let g = network == "wide convs" ? try graph("""
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
        let single = try trainingExecutor(g, batch: 3, precision: .float32, dropout: true)
        let double = try trainingExecutor(g, batch: 3, precision: .float64, dropout: true)
        let l32 = try #require(single.run(seed: 9)), l64 = try #require(double.run(seed: 9))
        #expect(abs(l32 - l64) < 1e-5 * max(1, abs(l64)))
        for p in single.parameterNames {
            guard case .parameter(let node, let name) = p.tensor else { continue }
            let a = single.read(.parameterGradient(node, name)), b = double.read(.parameterGradient(node, name))
            let scale = max(1e-3, b.map(abs).max() ?? 0)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-4 * scale, "\(p.name): largest difference \(worst) (scale \(scale))")
        }
    }

    /// The result does not depend on how many threads split the work: a plan run twice with the
    /// same seed gives bit-identical losses, and dropout masks depend only on the seed.
    @Test func runsAreDeterministic() throws {
        let g = try graph("  - {name: c, op: conv, filters: 4, kernel: 3}\n  - {name: d, op: dropout}\n  - {name: f, op: fc, units: 3}\n  - {name: prob, op: softmax}\n",
                          input: "{channels: 2, height: 6, width: 6}")
        let executor = try trainingExecutor(g, batch: 4, precision: .float32, dropout: true)
        let a = executor.run(seed: 5), b = executor.run(seed: 5), c = executor.run(seed: 6)
        #expect(a == b)
        #expect(a != c)
    }
}
