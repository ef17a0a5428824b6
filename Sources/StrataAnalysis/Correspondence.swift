import Foundation
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataSpec

/// Table 1 of the ZF paper: do the features of different images change the same way when the same
/// part of the object is hidden? For a part and a layer, ε_i = f(image i) − f(image i with the part
/// covered), the cover drawn on the raw image (`OccluderFill`, grey as in the paper); for each
/// image pair i < j, the fraction of feature positions where sign(ε_i) ≠ sign(ε_j) (sign ∈ {−1, 0,
/// 1}); Δ is the mean of that over pairs, ± its standard deviation over pairs. Lower is more
/// consistent.
///
/// The control hides a patch of the part's size at a random place in each image, drawn per image
/// (seeded) among the places where the patch covers the object: at least half of its pixels are
/// object pixels, those that differ from the image's background (the median of its border pixels,
/// per channel) by more than 2/255. (The issue's wording, "differ from the fill", is the same rule
/// where the fill is the background colour; with the paper's grey fill on a black background it
/// would accept every place.) Its Δ and spread are computed the same way, over the pairs of all
/// `draws` draws together.
public enum Correspondence {
    public struct Statistic: Sendable {
        public var mean: Double
        /// Standard deviation over image pairs (population).
        public var std: Double
        public var pairs: Int

        public init(mean: Double, std: Double, pairs: Int) {
            (self.mean, self.std, self.pairs) = (mean, std, pairs)
        }
    }

    public struct Row: Sendable {
        public var part: String
        public var layer: String
        public var score: Statistic
        public var control: Statistic
        /// Images whose object was too small for a patch of this size to be half on it: their
        /// control took the place with the most object pixels.
        public var controlFallbacks: Int

        public init(part: String, layer: String, score: Statistic, control: Statistic, controlFallbacks: Int) {
            (self.part, self.layer, self.score, self.control, self.controlFallbacks) = (part, layer, score, control, controlFallbacks)
        }
    }

    /// The sign disagreement of each image pair i < j of the difference vectors.
    public static func pairValues(_ differences: [[Float]]) -> [Double] {
        var values: [Double] = []
        for i in 0..<differences.count {
            for j in (i + 1)..<differences.count {
                let (a, b) = (differences[i], differences[j])
                var disagree = 0
                for k in a.indices where sign(a[k]) != sign(b[k]) { disagree += 1 }
                values.append(Double(disagree) / Double(max(a.count, 1)))
            }
        }
        return values
    }

    /// (mean, std over pairs) of the sign disagreement of the difference vectors.
    public static func score(_ differences: [[Float]]) -> (mean: Double, std: Double) { meanAndStd(pairValues(differences)) }

    public static func sign(_ x: Float) -> Int { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    /// Mean and (population) standard deviation; (0, 0) for none.
    public static func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
        guard !values.isEmpty else { return (0, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        return (mean, (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot())
    }

    static func statistic(_ values: [Double]) -> Statistic {
        let (mean, std) = meanAndStd(values)
        return Statistic(mean: mean, std: std, pairs: values.count)
    }

    /// Per pixel (H·W), whether a raw C×H×W image differs there from its background: the median of
    /// its border pixels per channel, by more than `tolerance` in some channel.
    public static func objectMask(_ image: ArraySlice<Float>, channels: Int, height: Int, width: Int, tolerance: Float = 2 / 255) -> [Bool] {
        let base = image.startIndex, plane = height * width
        var mask = [Bool](repeating: false, count: plane)
        for ch in 0..<channels {
            var border: [Float] = []
            for y in 0..<height {
                for x in 0..<width where y == 0 || x == 0 || y == height - 1 || x == width - 1 { border.append(image[base + ch * plane + y * width + x]) }
            }
            border.sort()
            let background = border.isEmpty ? 0 : border[border.count / 2]
            for p in 0..<plane where abs(image[base + ch * plane + p] - background) > tolerance { mask[p] = true }
        }
        return mask
    }

    /// A control patch of `size` (rows, columns) for one image: a place drawn by `random` among those
    /// at least half on the object, else (`fallback`) the place with the most object pixels.
    public static func controlRect(mask: [Bool], height: Int, width: Int, size: (Int, Int), random: inout SplitMix64) -> (rect: [Int], fallback: Bool) {
        let (rh, rw) = size
        // Object pixels in every rh×rw window, from a summed-area table.
        var sums = [Int](repeating: 0, count: (height + 1) * (width + 1))
        for y in 0..<height {
            for x in 0..<width {
                sums[(y + 1) * (width + 1) + x + 1] = (mask[y * width + x] ? 1 : 0) + sums[y * (width + 1) + x + 1] + sums[(y + 1) * (width + 1) + x] - sums[y * (width + 1) + x]
            }
        }
        var good: [(Int, Int)] = [], best = (0, 0), bestCount = -1
        for y in 0...(height - rh) {
            for x in 0...(width - rw) {
                let n = sums[(y + rh) * (width + 1) + x + rw] - sums[y * (width + 1) + x + rw] - sums[(y + rh) * (width + 1) + x] + sums[y * (width + 1) + x]
                if 2 * n >= rh * rw { good.append((y, x)) }
                if n > bestCount { (best, bestCount) = ((y, x), n) }
            }
        }
        guard !good.isEmpty else { return ([best.0, best.1, rh, rw], true) }
        let (y, x) = good[Int(random.next() % UInt64(good.count))]
        return ([y, x, rh, rw], false)
    }

    /// Runs the analysis: per part (a rectangle [row, column, height, width] per image) and layer, the
    /// part's Δ and the control's. `runner` must keep `layers`.
    public static func run(_ input: AnalysisInput, parts: [(String, [[Int]])], runner: BatchRunner, layers: [Int], fill: OccluderFill,
                           draws: Int, seed: UInt64, progress: (Int, Int) -> Void = { _, _ in }) throws -> [Row] {
        let graph = runner.graph
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let n = input.count, perImage = input.perImage
        let clean = try runner.outputs(input.images, count: n, nodes: layers)
        let meanImage = input.rule.inputMean
        /// Per layer, the difference vectors for images each covered at its rectangle.
        func differences(_ rects: [[Int]]) throws -> [[[Float]]] {
            var covered = input.raw
            covered.withUnsafeMutableBufferPointer { x in
                for i in 0..<n { fill.draw(x.baseAddress! + i * perImage, channels: c, height: h, width: w, rect: rects[i], meanImage: meanImage) }
            }
            let outputs = try runner.outputs(input.rule.prepared(covered), count: n, nodes: layers)
            return layers.indices.map { k in
                let size = graph.nodes[layers[k]].shape!.elementCount!
                return (0..<n).map { i in (0..<size).map { clean[k][i * size + $0] - outputs[k][i * size + $0] } }
            }
        }
        let masks = (0..<n).map { objectMask(input.rawImage($0), channels: c, height: h, width: w) }
        var rows: [Row] = []
        for (index, (part, rects)) in parts.enumerated() {
            let scores = try differences(rects).map { statistic(pairValues($0)) }
            // The control, per image: its own random place on the object, of the part's size there.
            var controls = [[Double]](repeating: [], count: layers.count)
            var random = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
            var fallbacks = Set<Int>()
            for _ in 0..<draws {
                let drawn = (0..<n).map { i in controlRect(mask: masks[i], height: h, width: w, size: (rects[i][2], rects[i][3]), random: &random) }
                for (i, d) in drawn.enumerated() where d.fallback { fallbacks.insert(i) }
                for (k, d) in try differences(drawn.map(\.rect)).enumerated() { controls[k] += pairValues(d) }
            }
            for (k, node) in layers.enumerated() {
                rows.append(Row(part: part, layer: graph.nodes[node].name, score: scores[k], control: statistic(controls[k]), controlFallbacks: fallbacks.count))
            }
            progress(index + 1, parts.count)
        }
        return rows
    }

    /// correspondence.md: the paper's layout, a row per part and one per its control, a column per
    /// layer, cells Δ mean ± std; then, given the `images` and the `fill`, what Δ is over them (their
    /// pairs, the part covered with the fill); and a note for each part whose control fell back
    /// for some images.
    public static func markdown(_ rows: [Row], parts: [String], layers: [String], draws: Int, images: Int? = nil, fill: OccluderFill? = nil) -> String {
        var md = "| | " + layers.map { "Δ \($0)" }.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: layers.count) + "\n"
        for part in parts {
            for control in [false, true] {
                let cells = layers.map { layer -> String in
                    guard let r = rows.first(where: { $0.part == part && $0.layer == layer }) else { return "-" }
                    let v = control ? r.control : r.score
                    return String(format: "%.4f ± %.4f", v.mean, v.std)
                }
                md += "| \(control ? "random (\(Markdown.cell(part))'s size, \(draws) draw\(draws == 1 ? "" : "s"))" : Markdown.cell(part)) | " + cells.joined(separator: " | ") + " |\n"
            }
        }
        if let images, let fill {
            md += "\nΔ: the mean over the \(images * (images - 1) / 2) image pairs of the fraction of features where the two images' changes differ in sign, "
                + "± std over pairs; the part covered with \(fill) on the raw image; the controls' pairs pooled over the draws.\n"
        }
        for r in rows where r.controlFallbacks > 0 && r.layer == layers.first {
            md += "\nnote: \(r.controlFallbacks) image(s) had no place where a patch of \(r.part)'s size is half on the object; their control took the place with the most object pixels.\n"
        }
        return md
    }

    /// correspondence.csv: a line per part and layer, with Δ and its control (mean, std, pairs)
    /// and the images whose control fell back.
    public static func csv(_ rows: [Row]) -> String {
        func number(_ x: Double) -> String { StrataAnalysis.csv(x) }
        var table = "part,layer,delta_mean,delta_std,pairs,control_mean,control_std,control_pairs,control_fallback_images\n"
        for r in rows {
            table += "\(CSV.field(r.part)),\(r.layer),\(number(r.score.mean)),\(number(r.score.std)),\(r.score.pairs),\(number(r.control.mean)),"
                + "\(number(r.control.std)),\(r.control.pairs),\(r.controlFallbacks)\n"
        }
        return table
    }

    /// A regions file (`parts: {NAME: [[row, column, height, width], ...]}`, one rectangle per
    /// image): the parts in file order, each with its rectangles, every error located in the file.
    public static func regions(_ path: String, images: Int, height: Int, width: Int) throws -> [(String, [[Int]])] {
        let text = String(decoding: try FileCheck.contents(path, mapped: false), as: UTF8.self)
        let root = try YAMLReader.parse(text: text, file: path)
        var bag: [Diagnostic] = []
        guard let parts = root.mapping?.first(where: { $0.key == "parts" })?.value.mapping, !parts.isEmpty else {
            throw DiagnosticError(.error("expected a mapping 'parts:' of part names to lists of [row, column, height, width], one per image", at: root.location))
        }
        var result: [(String, [[Int]])] = []
        for entry in parts {
            guard let list = entry.value.sequence else {
                bag.append(.error("'\(entry.key)' must be a list of [row, column, height, width], one per image", at: entry.value.location)); continue
            }
            if list.count != images {
                bag.append(.error("'\(entry.key)' has \(list.count) rectangles but there are \(images) images; give one per image", at: entry.value.location))
            }
            var rects: [[Int]] = []
            for item in list {
                let numbers = item.sequence?.compactMap { $0.scalar.flatMap(Int.init) } ?? []
                guard numbers.count == 4, item.sequence?.count == 4, numbers[2] >= 1, numbers[3] >= 1, numbers[0] >= 0, numbers[1] >= 0,
                      numbers[0] <= height, numbers[1] <= width, numbers[2] <= height - numbers[0], numbers[3] <= width - numbers[1] else {
                    bag.append(.error("expected [row, column, height, width] of whole numbers inside the \(height)×\(width) input", at: item.location))
                    continue
                }
                rects.append(numbers)
            }
            result.append((entry.key, rects))
        }
        if !bag.isEmpty { throw DiagnosticError(bag) }
        return result
    }
}
