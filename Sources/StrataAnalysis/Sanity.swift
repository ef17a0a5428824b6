import Foundation
import StrataFormats
import StrataIR
import StrataPlan
import StrataTrain

/// Model-parameter randomisation (Adebayo et al., "Sanity checks for saliency maps", NeurIPS
/// 2018) for the projections of `deconv`, as a cascade: step 0 is the trained network; step s has
/// the s top layers with parameters (the last s, top first) re-initialised from the spec's
/// initialisation, the rest trained. At every step the SAME units are projected (the trained
/// network's strongest activations of the chosen maps), each seeded with 1 at its position (every
/// other activation 0), so a projection changes only through the weights, the forward pass's
/// switches and ReLU masks, never through the unit's value under the randomised weights; each is
/// compared with the trained network's projection of the same unit (`spearman`, `ssim`).
public enum Sanity {
    /// One comparison: a unit's projection under `rule` at `step` against step 0's.
    public struct Row: Sendable, Equatable {
        public var step: Int
        /// The layers re-initialised at this step, top first (empty at step 0).
        public var layers: [String]
        public var rule: BackwardRule
        public var map: Int
        public var image: Int
        public var spearman: Double
        public var ssim: Double
    }

    /// The whole cascade: every comparison, and each rule's projections of the example unit (the
    /// first map's strongest activation) at every step.
    public struct Result: Sendable {
        public var rows: [Row]
        /// The layers with parameters, top first: step s re-initialises `cascade.prefix(s)`.
        public var cascade: [String]
        public var rules: [BackwardRule]
        public var example: Activation
        /// `examples[r][s]`: rule `rules[r]`'s projection of `example` at step s (input-sized).
        public var examples: [[[Float]]]
        /// Every projection, [step][rule][unit] (units map by map, strongest first): `sanity-projections.npy`.
        public var projections: [[[[Float]]]]
    }

    /// The nodes with parameters, top (last) first: the cascade's order.
    public static func cascade(_ graph: Graph) -> [Int] {
        var seen: [Int] = []
        for p in graph.namedParameters() where seen.last != p.node { seen.append(p.node) }
        return seen.reversed()
    }

    /// `trained` with the tensors of the first `step` layers of `order` (node indices) replaced by
    /// `random`'s (a whole `Initialization.weights` file: only those layers' tensors are taken).
    public static func weights(trained: [String: (shape: [Int], values: [Float])], random: [String: (shape: [Int], values: [Float])],
                               graph: Graph, order: [Int], step: Int) -> [String: (shape: [Int], values: [Float])] {
        let nodes = Set(order.prefix(step))
        var out = trained
        for p in graph.namedParameters() where nodes.contains(p.node) { out[p.name] = random[p.name] }
        return out
    }

    /// Runs the cascade for `rules` on `units` (the trained network's activations, map by map) of
    /// `layer`; `random` is the spec's initialisation (`Initialization.weights`).
    public static func run(graph: Graph, layer: Int, units: [Activation], rules: [BackwardRule], input: AnalysisInput,
                           trained: [String: (shape: [Int], values: [Float])], random: [String: (shape: [Int], values: [Float])],
                           backend: any Backend, batch: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        precondition(!units.isEmpty, "units to project")
        let order = cascade(graph)
        let seeded = units.map { Activation(image: $0.image, map: $0.map, row: $0.row, column: $0.column, value: 1) }
        var projections: [[[[Float]]]] = []
        var rows: [Row] = []
        for step in 0...order.count {
            let w = weights(trained: trained, random: random, graph: graph, order: order, step: step)
            var perRule: [[[Float]]] = []
            for (r, rule) in rules.enumerated() {
                let runner = try Projection.runner(graph: graph, layer: layer, rule: rule, backend: backend, batch: batch, weights: w)
                let p = try Projection.project(seeded, input: input, runner: runner, layer: layer)
                perRule.append(p)
                let reference = step == 0 ? p : projections[0][r]
                for (k, u) in units.enumerated() {
                    rows.append(Row(step: step, layers: order.prefix(step).map { graph.nodes[$0].name }, rule: rule, map: u.map, image: u.image,
                                    spearman: spearman(reference[k], p[k]), ssim: ssim(reference[k], p[k], shape: graph.input)))
                }
            }
            projections.append(perRule)
            progress(step + 1, order.count + 1)
        }
        let examples = rules.indices.map { r in projections.map { $0[r][0] } }
        return Result(rows: rows, cascade: order.map { graph.nodes[$0].name }, rules: rules, example: units[0],
                      examples: examples, projections: projections)
    }
}

/// The similarity measures.
extension Sanity {
    /// Spearman's rank correlation of |a| and |b| (as Adebayo et al.): Pearson's correlation of
    /// their ranks, ties given their mean rank. When either is constant (no ranks) it is 1 if both
    /// are, else 0.
    public static func spearman(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "arrays of one size")
        let ra = ranks(a.map { Double(abs($0)) }), rb = ranks(b.map { Double(abs($0)) })
        let n = Double(a.count), ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in ra.indices {
            let (x, y) = (ra[i] - ma, rb[i] - mb)
            sab += x * y
            saa += x * x
            sbb += y * y
        }
        if saa == 0 || sbb == 0 { return saa == sbb ? 1 : 0 }
        return max(-1, min(1, sab / (saa * sbb).squareRoot()))
    }

    /// Ranks 1…n of `x`, ties given the mean of the ranks they span.
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var out = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { out[order[k]] = rank }
            i = j + 1
        }
        return out
    }

    /// `x` scaled to [0, 1] by its minimum and maximum (all 0 when constant).
    public static func normalised(_ x: [Float]) -> [Double] {
        let low = Double(x.min() ?? 0), high = Double(x.max() ?? 0)
        guard high > low else { return [Double](repeating: 0, count: x.count) }
        return x.map { (Double($0) - low) / (high - low) }
    }

    /// The structural similarity (Wang et al. 2004) of `a` and `b` (C × H × W: `shape`), each first
    /// scaled to [0, 1] (`normalised`, over all channels): the mean over every 7×7 window inside the
    /// image (smaller windows for images under 7 pixels) and every channel of
    /// (2 μa μb + C1)(2 σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)), uniform weights, sample
    /// (co)variances (÷ 48), C1 = 0.01², C2 = 0.03²: scikit-image's `structural_similarity` with
    /// `data_range=1` (its defaults).
    public static func ssim(_ a: [Float], _ b: [Float], shape: TensorShape) -> Double {
        precondition(a.count == b.count && a.count == shape.elementCount!, "arrays of the input's shape")
        let (c, h, w) = (shape.channels, shape.height, shape.width)
        let x = normalised(a), y = normalised(b)
        let side = min(7, h, w), n = Double(side * side)
        let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
        var total = 0.0, windows = 0
        for ch in 0..<c { for top in 0...(h - side) { for left in 0...(w - side) {
            var sx = 0.0, sy = 0.0
            for i in 0..<side { for j in 0..<side {
                let q = (ch * h + top + i) * w + left + j
                sx += x[q]
                sy += y[q]
            } }
            let (mx, my) = (sx / n, sy / n)
            var vx = 0.0, vy = 0.0, cxy = 0.0
            for i in 0..<side { for j in 0..<side {
                let q = (ch * h + top + i) * w + left + j
                let (dx, dy) = (x[q] - mx, y[q] - my)
                vx += dx * dx
                vy += dy * dy
                cxy += dx * dy
            } }
            let norm = max(n - 1, 1)
            (vx, vy, cxy) = (vx / norm, vy / norm, cxy / norm)
            total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
            windows += 1
        } } }
        return total / Double(max(windows, 1))
    }
}

/// What `deconv --sanity` writes.
extension Sanity.Result {
    /// The label of step s: `trained`, then the layer re-initialised last (the lowest so far).
    public func stepLabel(_ s: Int) -> String { s == 0 ? "trained" : cascade[s - 1] }

    /// sanity.csv: a line per step, rule and unit.
    public var csv: String {
        var out = "step,layers_randomised,rule,map,image,spearman,ssim\n"
        for r in rows {
            out += "\(r.step),\(r.layers.isEmpty ? "none" : r.layers.joined(separator: ";")),\(r.rule.rawValue),\(r.map),\(r.image),"
                + "\(r.spearman),\(r.ssim)\n"
        }
        return out
    }

    /// The rows of step `s` and `rule`.
    public func rows(step s: Int, rule: BackwardRule) -> [Sanity.Row] { rows.filter { $0.step == s && $0.rule == rule } }

    /// sanity.md: mean ± sd of each measure per step and rule, under `heading`.
    public func markdown(heading: String) -> String {
        func meanSD(_ v: [Double]) -> String {
            let n = Double(v.count), m = v.reduce(0, +) / max(n, 1)
            let sd = v.count > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot() : 0
            return String(format: "%.3f ± %.3f", m, sd)
        }
        var out = "# \(heading)\n\n"
        out += "Similarity of each unit's projection to the trained network's (mean ± sd over the units). Spearman: rank correlation of "
            + "the absolute values. SSIM: 7×7 uniform window on each projection scaled to [0, 1] by its min and max. "
            + "Step s re-initialises the top s layers with parameters (\(cascade.joined(separator: ", "))), cumulatively; each unit "
            + "(the trained network's strongest activations) is seeded with 1 at every step.\n\n"
        out += "| step | randomised down to | rule | units | Spearman | SSIM |\n|---:|---|---|---:|---|---|\n"
        for s in 0...cascade.count {
            for rule in rules {
                let r = rows(step: s, rule: rule)
                out += "| \(s) | \(s == 0 ? "(none: trained)" : stepLabel(s)) | \(rule.rawValue) | \(r.count) | \(meanSD(r.map(\.spearman))) | \(meanSD(r.map(\.ssim))) |\n"
            }
        }
        return out
    }
}
