import StrataFormats
import StrataIR
import StrataPlan

/// One activation of a layer: the image, the map and the position in the layer's output, and its value.
public struct Activation: Sendable, Equatable {
    public var image: Int
    public var map: Int
    public var row: Int
    public var column: Int
    public var value: Float

    public init(image: Int, map: Int, row: Int, column: Int, value: Float) {
        (self.image, self.map, self.row, self.column, self.value) = (image, map, row, column, value)
    }
}

/// Fig. 2 of the ZF paper on any network: the strongest activations of a layer's maps, projected
/// back to input space by the deconvnet (or the gradient, or guided backpropagation). The
/// projection is the plan's backward pass seeded at the layer (`BackwardPass.projection`), so it
/// runs on every backend.
public enum Projection {
    /// For each map in `maps`: its `top` largest activations over the images, at most one per image
    /// (the image's largest in that map, the first position on ties), in descending order, ties to
    /// the lower image index. `outputs`: the layer's output for all images (N × maps × H × W).
    public static func strongest(_ outputs: [Float], count: Int, shape: TensorShape, maps: [Int], top: Int) -> [[Activation]] {
        let m = shape.dims[0], rows = shape.dims.count > 1 ? shape.dims[1] : 1, columns = shape.dims.count > 2 ? shape.dims[2] : 1
        let plane = rows * columns
        return maps.map { map in
            var best: [Activation] = []
            for n in 0..<count {
                let base = (n * m + map) * plane
                var at = 0
                for q in 1..<max(plane, 1) where outputs[base + q] > outputs[base + at] { at = q }
                best.append(Activation(image: n, map: map, row: at / columns, column: at % columns, value: outputs[base + at]))
            }
            best.sort { $0.value > $1.value || ($0.value == $1.value && $0.image < $1.image) }
            return Array(best.prefix(top))
        }
    }

    /// The projections of `activations` (each with every other activation of the layer set to 0):
    /// one input-sized array per activation, in order. `runner` must run a projection plan from `layer`.
    public static func project(_ activations: [Activation], input: AnalysisInput, runner: BatchRunner, layer: Int) throws -> [[Float]] {
        let graph = runner.graph
        let shape = graph.nodes[layer].shape!
        let size = shape.elementCount!, plane = size / shape.dims[0]
        let columns = shape.dims.count > 2 ? shape.dims[2] : 1
        var results: [[Float]] = []
        var start = 0
        while start < activations.count {
            let n = min(runner.batch, activations.count - start)
            let chunk = activations[start..<(start + n)]
            var images = [Float](repeating: 0, count: n * input.perImage)
            var seed = [Float](repeating: 0, count: n * size)
            for (k, a) in chunk.enumerated() {
                images.replaceSubrange((k * input.perImage)..<((k + 1) * input.perImage), with: input.image(a.image))
                seed[k * size + a.map * plane + a.row * columns + a.column] = a.value
            }
            let e = try runner.executor(n)
            try images.withUnsafeBufferPointer { try e.setInput($0) }
            try e.write(.gradient(layer), seed)
            try e.run()
            let projected = try e.read(.inputGradient)
            for k in 0..<n { results.append(Array(projected[(k * input.perImage)..<((k + 1) * input.perImage)])) }
            start += n
        }
        return results
    }

    /// A runner of the projection plan from `layer` under `rule`.
    public static func runner(graph: Graph, layer: Int, rule: BackwardRule, backend: any Backend, batch: Int,
                              weights: [String: (shape: [Int], values: [Float])]) throws -> BatchRunner {
        BatchRunner(graph: graph, derived: try DerivedGraph.derive(graph, backward: .projection(from: layer, rule: rule)), backend: backend,
                    batch: batch, keep: [], weights: weights)
    }
}

/// What deconv and evolve draw and write of projections.
extension Projection {
    /// `n` of a layer's `count` maps drawn at random (all when n ≥ count), distinct and sorted: a
    /// function of the seed (a Fisher–Yates shuffle by `SplitMix64`, then the first n).
    public static func randomMaps(_ n: Int, of count: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<count)
        var g = SplitMix64(seed: seed)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        return order.prefix(n).sorted()
    }

    /// `x` (C × H × W: `shape`) cropped to `field` (an activation's receptive field, `ReceptiveField.of`).
    public static func crop(_ x: ArraySlice<Float>, shape: TensorShape, field f: (top: Int, left: Int, height: Int, width: Int)) -> [Float] {
        let (c, h, w) = (shape.channels, shape.height, shape.width)
        var out: [Float] = []
        out.reserveCapacity(c * f.height * f.width)
        for ch in 0..<c { for y in f.top..<(f.top + f.height) { for xx in f.left..<(f.left + f.width) {
            out.append(x[x.startIndex + (ch * h + y) * w + xx])
        } } }
        return out
    }

    /// map-M.json: the activations in order, each `{image, row, column, activation}`.
    public static func json(_ activations: [Activation]) -> String {
        JSONValue.array(activations.map { ["image": .int($0.image), "row": .int($0.row), "column": .int($0.column), "activation": .float($0.value)] })
            .text(.pretty) + "\n"
    }
}

/// The input region an output position of a layer sees, derived from the graph: each conv and
/// pool maps rows [a, b] of its output to [a·s − p, b·s − p + k − 1] of its input, an fc sees all
/// of it, other layers keep positions; clipped to the image.
public enum ReceptiveField {
    /// (top, left, height, width) in the input, for (row, column) of `node`'s output.
    public static func of(_ graph: Graph, node: Int, row: Int, column: Int) -> (top: Int, left: Int, height: Int, width: Int) {
        var rows = (row, row), columns = (column, column)
        var whole = false
        func span(_ x: (Int, Int), _ k: Int, _ s: Int, _ p: Int) -> (Int, Int) { (x.0 * s - p, x.1 * s - p + k - 1) }
        func walk(_ value: ValueID, _ r: (Int, Int), _ c: (Int, Int)) -> ((Int, Int), (Int, Int))? {
            guard case .node(let i) = value else { return (r, c) }
            let n = graph.nodes[i]
            var (r, c) = (r, c)
            switch n.layer.positions {
            case .window(let k, let s, let p): (r, c) = (span(r, k.h, s.h, p.h), span(c, k.w, s.w, p.w))
            case .mixed:
                whole = true
                return nil
            case .kept: break
            }
            var union: ((Int, Int), (Int, Int))?
            for input in n.inputs {
                guard let (ri, ci) = walk(input, r, c) else { return nil }
                union = union.map { ((min($0.0.0, ri.0), max($0.0.1, ri.1)), (min($0.1.0, ci.0), max($0.1.1, ci.1))) } ?? (ri, ci)
            }
            return union
        }
        if let (r, c) = walk(.node(node), rows, columns) { (rows, columns) = (r, c) }
        let (h, w) = (graph.input.height, graph.input.width)
        if whole { return (0, 0, h, w) }
        let top = max(0, rows.0), bottom = min(h - 1, rows.1), left = max(0, columns.0), right = min(w - 1, columns.1)
        return (top, left, max(0, bottom - top + 1), max(0, right - left + 1))
    }
}
