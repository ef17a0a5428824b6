import StrataFormats
import StrataIR
import StrataPlan

/// Runs images through a derived graph in chunks of at most `batch` images: one plan (and
/// executor, with the weights loaded once) per chunk size, on any backend.
public final class BatchRunner {
    public let graph: Graph
    public let derived: DerivedGraph
    public let backend: any Backend
    public let batch: Int
    let keep: Set<TensorID>
    let observe: Set<TensorID>
    let weights: [String: (shape: [Int], values: [Float])]
    /// How errors name the weights (their file).
    public var weightsName = "the weights"
    var executors: [Int: any Executor] = [:]

    /// - Parameters:
    ///   - keep: tensors to read after a run (layer outputs a later step would overwrite).
    ///   - observe: tensors read during a run (`Executor.run(seed:observe:)`), whose memory the plan still reuses.
    public init(graph: Graph, derived: DerivedGraph, backend: any Backend, batch: Int, keep: Set<TensorID>, observe: Set<TensorID> = [],
                weights: [String: (shape: [Int], values: [Float])]) {
        self.observe = observe
        self.graph = graph
        self.derived = derived
        self.backend = backend
        self.batch = batch
        self.keep = keep
        self.weights = weights
    }

    /// An inference runner that keeps the outputs of `nodes`.
    public convenience init(graph: Graph, backend: any Backend, batch: Int, keeping nodes: [Int],
                            weights: [String: (shape: [Int], values: [Float])]) throws {
        self.init(graph: graph, derived: try DerivedGraph.derive(graph, training: false), backend: backend, batch: batch,
                  keep: Set(nodes.map { TensorID.value($0) }), weights: weights)
    }

    /// The executor for chunks of `n` images, made (and loaded) on first use.
    public func executor(_ n: Int) throws -> any Executor {
        if let e = executors[n] { return e }
        let e = try backend.makeExecutor(backend.plan(derived, batch: n, keep: keep, observe: observe))
        do { try e.loadParameters(weights) } catch let mismatch as ParameterMismatch {
            throw ExecutorError(mismatch.message(file: weightsName))
        }
        executors[n] = e
        return e
    }

    /// Runs `count` images of `perImage` values from `images` in chunks (with their `labels`, one
    /// per image, for a derived graph from the loss); `body(executor, first, n)` after each chunk
    /// has run. Features, gradients and every analysis run through here.
    public func forEachChunk(_ images: UnsafeBufferPointer<Float>, count: Int, labels: [Int32]? = nil,
                             _ body: (any Executor, Int, Int) throws -> Void) throws {
        precondition(labels == nil || labels!.count == count, "one label per image")
        let perImage = graph.input.elementCount!
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let e = try executor(n)
            try e.setInput(UnsafeBufferPointer(rebasing: images[(start * perImage)..<((start + n) * perImage)]))
            if let labels { try e.setLabels(Array(labels[start..<(start + n)])) }
            try e.run()
            try body(e, start, n)
            start += n
        }
    }

    /// The outputs of `nodes` for all `count` images, one array per node (N × per-image size).
    public func outputs(_ images: [Float], count: Int, nodes: [Int]) throws -> [[Float]] {
        var results = nodes.map { [Float](repeating: 0, count: count * graph.nodes[$0].shape!.elementCount!) }
        try images.withUnsafeBufferPointer { buffer in
            try forEachChunk(buffer, count: count) { e, start, n in
                for (k, node) in nodes.enumerated() {
                    let size = graph.nodes[node].shape!.elementCount!
                    let values = try e.read(.value(node))
                    if let k = values.prefix(n * size).firstIndex(where: { !$0.isFinite }) {
                        throw SweepError.nonFinite(layer: graph.nodes[node].name, image: start + k / size, what: "its output")
                    }
                    results[k].replaceSubrange((start * size)..<((start + n) * size), with: values.prefix(n * size))
                }
            }
        }
        return results
    }
}
