import Foundation
import StrataFormats
import StrataIR
import StrataMPI
import StrataPlan

/// Top-1 and top-5 error of a network (or an ensemble) on a data set, in inference mode, from one
/// centre view or the paper's 10 views (4 corners and the centre, and their mirror images),
/// averaging the softmax outputs over views and networks.
public final class Evaluator {
    let graph: Graph
    let preprocessing: Preprocessing
    let batch: Int
    let derived: DerivedGraph
    let backend: any Backend
    var executors: [Int: any Executor] = [:]
    var weights: [String: (shape: [Int], values: [Float])] = [:]

    public init(graph: Graph, preprocessing: Preprocessing, batch: Int, backend: any Backend) {
        self.graph = graph
        self.preprocessing = preprocessing
        self.batch = batch
        self.backend = backend
        self.derived = try! DerivedGraph.derive(graph, training: false)  // inference never fails to derive
    }

    /// Takes the current weights of a (training) executor.
    public func load(from executor: any Executor) throws {
        weights = Dictionary(uniqueKeysWithValues: try executor.parameterTensors().map { ($0.name, ($0.shape, $0.values)) })
    }

    /// Takes weights from a file (checked to fit when the first executor loads them).
    public func load(_ file: Safetensors.File) {
        weights = file.parameterTensors
    }

    func executor(for n: Int) throws -> any Executor {
        let e = try executors[n] ?? backend.makeExecutor(backend.plan(derived, batch: n))
        executors[n] = e
        try e.loadParameters(weights)
        return e
    }

    /// Softmax outputs averaged over views, and the images that could not be read.
    public struct Predictions: Sendable {
        /// (N, classes); the rows of unreadable images are 0.
        public var probabilities: [Float]
        public var classes: Int
        /// Image index → why it could not be read. These images count neither right nor wrong.
        public var unreadable: [Int: String] = [:]

        public init(probabilities: [Float], classes: Int, unreadable: [Int: String] = [:]) {
            self.probabilities = probabilities
            self.classes = classes
            self.unreadable = unreadable
        }

        /// The average of several networks' predictions on the same images.
        public static func mean(_ all: [Predictions]) -> Predictions {
            var out = Predictions(probabilities: [Float](repeating: 0, count: all[0].probabilities.count), classes: all[0].classes)
            for p in all {
                for i in out.probabilities.indices { out.probabilities[i] += p.probabilities[i] / Float(all.count) }
                out.unreadable.merge(p.unreadable) { a, _ in a }
            }
            return out
        }
    }

    /// Softmax outputs, (N, classes), averaged over the views. An image that cannot be read is
    /// skipped (reported in `unreadable`), unless `strict`. Over several ranks, each runs every
    /// size-th batch of images and the rows are summed on every rank (the others' rows are zeros,
    /// so the sum is exact: the same numbers as one rank).
    public func predictions(_ data: any Dataset, views: Int, strict: Bool = false,
                            communicator: any Communicator = SingleProcess()) throws -> Predictions {
        let classes = graph.nodes.last!.shape!.elementCount!
        let perImage = graph.input.elementCount!
        var out = Predictions(probabilities: [Float](repeating: 0, count: data.count * classes), classes: classes)
        let last = TensorID.value(graph.nodes.count - 1)
        var start = 0
        var loaded: [Int: any Executor] = [:]
        let size = data.shape.channels * data.shape.height * data.shape.width
        var chunk = 0
        while start < data.count {
            let n = min(batch, data.count - start)
            defer { chunk += 1 }
            guard communicator.takes(chunk) else {
                start += n
                continue
            }
            let e = try loaded[n] ?? executor(for: n)
            loaded[n] = e
            let pixels = try (start..<(start + n)).map { i -> [Float] in
                do { return try data.pixels(i) } catch {
                    if strict { throw error }
                    out.unreadable[i] = "\(error)"
                    return [Float](repeating: 0, count: size)
                }
            }
            for view in 0..<views {
                var images = [Float](repeating: 0, count: n * perImage)
                images.withUnsafeMutableBufferPointer { buffer in
                    for k in 0..<n {
                        preprocessing.prepare(pixels[k], into: buffer.baseAddress! + k * perImage, training: false, seed: 0,
                                              view: views == 1 ? nil : view)
                    }
                }
                try images.withUnsafeBufferPointer { try e.setInput($0) }
                try e.run()
                let p = try e.read(last)
                for i in 0..<(n * classes) { out.probabilities[start * classes + i] += p[i] / Float(views) }
            }
            start += n
        }
        for i in out.unreadable.keys { for j in 0..<classes { out.probabilities[i * classes + j] = 0 } }
        if communicator.isDistributed {
            out.probabilities.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
            let lines = out.unreadable.map { "\($0.key)\t\($0.value.replacingOccurrences(of: "\n", with: " "))" }.joined(separator: "\n")
            for text in communicator.allGather(lines) {
                for line in text.split(separator: "\n") {
                    let parts = line.split(separator: "\t", maxSplits: 1)
                    if parts.count == 2, let i = Int(parts[0]) { out.unreadable[i] = String(parts[1]) }
                }
            }
        }
        return out
    }

    /// Top-1 and top-5 error over the readable images; top-5 is nil where the network has 5 classes
    /// or fewer (every label is in the top 5: an error of 0 that measures nothing). A prediction
    /// that is not a finite number (NaN weights, an overflow) is wrong: it never ranks the label first.
    public static func errors(_ p: Predictions, _ data: any Dataset) -> (top1: Double, top5: Double?, images: Int) {
        var wrong1 = 0, wrong5 = 0, counted = 0
        let classes = p.classes
        for n in 0..<data.count where p.unreadable[n] == nil {
            counted += 1
            let row = p.probabilities[(n * classes)..<((n + 1) * classes)]
            let label = data.label(n)
            guard row.allSatisfy({ $0.isFinite }), (0..<classes).contains(label) else { wrong1 += 1; wrong5 += 1; continue }
            let score = row[n * classes + label]
            let better = row.indices.filter { row[$0] > score || (row[$0] == score && $0 - n * classes < label) }.count
            if better >= 1 { wrong1 += 1 }
            if better >= 5 { wrong5 += 1 }
        }
        return (Double(wrong1) / Double(max(1, counted)), classes > 5 ? Double(wrong5) / Double(max(1, counted)) : nil, counted)
    }

    /// The mean cross-entropy −log p(label) over the readable images (what training minimises,
    /// here in inference mode: dropout off). A probability below 1e-30 counts as 1e-30, so one
    /// confident mistake weighs about 69, not infinity; a row that is not finite is infinite.
    public static func loss(_ p: Predictions, _ data: any Dataset) -> Double {
        var sum = 0.0, counted = 0
        let classes = p.classes
        for n in 0..<data.count where p.unreadable[n] == nil {
            counted += 1
            let label = data.label(n)
            guard (0..<classes).contains(label) else { return .infinity }
            let q = Double(p.probabilities[n * classes + label])
            guard q.isFinite else { return .infinity }
            sum -= Foundation.log(max(q, 1e-30))
        }
        return sum / Double(max(1, counted))
    }

    public func errors(_ data: any Dataset, views: Int, strict: Bool = false,
                       communicator: any Communicator = SingleProcess()) throws -> (top1: Double, top5: Double?, images: Int, unreadable: [Int: String]) {
        let p = try predictions(data, views: views, strict: strict, communicator: communicator)
        let e = Self.errors(p, data)
        return (e.top1, e.top5, e.images, p.unreadable)
    }
}
