import Dispatch
import Foundation
import StrataFormats
import StrataIR
import StrataMPI
import StrataPlan
import StrataTrain

/// Fig. 5 of the ZF paper on any network: how far each layer's output moves, and what the
/// classifier says, as an input is transformed by growing amounts.
public struct SweepRow: Sendable {
    public var image: Int
    public var transform: Transform
    public var amount: Double
    public var layer: String
    /// ‖f(T(x)) − f(x)‖ over the layer's flattened output, and that over ‖f(x)‖.
    public var distance: Double
    public var relativeDistance: Double
    /// Softmax probability of the image's label, and the most probable class.
    public var trueProbability: Double
    public var topLabel: Int

    public init(image: Int, transform: Transform, amount: Double, layer: String, distance: Double, relativeDistance: Double,
                trueProbability: Double, topLabel: Int) {
        (self.image, self.transform, self.amount, self.layer) = (image, transform, amount, layer)
        (self.distance, self.relativeDistance, self.trueProbability, self.topLabel) = (distance, relativeDistance, trueProbability, topLabel)
    }
}

public struct SweepSummaryRow: Sendable {
    public var transform: Transform
    public var amount: Double
    public var layer: String
    public var images: Int
    /// The absolute distance ‖f(T(x)) − f(x)‖ (the paper's Fig. 5 a2–c2), the relative one, the
    /// true class's probability and the top-1 accuracy, each the mean over images with its 95% interval.
    public var distance: Interval
    public var relativeDistance: Interval
    public var trueProbability: Interval
    public var accuracy: Interval
}

public enum Sweep {
    /// A runner for `run`: it observes `layers` during each run (their memory is reused, so the plan
    /// is as small as plain inference's) and keeps the probabilities.
    public static func runner(graph: Graph, backend: any Backend, batch: Int, layers: [Int],
                              weights: [String: (shape: [Int], values: [Float])]) throws -> BatchRunner {
        BatchRunner(graph: graph, derived: try DerivedGraph.derive(graph, training: false), backend: backend, batch: batch,
                    keep: [.value(graph.nodes.count - 1)], observe: Set(layers.map { TensorID.value($0) }), weights: weights)
    }

    /// Runs the sweep. `layers`: node indices; the last node (the probabilities) is read too.
    /// `runner` observes the layers or keeps them (`runner(graph:backend:batch:layers:weights:)`).
    /// `progress(done, total)` counts transformed images. Over several ranks each runs every
    /// size-th batch of images and every rank ends with all the rows, in one rank's order.
    /// Each transform acts on the raw image and the mean is subtracted after it: T(x) − μ, as the
    /// ZF paper does; `fill` and `interpolation` are the geometric transforms' (`Transform.apply`).
    public static func run(_ input: AnalysisInput, runner: BatchRunner, layers: [Int], transforms: [(Transform, [Double])],
                           noiseSeed: UInt64 = 0, fill: Fill = .black, interpolation: Interpolation = .bilinear,
                           communicator: any Communicator = SingleProcess(),
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> [SweepRow] {
        let graph = runner.graph
        guard let labels = input.labels else { throw SweepError("a sweep needs the images' labels") }
        let last = graph.nodes.count - 1, classes = graph.classes
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let sizes = layers.map { graph.nodes[$0].shape!.elementCount! }
        let perImage = input.perImage
        let total = input.count * transforms.reduce(0) { $0 + $1.1.count }
        var done = 0
        var rows: [SweepRow] = []
        rows.reserveCapacity(total * layers.count)
        var start = 0, chunk = 0
        var chunkOfRow: [Int] = []
        while start < input.count {
            let n = min(runner.batch, input.count - start)
            defer { chunk += 1 }
            guard communicator.takes(chunk) else {
                start += n
                continue
            }
            let e = try runner.executor(n)
            let originals = Array(input.images[(start * perImage)..<((start + n) * perImage)])
            try originals.withUnsafeBufferPointer { try e.setInput($0) }
            let slot = Dictionary(uniqueKeysWithValues: layers.enumerated().map { (TensorID.value($0.element), $0.offset) })
            let observed = e.plan.observed.values.reduce(0) { $0 + $1.count } == layers.count
            let (reference, norms) = try referenceOutputs(e, n: n, layers: layers, sizes: sizes, slot: slot, observed: observed)
            for k in 0..<layers.count {
                if let i = norms[k].firstIndex(where: { !$0.isFinite }) {
                    throw SweepError.nonFinite(layer: graph.nodes[layers[k]].name, image: start + i, what: "the untransformed image")
                }
            }
            let raw = Array(input.raw[(start * perImage)..<((start + n) * perImage)])
            var moved = [Float](repeating: 0, count: n * perImage), batch = moved
            let meanImage = fill == .mean ? input.rule.inputMean : nil
            for (transform, amounts) in transforms {
                for amount in amounts {
                    transformed(raw, into: &moved, prepared: &batch, n: n, first: start, rule: input.rule, shape: (c, h, w), transform: transform,
                                amount: amount, noiseSeed: noiseSeed, fill: fill, interpolation: interpolation, meanImage: meanImage)
                    try batch.withUnsafeBufferPointer { try e.setInput($0) }
                    let distances = try self.distances(e, to: reference, n: n, layers: layers, sizes: sizes, slot: slot, observed: observed)
                    let probabilities = try e.read(.value(last))
                    for i in 0..<n {
                        let row = probabilities[(i * classes)..<((i + 1) * classes)]
                        let top = row.indices.max { row[$0] < row[$1] || row[$0].isNaN }! - i * classes
                        let trueProbability = Double(row[i * classes + labels[start + i]])
                        guard row.allSatisfy(\.isFinite) else {
                            throw SweepError.nonFinite(layer: graph.nodes[last].name, image: start + i, what: "\(transform.rawValue) \(csv(amount))")
                        }
                        for (k, node) in layers.enumerated() {
                            let d = distances[i * layers.count + k]
                            guard d.isFinite else { throw SweepError.nonFinite(layer: graph.nodes[node].name, image: start + i, what: "\(transform.rawValue) \(csv(amount))") }
                            rows.append(SweepRow(image: start + i, transform: transform, amount: amount, layer: graph.nodes[node].name, distance: d,
                                                 relativeDistance: norms[k][i] > 0 ? d / norms[k][i] : (d == 0 ? 0 : .infinity),
                                                 trueProbability: trueProbability, topLabel: top))
                        }
                    }
                    done += n * communicator.size
                    progress(min(done, total), total)
                }
            }
            chunkOfRow += Array(repeating: chunk, count: rows.count - chunkOfRow.count)
            start += n
        }
        guard communicator.isDistributed else { return rows }
        return try gather(rows, chunks: chunkOfRow, layers: layers.map { graph.nodes[$0].name }, communicator: communicator)
    }

    /// The untransformed images' outputs at each layer (read as the layer is made when the plan
    /// observes them all, else after the run) and their norms, per layer and image.
    static func referenceOutputs(_ e: any Executor, n: Int, layers: [Int], sizes: [Int], slot: [TensorID: Int],
                                 observed: Bool) throws -> (reference: [[Float]], norms: [[Double]]) {
        var reference = sizes.map { [Float](repeating: 0, count: n * $0) }
        if observed {
            try e.run(seed: 0) { t, values in
                if let k = slot[t] { reference[k].withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: values.prefix(n * sizes[k])) } }
            }
        } else {
            try e.run()
            for (k, node) in layers.enumerated() { reference[k] = try e.read(.value(node)) }
        }
        var norms = [[Double]](repeating: [Double](repeating: 0, count: n), count: layers.count)
        for k in 0..<layers.count {
            let zero = [Float](repeating: 0, count: sizes[k])
            for i in 0..<n {
                norms[k][i] = zero.withUnsafeBufferPointer { z in
                    reference[k].withUnsafeBufferPointer { r in Self.distance(r.baseAddress! + i * sizes[k], z.baseAddress!, count: sizes[k]) }
                }
            }
        }
        return (reference, norms)
    }

    /// `n` raw images transformed (`moved`), then prepared for the network (`prepared`): T(x) − μ,
    /// the mean subtracted after the transform. `first` is the first image's index (the noise's draw).
    static func transformed(_ raw: [Float], into moved: inout [Float], prepared: inout [Float], n: Int, first: Int, rule: InputRule,
                            shape: (c: Int, h: Int, w: Int), transform: Transform, amount: Double, noiseSeed: UInt64, fill: Fill,
                            interpolation: Interpolation, meanImage: [Float]?) {
        let (c, h, w) = shape
        let perImage = c * h * w
        let sampler = transform.sampler(height: h, width: w, amount: amount, fill: fill, interpolation: interpolation)
        raw.withUnsafeBufferPointer { x in
            moved.withUnsafeMutableBufferPointer { out in
                for i in 0..<n {
                    if let sampler {
                        sampler.apply(x.baseAddress! + i * perImage, out.baseAddress! + i * perImage, channels: c, meanImage: meanImage)
                    } else {
                        transform.apply(x.baseAddress! + i * perImage, out.baseAddress! + i * perImage, channels: c, height: h, width: w,
                                        amount: amount, seed: Sweep.noiseSeed(noiseSeed, image: first + i), fill: fill, interpolation: interpolation,
                                        meanImage: meanImage)
                    }
                }
                prepared.withUnsafeMutableBufferPointer { rule.prepare(out.baseAddress!, into: $0.baseAddress!, count: n) }
            }
        }
    }

    /// Runs the executor's input and returns the distance of every image's output at every layer
    /// from its reference, `[image * layers + layer]`: from the executor's memory as each layer is
    /// made (or after the run), the images split across the cores.
    static func distances(_ e: any Executor, to reference: [[Float]], n: Int, layers: [Int], sizes: [Int], slot: [TensorID: Int],
                          observed: Bool) throws -> [Double] {
        var distances = [Double](repeating: 0, count: n * layers.count)
        try distances.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let target = out.baseAddress!   // each (image, layer) writes its own slot
            func measure(_ k: Int, _ values: UnsafeBufferPointer<Float>) {
                nonisolated(unsafe) let o = values.baseAddress!
                reference[k].withUnsafeBufferPointer { r in
                    nonisolated(unsafe) let base = r.baseAddress!
                    let (size, count) = (sizes[k], layers.count)
                    DispatchQueue.concurrentPerform(iterations: n) { i in
                        target[i * count + k] = Self.distance(o + i * size, base + i * size, count: size)
                    }
                }
            }
            if observed {
                try e.run(seed: 0) { t, values in if let k = slot[t] { measure(k, values) } }
            } else {
                try e.run()
                for (k, node) in layers.enumerated() { try e.withValues(.value(node)) { measure(k, $0) } }
            }
        }
        return distances
    }

    /// The noise transform's draw for an image: a function of the seed and the image's index only.
    public static func noiseSeed(_ seed: UInt64, image: Int) -> UInt64 { seed ^ UInt64(image) &* 0x9E37_79B9_7F4A_7C15 }

    /// Every rank's rows on every rank, batch by batch in the order one rank makes them.
    static func gather(_ rows: [SweepRow], chunks: [Int], layers: [String], communicator: any Communicator) throws -> [SweepRow] {
        // 8 doubles a row: chunk, image, transform, amount, layer, distance, relative distance, true probability; then the top label.
        var packed: [Double] = []
        packed.reserveCapacity(rows.count * 9)
        for (r, c) in zip(rows, chunks) {
            packed += [Double(c), Double(r.image), Double(Transform.allCases.firstIndex(of: r.transform)!), r.amount,
                       Double(layers.firstIndex(of: r.layer)!), r.distance, r.relativeDistance, r.trueProbability, Double(r.topLabel)]
        }
        var byChunk: [Int: [SweepRow]] = [:]
        for bytes in communicator.allGather(packed.withUnsafeBytes { Array($0) }) {
            let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
            guard values.count % 9 == 0 else { throw SweepError("a rank sent a malformed share of the sweep") }
            for k in stride(from: 0, to: values.count, by: 9) {
                let v = values[k..<(k + 9)].map { $0 }
                byChunk[Int(v[0]), default: []].append(SweepRow(image: Int(v[1]), transform: Transform.allCases[Int(v[2])], amount: v[3], layer: layers[Int(v[4])],
                                                                 distance: v[5], relativeDistance: v[6], trueProbability: v[7], topLabel: Int(v[8])))
            }
        }
        return byChunk.keys.sorted().flatMap { byChunk[$0]! }
    }

    /// ‖a − b‖ over `count` values from `from`: eight float32 partial sums (vectorised), then double.
    static func distance(_ a: [Float], _ b: [Float], from: Int, count: Int) -> Double {
        a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in distance(x.baseAddress! + from, y.baseAddress! + from, count: count) } }
    }

    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        // Four independent accumulators of eight lanes, so the additions do not wait on each other.
        var p0 = SIMD8<Float>(), p1 = SIMD8<Float>(), p2 = SIMD8<Float>(), p3 = SIMD8<Float>()
        let x = UnsafeRawPointer(a), y = UnsafeRawPointer(b)
        var j = 0
        while j + 32 <= count {
            let d0 = x.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self) - y.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
            let d1 = x.loadUnaligned(fromByteOffset: 4 * (j + 8), as: SIMD8<Float>.self) - y.loadUnaligned(fromByteOffset: 4 * (j + 8), as: SIMD8<Float>.self)
            let d2 = x.loadUnaligned(fromByteOffset: 4 * (j + 16), as: SIMD8<Float>.self) - y.loadUnaligned(fromByteOffset: 4 * (j + 16), as: SIMD8<Float>.self)
            let d3 = x.loadUnaligned(fromByteOffset: 4 * (j + 24), as: SIMD8<Float>.self) - y.loadUnaligned(fromByteOffset: 4 * (j + 24), as: SIMD8<Float>.self)
            p0 += d0 * d0
            p1 += d1 * d1
            p2 += d2 * d2
            p3 += d3 * d3
            j += 32
        }
        var total = Double((p0 + p1).sum()) + Double((p2 + p3).sum())
        while j < count { let d = Double(a[j]) - Double(b[j]); total += d * d; j += 1 }
        return total.squareRoot()
    }

    /// Per (transform, amount, layer), in the rows' order: the dataset means with their intervals.
    /// A (transform, amount) given twice is one group (the command refuses duplicates before).
    public static func summary(_ rows: [SweepRow], labels: [Int]) -> [SweepSummaryRow] {
        var order: [String] = []
        var groups: [String: [SweepRow]] = [:]
        for r in rows {
            let key = "\(r.transform.rawValue)|\(r.amount)|\(r.layer)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        return order.map { key in
            let g = groups[key]!
            return SweepSummaryRow(transform: g[0].transform, amount: g[0].amount, layer: g[0].layer, images: g.count,
                                   distance: Interval(values: g.map(\.distance)), relativeDistance: Interval(values: g.map(\.relativeDistance)),
                                   trueProbability: Interval(values: g.map(\.trueProbability)),
                                   accuracy: Interval(successes: g.filter { $0.topLabel == labels[$0.image] }.count, of: g.count))
        }
    }

    /// summary.csv: a line per (transform, amount, layer); each quantity's mean and 95% interval.
    public static func summaryCSV(_ rows: [SweepSummaryRow]) -> String {
        func three(_ i: Interval) -> String { "\(csv(i.mean)),\(csv(i.low)),\(csv(i.high))" }
        var out = "transform,amount,layer,images,mean_distance,distance_ci95_low,distance_ci95_high,mean_relative_distance,ci95_low,ci95_high,"
            + "mean_true_prob,true_prob_ci95_low,true_prob_ci95_high,top1_accuracy,top1_ci95_low,top1_ci95_high\n"
        for s in rows {
            out += "\(s.transform.rawValue),\(csv(s.amount)),\(s.layer),\(s.images),\(three(s.distance)),\(three(s.relativeDistance)),"
                + "\(three(s.trueProbability)),\(three(s.accuracy))\n"
        }
        return out
    }
}

/// What a sweep takes and writes beside its rows: the default layers, the checks of a plan and the
/// sweep.csv text (the figures: `SweepFigure`, `SweepStrip`).
extension Sweep {
    /// The layers a sweep compares by default: each conv and fc layer's rectified output (the ReLU
    /// right after it, else the layer itself).
    public static func defaultLayers(_ graph: Graph) -> [Int] {
        // Layers with learnable parameters (the typed `Layer`, not op names, so a new layer type
        // with weights is swept too), each through the ReLU that reads it where there is one.
        graph.nodes.indices.filter { !graph.parameterShapes($0).isEmpty }.map(graph.rectified)
    }

    /// Refuses amounts that cost much and show nothing: a blur's cost grows with σ (a kernel of
    /// 6σ + 1 taps), and past the image's side (`height`, `width`) it shows nothing more.
    public static func check(_ transforms: [(Transform, [Double])], height: Int, width: Int) throws {
        let side = max(height, width)
        for (t, list) in transforms where t == .blur {
            if let wide = list.first(where: { $0 > Double(side) }) {
                throw SweepError("blur σ \(csv(wide)) is wider than the image (\(side) pixels), where a blur shows nothing more; give σ between 0 and \(side)")
            }
        }
    }

    /// The first value given twice (a sweep takes each transform, and each amount of one, once).
    public static func repeated<T: Hashable>(_ values: [T]) -> T? {
        var seen = Set<T>()
        return values.first { !seen.insert($0).inserted }
    }

    /// sweep.csv: a line per row (image, transform, amount, layer), in the rows' order.
    public static func rowsCSV(_ rows: [SweepRow]) -> String {
        var text = "image,transform,amount,layer,distance,relative_distance,true_prob,top_label\n"
        for r in rows {
            text += "\(r.image),\(r.transform.rawValue),\(csv(r.amount)),\(r.layer),\(csv(r.distance)),\(csv(r.relativeDistance)),"
                + "\(csv(r.trueProbability)),\(r.topLabel)\n"
        }
        return text
    }

    /// The most amounts a strip (`SweepStrip`) shows across: every default list (rotate: 36) fits.
    public static let stripColumns = 40

    /// `count` of `values`, evenly spaced, the first and the last included (all when there are no more).
    public static func sample<T>(_ values: [T], count: Int) -> [T] {
        guard values.count > count, count >= 2 else { return values }
        return (0..<count).map { values[$0 * (values.count - 1) / (count - 1)] }
    }
}

public struct SweepError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }

    /// A layer's output that is not a finite number: an error, never a number in a table.
    static func nonFinite(layer: String, image: Int, what: String) -> SweepError {
        SweepError("layer '\(layer)' gave a value that is not a finite number for image \(image) (\(what)); the input or the weights hold a "
                   + "non-finite number, or a value overflowed float32, so there is no result to report")
    }
}

/// A float written for CSV: shortest round-trip text, `nan`, `inf` or `-inf`.
public func csv(_ x: Double) -> String { x.isFinite ? "\(x)" : (x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf")) }

extension Graph {
    /// Node `i`'s rectified output: the ReLU that reads it, where there is one, else `i`.
    func rectified(_ i: Int) -> Int {
        nodes.firstIndex { node in
            if case .relu = node.layer { return node.inputs == [.node(i)] }
            return false
        } ?? i
    }
}
