import Foundation
import StrataIR
import StrataTrain

/// What `Robustness.run` measures, and with which settings (every one is stated in the outputs).
public struct RobustnessSettings: Sendable {
    /// Shift consistency (Zhang 2019): each image shifted twice by whole pixels (dx, dy), each
    /// drawn uniformly in ±`shiftRange`; uncovered pixels black (0, raw).
    public var shiftRange: Int
    /// Worst-of-k (Engstrom et al. 2019): k random (dx, dy, θ) with |dx|, |dy| ≤ `translation`
    /// pixels and |θ| ≤ `rotation` degrees, bilinear, uncovered pixels black.
    public var k: Int
    public var translation: Double
    public var rotation: Double
    /// The grid: translations −t…t by `translationStep` on both axes × rotations −r…r by `rotationStep`.
    public var translationStep: Double
    public var rotationStep: Double
    /// The seed of every random draw (shifts, worst-of-k pairs, the noise corruption).
    public var seed: UInt64

    /// The defaults for an input of side `side`: shifts of up to a quarter of the side, worst-of-10
    /// in ±10% of the side (±3 px at 28) and ±30°, the grid by 3 px and 15°.
    public init(side: Int, shiftRange: Int? = nil, k: Int = 10, translation: Double? = nil, rotation: Double = 30,
                translationStep: Double? = nil, rotationStep: Double = 15, seed: UInt64 = 0) {
        let t = translation ?? max(1, (0.1 * Double(side)).rounded())
        self.shiftRange = shiftRange ?? max(1, side / 4)
        self.k = k
        self.translation = t
        self.rotation = rotation
        self.translationStep = translationStep ?? t
        self.rotationStep = rotationStep
        self.seed = seed
    }

    /// The grid's values from −`reach` to `reach` by `step` (0 alone when the reach is 0).
    static func steps(_ reach: Double, _ step: Double) -> [Double] {
        guard reach > 0, step > 0 else { return [0] }
        let n = Int((reach / step + 1e-9).rounded(.down))
        return (-n...n).map { Double($0) * step }
    }

    /// The grid's translations (both axes) and rotations.
    public var gridTranslations: [Double] { Self.steps(translation, translationStep) }
    public var gridRotations: [Double] { Self.steps(rotation, rotationStep) }
    /// Every (dx, dy, θ) of the grid.
    public var grid: [(Double, Double, Double)] {
        gridRotations.flatMap { r in gridTranslations.flatMap { y in gridTranslations.map { x in (x, y, r) } } }
    }
}

/// The corruptions (ImageNet-C's protocol on the photometric transforms): five severities each.
public enum Corruption {
    /// The one table of amounts: severity s (1…5) of a corruption is `amounts[corruption][s − 1]`
    /// (noise: uniform ±w/2; blur: Gaussian σ pixels at 28 px, scaled with the side; contrast: the factor c).
    public static func table(side: Int) -> [(Transform, [Double])] {
        let scale = Double(side) / 28
        return [(.noise, [0.1, 0.2, 0.35, 0.6, 0.9]),
                (.blur, [0.5, 1, 1.5, 2, 3].map { $0 * scale }),
                (.contrast, [0.5, 0.3, 0.15, 0.1, 0.05])]
    }
}

/// One line of robustness.csv: a measure at a setting (and a layer), its value and 95% interval.
public struct RobustnessRow: Sendable, Equatable {
    public var measure: String
    public var setting: String
    public var layer: String
    public var value: Interval
    public var images: Int
    /// How the interval was made (for the Markdown).
    public var interval: String

    public init(measure: String, setting: String, layer: String = "", value: Interval, images: Int, interval: String) {
        (self.measure, self.setting, self.layer, self.value, self.images, self.interval) = (measure, setting, layer, value, images, interval)
    }
}

/// Robustness beyond the ZF paper's sweeps, as the field measures it (`strata robustness`): every
/// transform acts on the raw image and the mean is subtracted after it (T(x) − μ), as `Sweep` does.
public enum Robustness {
    /// The rows of every measure: clean accuracy, shift consistency and its per-layer feature
    /// distance, worst-of-k and grid accuracy, and the corruption errors; with a `baseline` runner
    /// also each corruption's error relative to it and the mCE. `runner` keeps `layers` and the last node.
    public static func run(_ input: AnalysisInput, runner: BatchRunner, layers: [Int], settings: RobustnessSettings,
                           baseline: BatchRunner? = nil, progress: (Int, Int) -> Void = { _, _ in }) throws -> [RobustnessRow] {
        guard let labels = input.labels else { throw SweepError("robustness needs the images' labels") }
        let graph = runner.graph, n = input.count
        let corruptions = Corruption.table(side: graph.input.height)
        let total = n * (1 + 2 + settings.k + settings.grid.count + corruptions.count * 5) * (baseline == nil ? 1 : 2)
        var done = 0
        func tick(_ m: Int) { done += m; progress(min(done, total), total) }
        let clean = try predictions(runner, input) { _, x, out in out.update(from: x, count: input.perImage) }
        tick(n)
        var rows = [RobustnessRow(measure: "clean_accuracy", setting: "untransformed", value: accuracy(clean, labels), images: n, interval: wilson)]
        rows += try shiftConsistency(input, runner: runner, layers: layers, settings: settings)
        tick(2 * n)
        rows += try spatial(input, runner: runner, settings: settings, labels: labels)
        tick(n * (settings.k + settings.grid.count))
        let mine = try corruptionErrors(input, runner: runner, corruptions: corruptions, seed: settings.seed, labels: labels, clean: clean)
        rows += mine.rows
        tick(n * corruptions.count * 5)
        if let baseline {
            let theirClean = try predictions(baseline, input) { _, x, out in out.update(from: x, count: input.perImage) }
            let theirs = try corruptionErrors(input, runner: baseline, corruptions: corruptions, seed: settings.seed, labels: labels, clean: theirClean)
            rows += relative(mine.wrong, theirs.wrong, corruptions: corruptions.map(\.0), seed: settings.seed)
            tick(total - done)
        }
        return rows
    }

    static let wilson = "Wilson 95%", normal = "mean ± 1.96 s/√n", bootstrap = "bootstrap 95% (1000 resamples of the images)"

    static func accuracy(_ top: [Int], _ labels: [Int]) -> Interval {
        Interval(successes: zip(top, labels).filter { $0 == $1 }.count, of: top.count)
    }

    /// Every image transformed by `transform(image, raw, out)` (raw pixels in, raw pixels out),
    /// then the mean subtracted: T(x) − μ, the network's input.
    static func prepared(_ input: AnalysisInput, _ transform: (Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        let per = input.perImage
        var moved = [Float](repeating: 0, count: input.count * per), out = moved
        input.raw.withUnsafeBufferPointer { x in
            moved.withUnsafeMutableBufferPointer { m in
                for i in 0..<input.count { transform(i, x.baseAddress! + i * per, m.baseAddress! + i * per) }
                out.withUnsafeMutableBufferPointer { input.rule.prepare(m.baseAddress!, into: $0.baseAddress!, count: input.count) }
            }
        }
        return out
    }

    /// The top-1 class of every image, transformed as `transform` says.
    static func predictions(_ runner: BatchRunner, _ input: AnalysisInput,
                            _ transform: (Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) throws -> [Int] {
        let last = runner.graph.nodes.count - 1, classes = runner.graph.classes
        let p = try runner.outputs(prepared(input, transform), count: input.count, nodes: [last])[0]
        return (0..<input.count).map { i in (0..<classes).max { p[i * classes + $0] < p[i * classes + $1] }! }
    }

    /// A draw in −r…r (whole numbers) from a generator.
    static func uniformInt(_ g: inout SplitMix64, _ r: Int) -> Int { Int(g.next() % UInt64(2 * r + 1)) - r }
    static func uniform(_ g: inout SplitMix64, _ r: Double) -> Double { (Double(g.next() >> 11) * 0x1.0p-53 * 2 - 1) * r }

    /// The two shifts of image `i` (dx1, dy1, dx2, dy2): a function of the seed and the image only.
    public static func shifts(seed: UInt64, image i: Int, range r: Int) -> (Int, Int, Int, Int) {
        var g = SplitMix64(seed: Sweep.noiseSeed(seed ^ 0x5348_4946_5400, image: i))
        return (uniformInt(&g, r), uniformInt(&g, r), uniformInt(&g, r), uniformInt(&g, r))
    }

    /// Shift consistency and, per layer, the relative distance ‖f(x₁) − f(x₂)‖ / (½(‖f(x₁)‖ + ‖f(x₂)‖)).
    static func shiftConsistency(_ input: AnalysisInput, runner: BatchRunner, layers: [Int], settings: RobustnessSettings) throws -> [RobustnessRow] {
        let graph = runner.graph, n = input.count, r = settings.shiftRange
        var agree = 0, values = [[Double]](repeating: [], count: layers.count)
        // In chunks of images, so every layer's outputs of two copies of the whole set are never held at once.
        let chunk = 256, per = input.perImage
        for first in stride(from: 0, to: n, by: chunk) {
            let m = min(chunk, n - first)
            let part = AnalysisInput(raw: Array(input.raw[(first * per)..<((first + m) * per)]), count: m, labels: nil, names: [], rule: input.rule)
            let (same, distances) = try shiftChunk(part, first: first, runner: runner, layers: layers, settings: settings)
            agree += same
            for k in 0..<layers.count { values[k] += distances[k] }
        }
        let setting = "dx, dy uniform in ±\(r) px (whole pixels), fill black, seed \(settings.seed)"
        var rows = [RobustnessRow(measure: "shift_consistency", setting: setting, value: Interval(successes: agree, of: n), images: n, interval: wilson)]
        for (k, node) in layers.enumerated() {
            rows.append(RobustnessRow(measure: "shift_feature_distance", setting: setting, layer: graph.nodes[node].name, value: Interval(values: values[k]),
                                      images: n, interval: normal))
        }
        return rows
    }

    /// For images `first`… of `part`: how many two shifted copies agree on, and per layer each image's relative distance.
    static func shiftChunk(_ part: AnalysisInput, first: Int, runner: BatchRunner, layers: [Int], settings: RobustnessSettings) throws -> (Int, [[Double]]) {
        let graph = runner.graph, n = part.count, (h, w) = (graph.input.height, graph.input.width)
        let last = graph.nodes.count - 1, classes = graph.classes
        var outputs: [[[Float]]] = []
        for copy in 0..<2 {
            let images = prepared(part) { i, x, out in
                let s = shifts(seed: settings.seed, image: first + i, range: settings.shiftRange)
                let (dx, dy) = copy == 0 ? (s.0, s.1) : (s.2, s.3)
                Transform.affine(height: h, width: w, (1, 0, 0, 1, -Double(dy), -Double(dx))).apply(x, out, channels: graph.input.channels)
            }
            outputs.append(try runner.outputs(images, count: n, nodes: layers + [last]))
        }
        let top = outputs.map { o in (0..<n).map { i in (0..<classes).max { o.last![i * classes + $0] < o.last![i * classes + $1] }! } }
        let distances = layers.indices.map { k in
            let size = graph.nodes[layers[k]].shape!.elementCount!, a = outputs[0][k], b = outputs[1][k]
            return (0..<n).map { i -> Double in
                let d = Sweep.distance(a, b, from: i * size, count: size)
                let na = norm(a, from: i * size, count: size), nb = norm(b, from: i * size, count: size)
                return na + nb > 0 ? 2 * d / (na + nb) : 0
            }
        }
        return (zip(top[0], top[1]).filter { $0 == $1 }.count, distances)
    }

    /// ‖a[from..<from + count]‖.
    static func norm(_ a: [Float], from: Int, count: Int) -> Double {
        a[from..<(from + count)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// The sampler that rotates by `degrees` about the centre, then translates by (dx, dy) (bilinear, black).
    public static func spatialSampler(height h: Int, width w: Int, dx: Double, dy: Double, degrees: Double) -> Transform.Sampler {
        let (s, c) = Transform.sinCos(degrees: degrees)
        // Source of the output offset p: R⁻¹(p − d), R⁻¹ the rotate transform's map.
        let (a, b, cc, d) = (c, s, -s, c)
        return Transform.affine(height: h, width: w, (a, b, cc, d, -(a * dy + b * dx), -(cc * dy + d * dx)))
    }

    /// Worst-of-k (random pairs) and worst-on-the-grid accuracy: an image counts only if every copy is right.
    static func spatial(_ input: AnalysisInput, runner: BatchRunner, settings: RobustnessSettings, labels: [Int]) throws -> [RobustnessRow] {
        let (c, h, w) = (runner.graph.input.channels, runner.graph.input.height, runner.graph.input.width), n = input.count
        var right = [Bool](repeating: true, count: n)
        for j in 0..<settings.k {
            let top = try predictions(runner, input) { i, x, out in
                var g = SplitMix64(seed: Sweep.noiseSeed(settings.seed ^ 0x574F_5253_5400 ^ UInt64(j) &* 0xD1B5_4A32_D192_ED03, image: i))
                let (dx, dy, r) = (uniform(&g, settings.translation), uniform(&g, settings.translation), uniform(&g, settings.rotation))
                spatialSampler(height: h, width: w, dx: dx, dy: dy, degrees: r).apply(x, out, channels: c)
            }
            for i in 0..<n where top[i] != labels[i] { right[i] = false }
        }
        var gridRight = [Bool](repeating: true, count: n)
        for (dx, dy, r) in settings.grid {
            let sampler = spatialSampler(height: h, width: w, dx: dx, dy: dy, degrees: r)
            let top = try predictions(runner, input) { _, x, out in sampler.apply(x, out, channels: c) }
            for i in 0..<n where top[i] != labels[i] { gridRight[i] = false }
        }
        let t = number(settings.translation), rot = number(settings.rotation)
        return [
            RobustnessRow(measure: "worst_of_k_accuracy", setting: "k = \(settings.k) random (dx, dy, θ), |dx|, |dy| ≤ \(t) px, |θ| ≤ \(rot)°, bilinear, fill black, seed \(settings.seed)",
                          value: Interval(successes: right.filter { $0 }.count, of: n), images: n, interval: wilson),
            RobustnessRow(measure: "grid_worst_accuracy",
                          setting: "grid of \(settings.grid.count): dx, dy in −\(t)…\(t) by \(number(settings.translationStep)) px × θ in −\(rot)…\(rot) by \(number(settings.rotationStep))°, bilinear, fill black",
                          value: Interval(successes: gridRight.filter { $0 }.count, of: n), images: n, interval: wilson),
        ]
    }

    /// A number as the settings write it (no trailing ".0").
    static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e9 ? "\(Int(v))" : "\(v)" }

    /// Per corruption and severity the error (Wilson), per corruption the mean over severities and
    /// over all the mean corruption error (each over images: an image's share of wrong copies).
    /// `wrong[c][s][i]`: image i wrong at corruption c, severity s (0: clean).
    static func corruptionErrors(_ input: AnalysisInput, runner: BatchRunner, corruptions: [(Transform, [Double])], seed: UInt64, labels: [Int],
                                 clean: [Int]) throws -> (rows: [RobustnessRow], wrong: [[[Bool]]]) {
        let (c, h, w) = (runner.graph.input.channels, runner.graph.input.height, runner.graph.input.width), n = input.count
        var rows: [RobustnessRow] = [], wrong: [[[Bool]]] = []
        let cleanWrong = zip(clean, labels).map { $0 != $1 }
        var perImage = [Double](repeating: 0, count: n)
        for (t, amounts) in corruptions {
            var levels = [cleanWrong]
            rows.append(RobustnessRow(measure: "corruption_error", setting: "\(t.rawValue) severity 0 (clean)", value: error(cleanWrong), images: n, interval: wilson))
            for (s, amount) in amounts.enumerated() {
                let top = try predictions(runner, input) { i, x, out in
                    t.apply(x, out, channels: c, height: h, width: w, amount: amount, seed: Sweep.noiseSeed(seed, image: i))
                }
                let level = zip(top, labels).map { $0 != $1 }
                levels.append(level)
                rows.append(RobustnessRow(measure: "corruption_error", setting: "\(t.rawValue) severity \(s + 1) (\(t.rawValue) \(number(amount)))",
                                          value: error(level), images: n, interval: wilson))
            }
            let mean = (0..<n).map { i in Double(levels.dropFirst().filter { $0[i] }.count) / Double(amounts.count) }
            for i in 0..<n { perImage[i] += mean[i] / Double(corruptions.count) }
            rows.append(RobustnessRow(measure: "corruption_mean_error", setting: "\(t.rawValue), severities 1–\(amounts.count)", value: Interval(values: mean),
                                      images: n, interval: normal))
            wrong.append(levels)
        }
        rows.append(RobustnessRow(measure: "mean_corruption_error", setting: corruptions.map(\.0.rawValue).joined(separator: ", ") + ", severities 1–5",
                                  value: Interval(values: perImage), images: n, interval: normal))
        return (rows, wrong)
    }

    static func error(_ wrong: [Bool]) -> Interval { Interval(successes: wrong.filter { $0 }.count, of: wrong.count) }

    /// Each corruption's errors summed over severities 1–5 over the baseline's (ImageNet-C's CE),
    /// and their mean (mCE), with bootstrap intervals over the images.
    static func relative(_ mine: [[[Bool]]], _ theirs: [[[Bool]]], corruptions: [Transform], seed: UInt64) -> [RobustnessRow] {
        let n = mine.first?.first?.count ?? 0
        // Per corruption and image: wrong copies over severities 1–5, for the network and the baseline.
        let a = mine.map { c in (0..<n).map { i in c.dropFirst().filter { $0[i] }.count } }
        let b = theirs.map { c in (0..<n).map { i in c.dropFirst().filter { $0[i] }.count } }
        func ratios(_ pick: [Int]) -> [Double] {
            (0..<a.count).map { k in
                let num = pick.reduce(0) { $0 + a[k][$1] }, den = pick.reduce(0) { $0 + b[k][$1] }
                return den > 0 ? Double(num) / Double(den) : (num == 0 ? 1 : .infinity)
            }
        }
        let point = ratios(Array(0..<n))
        var g = SplitMix64(seed: seed ^ 0x424F_4F54)
        var draws = [[Double]](repeating: [], count: a.count + 1)
        for _ in 0..<1000 {
            let pick = (0..<n).map { _ in Int(g.next() % UInt64(max(n, 1))) }
            let r = ratios(pick)
            for k in 0..<r.count { draws[k].append(r[k]) }
            draws[a.count].append(r.reduce(0, +) / Double(max(r.count, 1)))
        }
        func interval(_ value: Double, _ d: [Double]) -> Interval {
            let s = d.sorted()
            var v = Interval(values: [value])
            (v.low, v.high) = s.isEmpty ? (value, value) : (s[Int(0.025 * Double(s.count - 1))], s[Int((0.975 * Double(s.count - 1)).rounded())])
            return v
        }
        var rows = corruptions.enumerated().map { k, t in
            RobustnessRow(measure: "relative_corruption_error", setting: "\(t.rawValue): Σ error over severities 1–5 ÷ the baseline's", value: interval(point[k], draws[k]),
                          images: n, interval: bootstrap)
        }
        rows.append(RobustnessRow(measure: "mCE", setting: "mean over " + corruptions.map(\.rawValue).joined(separator: ", ") + " of the relative corruption errors",
                                  value: interval(point.reduce(0, +) / Double(max(point.count, 1)), draws[a.count]), images: n, interval: bootstrap))
        return rows
    }
}

/// The texts robustness writes: robustness.csv and robustness.md.
extension Robustness {
    /// robustness.csv: a line per row: measure, setting, layer, value, its 95% interval, images.
    public static func csvText(_ rows: [RobustnessRow]) -> String {
        var out = "measure,setting,layer,value,ci95_low,ci95_high,images\n"
        for r in rows {
            out += "\(r.measure),\(quoted(r.setting)),\(r.layer),\(csv(r.value.mean)),\(csv(r.value.low)),\(csv(r.value.high)),\(r.images)\n"
        }
        return out
    }

    /// A CSV field: quoted when it holds a comma or a quote.
    public static func quoted(_ s: String) -> String {
        s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// robustness.md: a heading naming the network, the weights, the split and the images, then
    /// one table of every measure with its interval and how the interval was made.
    public static func markdown(_ rows: [RobustnessRow], network: String, weights: String, baseline: String?, split: String, images: Int,
                                settings: RobustnessSettings, corruptions: [(Transform, [Double])]) -> String {
        func f(_ v: Double) -> String { v.isFinite ? String(format: "%.4f", v) : csv(v) }
        var out = "# Robustness of \(network)\n\n"
        out += "Weights \(weights); \(images) images of the \(split) split\(baseline.map { "; baseline \($0)" } ?? ""). Every transform acts on the raw image, "
            + "then the mean is subtracted: T(x) − μ. Seed \(settings.seed).\n\n"
        out += "Corruption severities 1–5: " + corruptions.map { "\($0.0.rawValue) \($0.1.map(number).joined(separator: ", "))" }.joined(separator: "; ")
            + " (noise: uniform ±w/2 per pixel, not clipped; blur: Gaussian σ px; contrast: (x − m)·c + m).\n\n"
        out += "| measure | setting | layer | value | 95% interval | images | interval |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            let setting = r.setting.replacingOccurrences(of: "|", with: "/")
            out += "| \(r.measure) | \(setting) | \(r.layer.isEmpty ? "–" : r.layer) | \(f(r.value.mean)) | \(f(r.value.low))–\(f(r.value.high)) | \(r.images) | \(r.interval) |\n"
        }
        out += "\nShift consistency: P(top-1 of the two shifted copies agree); feature distance: ‖f(x₁) − f(x₂)‖ / (½(‖f(x₁)‖ + ‖f(x₂)‖)) at each layer. "
            + "Worst-of-k and grid: an image counts as right only if every copy is classified right. Corruption error: top-1 error; CE (mean_corruption_error): "
            + "the mean over corruptions of the mean over severities 1–5"
            + (baseline == nil ? ".\n" : "; relative_corruption_error: Σ_s error(network) / Σ_s error(baseline) per corruption (ImageNet-C's normalisation), mCE their mean.\n")
        return out
    }
}
