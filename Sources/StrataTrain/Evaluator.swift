import Foundation
import StrataFormats
import StrataIR
import StrataPlan

/// Top-1 and top-5 error of a network (or an ensemble) on a data set, in inference mode, from one
/// centre view or the paper's 10 views (4 corners and the centre, and their mirror images),
/// averaging the softmax outputs over views and networks.
public final class Evaluator {
    let graph: Graph
    let preprocessing: Preprocessing
    let batch: Int
    let derived: TrainingGraph
    let backend: any Backend
    var executors: [Int: any Executor] = [:]
    var weights: [String: (shape: [Int], values: [Float])] = [:]

    public init(graph: Graph, preprocessing: Preprocessing, batch: Int, backend: any Backend) {
        self.graph = graph
        self.preprocessing = preprocessing
        self.batch = batch
        self.backend = backend
        self.derived = try! TrainingGraph.derive(graph, training: false)  // inference never fails to derive
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

    /// Softmax outputs, (N, classes), averaged over the views.
    public func probabilities(_ data: any Dataset, views: Int) throws -> [Float] {
        let classes = graph.nodes.last!.shape!.elementCount!
        let perImage = graph.input.elementCount!
        var out = [Float](repeating: 0, count: data.count * classes)
        let last = TensorID.value(graph.nodes.count - 1)
        var start = 0
        var loaded: [Int: any Executor] = [:]
        while start < data.count {
            let n = min(batch, data.count - start)
            let e = try loaded[n] ?? executor(for: n)
            loaded[n] = e
            let pixels = try (start..<(start + n)).map { try data.pixels($0) }
            for view in 0..<views {
                var images = [Float](repeating: 0, count: n * perImage)
                images.withUnsafeMutableBufferPointer { buffer in
                    for k in 0..<n {
                        preprocessing.prepare(pixels[k], into: buffer.baseAddress! + k * perImage, training: false, seed: 0,
                                              view: views == 1 ? nil : view)
                    }
                }
                try images.withUnsafeBufferPointer { try e.setInput($0) }
                e.run()
                let p = try e.read(last)
                for i in 0..<(n * classes) { out[start * classes + i] += p[i] / Float(views) }
            }
            start += n
        }
        return out
    }

    /// (top-1 error, top-5 error) of averaged probabilities against the labels.
    public static func errors(_ probabilities: [Float], _ data: any Dataset, classes: Int) -> (top1: Double, top5: Double) {
        var wrong1 = 0, wrong5 = 0
        for n in 0..<data.count {
            let row = Array(probabilities[(n * classes)..<((n + 1) * classes)])
            let label = data.label(n)
            let better = row.enumerated().filter { $0.element > row[label] || ($0.element == row[label] && $0.offset < label) }.count
            if better >= 1 { wrong1 += 1 }
            if better >= 5 { wrong5 += 1 }
        }
        return (Double(wrong1) / Double(max(1, data.count)), Double(wrong5) / Double(max(1, data.count)))
    }

    public func errors(_ data: any Dataset, views: Int) throws -> (top1: Double, top5: Double) {
        Self.errors(try probabilities(data, views: views), data, classes: graph.nodes.last!.shape!.elementCount!)
    }
}
