import StrataCPU
import StrataIR
import StrataPlan
import Testing

/// Backward passes seeded at a layer's activations (`BackwardPass.projection`): the plain
/// gradient against finite differences, and the deconvnet and guided rules against a float64
/// reference written independently here, on conv → relu → maxpool → conv.
@Suite("Projections (deconvnet, gradient, guided)")
struct ProjectionTests {
    static let layers = """
          - {name: c1, op: conv, filters: 3, kernel: 3, pad: 1}
          - {name: r1, op: relu}
          - {name: p1, op: maxpool, kernel: 2}
          - {name: c2, op: conv, filters: 2, kernel: 3, pad: 1}

        """
    static let input = "{channels: 2, height: 6, width: 6}"

    /// A projection executor from c2 with random weights and input; returns it and the seed it ran with.
    static func projection(_ g: Graph, rule: BackwardRule, batch: Int = 2, settings: CPUSettings = CPUSettings(threads: 2, precision: .float64))
        throws -> (CPUExecutor, seed: [Double], weights: [[Double]], input: [Double]) {
        let from = g.nodes.firstIndex { $0.name == "c2" }!
        // Keep c2's activations readable after the run (the backward pass would reuse their memory).
        let plan = CPUBackend(settings).plan(try DerivedGraph.derive(g, backward: .projection(from: from, rule: rule)), batch: batch,
                                             keep: [.value(from)])
        let e = try CPUExecutor(plan: plan, settings: settings)
        var random = Random(3)
        var weights: [[Double]] = []
        for p in plan.parameters {
            let w = (0..<p.elementCount).map { _ in random.uniform() }
            weights.append(w)
            try e.write(p.tensor, doubles: w)
        }
        let input = (0..<plan.buffer(.input)!.elements).map { _ in random.uniform() }
        try e.write(.input, doubles: input)
        let seed = (0..<plan.buffer(.gradient(from))!.elements).map { _ in random.uniform() }
        try e.write(.gradient(from), doubles: seed)
        try e.run()
        return (e, seed, weights, input)
    }

    /// The gradient rule from a seed s at c2 gives d⟨s, c2(x)⟩/dx: checked by central differences.
    @Test func gradientRuleIsTheDerivativeOfTheSeededActivation() throws {
        let g = try graph(Self.layers, input: Self.input)
        let (e, seed, _, input) = try Self.projection(g, rule: .gradient)
        let analytic = try e.readDoubles(.inputGradient)
        let c2 = TensorID.value(g.nodes.count - 1)
        func objective(_ x: [Double]) throws -> Double {
            try e.write(.input, doubles: x)
            try e.run()
            return zip(try e.readDoubles(c2), seed).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6
        for i in stride(from: 0, to: input.count, by: 7) {
            var plus = input, minus = input
            plus[i] += h
            minus[i] -= h
            let numeric = (try objective(plus) - objective(minus)) / (2 * h)
            // h = 1e-6 in float64 (see the gradient checks); a max-pool switch flipping would move it by ~1.
            #expect(abs(numeric - analytic[i]) < 1e-6 * max(1, abs(numeric)), "d.input[\(i)]: analytic \(analytic[i]) numeric \(numeric)")
        }
    }

    /// Deconvnet and guided projections equal the reference, image by image.
    @Test(arguments: [BackwardRule.deconvnet, .guided, .gradient])
    func projectionsMatchTheReference(_ rule: BackwardRule) throws {
        let g = try graph(Self.layers, input: Self.input)
        let (e, seed, weights, input) = try Self.projection(g, rule: rule)
        let ours = try e.readDoubles(.inputGradient)
        let theirs = Reference.project(input: input, w1: weights[0], b1: weights[1], w2: weights[2], seed: seed, rule: rule, batch: 2)
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-12, "\(rule): largest difference \(worst)")
        // The rules really differ on this input.
        if rule != .gradient {
            let gradient = Reference.project(input: input, w1: weights[0], b1: weights[1], w2: weights[2], seed: seed, rule: .gradient, batch: 2)
            #expect(zip(ours, gradient).contains { abs($0 - $1) > 1e-6 })
        }
    }

    /// The same through a grouped second conv (conv → relu → pool → grouped conv), as in AlexNet.
    @Test(arguments: [BackwardRule.deconvnet, .guided, .gradient])
    func groupedProjectionsMatchTheReference(_ rule: BackwardRule) throws {
        let g = try graph(Self.layers.replacingOccurrences(of: "filters: 3,", with: "filters: 4,").replacingOccurrences(of: "filters: 2, kernel: 3, pad: 1}", with: "filters: 2, kernel: 3, pad: 1, groups: 2}"),
                          input: Self.input)
        let (e, seed, weights, input) = try Self.projection(g, rule: rule)
        let ours = try e.readDoubles(.inputGradient)
        let theirs = Reference.project(input: input, w1: weights[0], b1: weights[1], w2: weights[2], seed: seed, rule: rule, batch: 2,
                                       c1: 4, c2: 2, groups: 2)
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-12, "\(rule): largest difference \(worst)")
    }

    /// LRN passes the deconvnet's signal through: putting one between the pool and c2 leaves the
    /// projection unchanged (the forward pass changes, but the deconvnet reads only the switches).
    @Test func deconvnetPassesThroughLRN() throws {
        let plain = try graph(Self.layers, input: Self.input)
        let withLRN = try graph(Self.layers.replacingOccurrences(of: "  - {name: c2,", with: "  - {name: n, op: lrn, size: 3, alpha: 0.5}\n  - {name: c2,"),
                                input: Self.input)
        let a = try Self.projection(plain, rule: .deconvnet).0.readDoubles(.inputGradient)
        let b = try Self.projection(withLRN, rule: .deconvnet).0.readDoubles(.inputGradient)
        #expect(a == b)
        let c = try Self.projection(withLRN, rule: .gradient).0.readDoubles(.inputGradient)
        #expect(a != c)
    }

    /// Float32 on every GEMM path gives the float64 projection to float32 precision.
    @Test(arguments: GEMMPath.supported)
    func float32ProjectionsAgree(_ gemm: GEMMPath) throws {
        let g = try graph(Self.layers, input: Self.input)
        for rule in BackwardRule.allCases {
            let a = try Self.projection(g, rule: rule, settings: CPUSettings(threads: 2, gemm: gemm)).0.readDoubles(.inputGradient)
            let b = try Self.projection(g, rule: rule).0.readDoubles(.inputGradient)
            let scale = b.map(abs).max() ?? 1
            #expect((zip(a, b).map { abs($0 - $1) }.max() ?? 0) < 1e-5 * scale, "\(rule), \(gemm)")
        }
    }
}

/// conv(3 filters, 3×3, pad 1) → relu → maxpool 2 → conv(2 filters, 3×3, pad 1, no bias used) on
/// 2×6×6 images, and the three ways back from a seed at the last conv, in plain loops.
enum Reference {
    /// `c1` filters in the first conv, `c2` in the second, which has `groups` groups.
    static func project(input: [Double], w1: [Double], b1: [Double], w2: [Double], seed: [Double], rule: BackwardRule, batch: Int,
                        c1: Int = 3, c2: Int = 2, groups: Int = 1) -> [Double] {
        let (c0, h, w) = (2, 6, 6)
        let perGroup = c1 / groups, filtersPerGroup = c2 / groups
        let (ph, pw) = (3, 3)
        var out = [Double](repeating: 0, count: input.count)
        for n in 0..<batch {
            let x = Array(input[(n * c0 * h * w)..<((n + 1) * c0 * h * w)])
            // Forward: a = conv1(x), r = relu(a), pooled with switches.
            var a = [Double](repeating: 0, count: c1 * h * w)
            for f in 0..<c1 { for y in 0..<h { for xx in 0..<w {
                var s = b1[f]
                for c in 0..<c0 { for i in 0..<3 { for j in 0..<3 {
                    let iy = y - 1 + i, ix = xx - 1 + j
                    if iy >= 0 && iy < h && ix >= 0 && ix < w { s += w1[((f * c0 + c) * 3 + i) * 3 + j] * x[(c * h + iy) * w + ix] }
                } } }
                a[(f * h + y) * w + xx] = s
            } } }
            let r = a.map { max($0, 0) }
            var switches = [Int](repeating: 0, count: c1 * ph * pw)
            for f in 0..<c1 { for y in 0..<ph { for xx in 0..<pw {
                var best = -Double.infinity, at = 0
                for i in 0..<2 { for j in 0..<2 {
                    let k = (f * h + 2 * y + i) * w + 2 * xx + j
                    if r[k] > best { best = r[k]; at = k }
                } }
                switches[(f * ph + y) * pw + xx] = at
            } } }
            // Back: the transposed c2 on the seed (bias plays no part).
            let s = Array(seed[(n * c2 * ph * pw)..<((n + 1) * c2 * ph * pw)])
            var dp = [Double](repeating: 0, count: c1 * ph * pw)
            for f in 0..<c2 { for y in 0..<ph { for xx in 0..<pw {
                let g = f / filtersPerGroup
                for k in 0..<perGroup { for i in 0..<3 { for j in 0..<3 {
                    let c = g * perGroup + k
                    let iy = y - 1 + i, ix = xx - 1 + j
                    if iy >= 0 && iy < ph && ix >= 0 && ix < pw { dp[(c * ph + iy) * pw + ix] += w2[((f * perGroup + k) * 3 + i) * 3 + j] * s[(f * ph + y) * pw + xx] }
                } } }
            } } }
            // Unpool through the switches.
            var dr = [Double](repeating: 0, count: c1 * h * w)
            for k in dp.indices { dr[switches[k]] += dp[k] }
            // The ReLU, by rule.
            let da: [Double] = dr.indices.map { k in
                switch rule {
                case .gradient: r[k] > 0 ? dr[k] : 0
                case .deconvnet: max(dr[k], 0)
                case .guided: r[k] > 0 && dr[k] > 0 ? dr[k] : 0
                }
            }
            // The transposed c1.
            for f in 0..<c1 { for y in 0..<h { for xx in 0..<w {
                for c in 0..<c0 { for i in 0..<3 { for j in 0..<3 {
                    let iy = y - 1 + i, ix = xx - 1 + j
                    if iy >= 0 && iy < h && ix >= 0 && ix < w {
                        out[n * c0 * h * w + (c * h + iy) * w + ix] += w1[((f * c0 + c) * 3 + i) * 3 + j] * da[(f * h + y) * w + xx]
                    }
                } } }
            } } }
        }
        return out
    }
}
