import StrataIR
import StrataMPI
import StrataPlan
import StrataSpec

/// Occlusion by incremental inference (Krypton, Nakandala et al., SIGMOD 2019), exact: for each
/// occluder position, each layer before the first fully connected one is recomputed only inside
/// its projective field (`ProjectiveField`), on top of the unoccluded image's activations, batched
/// over positions; from the first fully connected layer on, the network runs in full on the
/// patched activations. The result equals the full forward pass of every occluded copy to float
/// rounding (tested against `Occlusion.run`'s full path).
///
/// Each recomputed layer runs as a one-layer network (the same layer, padding made explicit) on a
/// fixed-size crop of its patched input, so it runs on any backend through `BatchRunner`. Supported
/// graphs: a chain of conv, max-pool, LRN, ReLU, tanh and dropout layers, then fully connected
/// layers and softmax; others (concat, average pooling) take the full path.
public final class IncrementalOcclusion {
    /// One step of the recomputed part: a layer that moves positions (or the first layer) and the
    /// layers after it that keep them (ReLU, tanh, LRN, dropout), run together as one network.
    struct Piece {
        /// The group's first node and its last, whose output the piece gives.
        var first: Int
        var node: Int
        /// Nil for a layer that is the identity at inference (dropout): the patch passes through.
        var runner: BatchRunner?
        /// Kernel, stride and padding along rows and columns (1, 1, 0 for layers that keep positions).
        var kernel: (Int, Int), stride: (Int, Int), pad: (Int, Int)
        /// The value outside the layer's input: 0 for convolutions (zero padding), −∞ for max-pooling
        /// (padding never wins).
        var outside: Float
        /// The fixed output window recomputed per position.
        var window: (rows: Int, columns: Int)
        /// The crop of the layer's input that window needs.
        var crop: (rows: Int, columns: Int)
    }

    let graph: Graph
    let occlusion: Occlusion
    let pieces: [Piece]
    /// Runs the graph from the first fully connected layer on, its input the last piece's output.
    let tail: BatchRunner
    /// The unoccluded images through the whole graph, keeping every recomputed layer.
    let base: BatchRunner
    let batch: Int
    /// Per piece, the batch of crops it runs on (reused from batch to batch).
    var crops: [[Float]]
    /// Nil: exact.
    public let approximation: OcclusionApproximation?
    /// The last run's drill-down: the fine positions computed, of those between coarse ones (nil without a drill-down).
    public private(set) var lastDrillDown: (computed: Int, of: Int)?

    /// The first node that mixes every position (the first fc or softmax), when the whole graph is a
    /// chain (each node reads the one before it) and the nodes before that one are supported
    /// layers; nil otherwise.
    static func cut(_ graph: Graph) -> Int? {
        guard graph.nodes.enumerated().allSatisfy({ i, node in node.inputs == [i == 0 ? .input : .node(i - 1)] }) else { return nil }
        for (i, node) in graph.nodes.enumerated() {
            switch node.layer {
            case .fc, .softmax: return i > 0 ? i : nil
            case .conv, .maxpool, .lrn, .relu, .tanh, .dropout: continue
            case .avgpool, .concat: return nil
            }
        }
        return nil
    }

    /// The multiply-adds per occluder position of the full forward pass over those of the
    /// incremental one (each recomputed layer's over its window's share of the output, then the
    /// rest in full): the speed-up the work predicts, before the cost of cropping and pasting.
    public var predictedSpeedUp: Double {
        let rows = NetworkSummary(graph).rows
        var incremental = 0.0
        for piece in pieces where piece.runner != nil {
            let shape = graph.nodes[piece.node].shape!
            let work = rows[piece.first...piece.node].reduce(0.0) { $0 + Double($1.multiplyAdds) }
            incremental += work * Double(piece.window.rows * piece.window.columns) / Double(shape.height * shape.width)
        }
        incremental += rows[(pieces.last!.node + 1)...].reduce(0.0) { $0 + Double($1.multiplyAdds) }
        let full = rows.reduce(0.0) { $0 + Double($1.multiplyAdds) }
        return incremental > 0 ? full / incremental : 1
    }

    /// The predicted speed-up below which `strata occlude` takes the full path: cropping, pasting
    /// and the small per-layer runs cost about a third of the work saved (measured on zfnet-mini
    /// and ZFNet, docs/performance.md).
    public static let worthwhile = 1.5

    /// Layers that keep positions, run in the same piece as the layer before them.
    static func keepsPositions(_ layer: Layer) -> Bool {
        if case .kept = layer.positions { true } else { false }
    }

    /// Whether `graph` can be occluded incrementally while tracking `layer`.
    public static func supports(_ graph: Graph, layer: Int) -> Bool { cut(graph).map { layer < $0 } ?? false }

    /// A spec line for `node` as a one-layer network's layer, with `overrides` of its attributes.
    static func layerLine(_ node: Node, overrides: [String: String] = [:]) -> String {
        let attributes = node.layer.definition.attributeList.map { "\($0.0): \(overrides[$0.0] ?? $0.1)" }
        return "  - {name: \(node.name), op: \(node.op)" + attributes.map { ", " + $0 }.joined() + "}\n"
    }

    static func network(_ name: String, input: TensorShape, lines: String) throws -> Graph {
        let dims = input.dims
        let shape = dims.count == 3 ? "{channels: \(dims[0]), height: \(dims[1]), width: \(dims[2])}" : "{channels: \(dims[0]), height: 1, width: 1}"
        let text = "name: \(name)\ninput: \(shape)\nlayers:\n" + lines
        return try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: text, file: "\(name).yaml")))
    }

    /// Nil when the graph is not a chain this engine recomputes (`supports`).
    /// - Parameters:
    ///   - layer: the layer whose strongest map `run` tracks (a piece ends there).
    ///   - patch: the occluder's side and `stride` its step, in input pixels (the windows are sized for them).
    ///   - approximation: nil for exact; else Krypton's thresholding and drill-down (`OcclusionApproximation`).
    public init?(graph: Graph, backend: any Backend, batch: Int, weights: [String: (shape: [Int], values: [Float])], patch: Int, stride: Int,
                 tracking layer: Int, approximation: OcclusionApproximation? = nil) throws {
        guard let cut = Self.cut(graph), layer < cut else { return nil }
        self.graph = graph
        self.batch = batch
        self.approximation = approximation
        // The largest field of each layer over the occluder's positions.
        let grid = Occlusion(height: graph.input.height, width: graph.input.width, patch: patch, stride: stride)
        var largest = [(rows: Int, columns: Int)](repeating: (0, 0), count: cut)
        for i in 0..<grid.rows {
            for j in 0..<grid.columns {
                for (k, f) in ProjectiveField.of(graph, rows: grid.rowRange(i), columns: grid.columnRange(j)).prefix(cut).enumerated() {
                    if case .window(let r, let c) = f { largest[k] = (max(largest[k].rows, r.count), max(largest[k].columns, c.count)) }
                }
            }
        }
        self.occlusion = grid
        var pieces: [Piece] = []
        var i = 0
        while i < cut {
            // The group: node i, then the nodes after it that keep positions, up to the tracked layer.
            var last = i
            while last + 1 < cut, last != layer, Self.keepsPositions(graph.nodes[last + 1].layer) { last += 1 }
            let node = graph.nodes[i]
            let input = i == 0 ? graph.input : graph.nodes[i - 1].shape!
            let output = graph.nodes[last].shape!
            guard largest[last].rows > 0 else { return nil }
            var kernel = (1, 1), step = (1, 1), pad = (0, 0), outside: Float = 0
            var overrides: [String: String] = [:]
            if case .window(let k, let s, let p) = node.layer.positions {
                (kernel, step, pad) = ((k.h, k.w), (s.h, s.w), (p.h, p.w))
                overrides = ["pad": "0"]
            }
            // Max-pooling: padding never wins, and the crop's size gives the window count exactly.
            if case .maxpool = node.layer {
                overrides["ceil"] = "false"
                outside = -Float.greatestFiniteMagnitude
            }
            let cap = (approximation?.cap(output.height) ?? output.height, approximation?.cap(output.width) ?? output.width)
            let window = (min(largest[last].rows, cap.0), min(largest[last].columns, cap.1))
            let crop = ((window.0 - 1) * step.0 + kernel.0, (window.1 - 1) * step.1 + kernel.1)
            // Dropout is the identity at inference: left out of the piece (a piece of only dropout passes the patch through).
            let members = (i...last).filter { k in if case .dropout = graph.nodes[k].layer { false } else { true } }
            var runner: BatchRunner?
            if !members.isEmpty {
                let lines = members.map { Self.layerLine(graph.nodes[$0], overrides: $0 == i ? overrides : [:]) }.joined()
                let piece = try Self.network("\(graph.name)-\(node.name)", input: .chw(input.channels, crop.0, crop.1), lines: lines)
                let names = Set(piece.namedParameters().map(\.name))
                runner = try BatchRunner(graph: piece, backend: backend, batch: batch, keeping: [members.count - 1],
                                         weights: weights.filter { names.contains($0.key) })
            }
            pieces.append(Piece(first: i, node: last, runner: runner, kernel: kernel, stride: step, pad: pad, outside: outside, window: window, crop: crop))
            i = last + 1
        }
        self.pieces = pieces
        crops = Array(repeating: [], count: pieces.count)
        let tailGraph = try Self.network("\(graph.name)-tail", input: graph.nodes[cut - 1].shape!,
                                         lines: graph.nodes[cut...].map { Self.layerLine($0) }.joined())
        let names = Set(tailGraph.namedParameters().map(\.name))
        // The fully connected tail streams its weights once a batch: a larger batch than the pieces'
        // (measured on ZFNet: 530 positions/s at 32, 810 at 128).
        tail = try BatchRunner(graph: tailGraph, backend: backend, batch: batch * max(1, 128 / batch), keeping: [tailGraph.nodes.count - 1],
                               weights: weights.filter { names.contains($0.key) })
        base = try BatchRunner(graph: graph, backend: backend, batch: batch, keeping: Array(0..<cut), weights: weights)
    }

    /// A recomputed window of one layer for one position: where it sits and its values (C × rows × columns).
    struct Patch {
        var top: Int, left: Int, rows: Int, columns: Int
        var values: [Float]
    }

    /// Every occluded copy of every image: p(true class), the most probable class and `layer`'s
    /// strongest map's total, as `Occlusion.run` computes them with full forward passes (to float
    /// rounding when the engine is exact; within the approximation's stated bounds otherwise).
    /// Over several ranks each computes every size-th batch of copies, and each pass's maps are
    /// summed over the ranks (the others' entries are zeros): the same maps as one rank, bit for bit.
    public func run(_ input: AnalysisInput, layer: Int, fill: OccluderFill = .grey, communicator: any Communicator = SingleProcess(),
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> Occlusion {
        guard input.labels != nil else { throw SweepError("occlusion needs the images' labels") }
        precondition(pieces.contains { $0.node == layer }, "the engine was made tracking another layer")
        let state = try start(input, layer: layer)
        let positions = state.result.rows * state.result.columns
        let all = (0..<(input.count * positions)).map { ($0 / positions, $0 % positions) }
        lastDrillDown = nil
        guard let drill = approximation?.drillDown else {
            try compute(all, state, input: input, layer: layer, fill: fill, communicator: communicator, progress: { progress($0, all.count) })
            return state.result
        }
        // Drill-down: the coarse grid first, then the fine positions only where p(true) moved.
        let coarse = all.filter { drill.isCoarse(position: $0.1, rows: state.result.rows, columns: state.result.columns) }
        var done = 0
        try compute(coarse, state, input: input, layer: layer, fill: fill, communicator: communicator, progress: { progress($0, all.count) })
        done = coarse.count
        let fine = all.filter { !drill.isCoarse(position: $0.1, rows: state.result.rows, columns: state.result.columns) }
        var exact: [(Int, Int)] = []
        for (n, p) in fine where !state.interpolate(image: n, position: p, drill: drill) { exact.append((n, p)) }
        lastDrillDown = (exact.count, fine.count)
        try compute(exact, state, input: input, layer: layer, fill: fill, communicator: communicator,
                    progress: { progress(done + $0, done + exact.count) })
        return state.result
    }

    /// What a run builds up: the result and the unoccluded images' activations.
    final class RunState {
        var result: Occlusion
        let activations: [[Float]]
        /// Per copy, the most probable class's lead over the second (what a drill-down reads).
        var margin: [Float]
        init(result: Occlusion, activations: [[Float]]) {
            (self.result, self.activations) = (result, activations)
            margin = [Float](repeating: 0, count: result.probability.count)
        }

        /// A fine position whose coarse neighbours agree on the most probable class, each by a lead
        /// of at least `drill.lead` over its runner-up, and whose p(true) lie within `drill.moved`
        /// of each other (a flat stretch of the map): takes their mean p(true) and activation and
        /// that class, and returns true; else false.
        func interpolate(image n: Int, position p: Int, drill: OcclusionApproximation.DrillDown) -> Bool {
            let (rows, columns) = (result.rows, result.columns)
            let neighbours = drill.neighbours(of: p, rows: rows, columns: columns).map { n * rows * columns + $0 }
            let values = neighbours.map { result.probability[$0] }, top = result.topClass[neighbours[0]]
            guard values.max()! - values.min()! <= drill.moved, neighbours.allSatisfy({ result.topClass[$0] == top && margin[$0] >= drill.lead }) else {
                return false
            }
            let q = n * rows * columns + p, count = Float(neighbours.count)
            result.probability[q] = values.reduce(0, +) / count
            result.activation[q] = neighbours.reduce(0) { $0 + result.activation[$1] } / count
            result.topClass[q] = top
            return true
        }
    }

    /// The unoccluded images through the network: the activations every copy patches and the
    /// strongest maps.
    func start(_ input: AnalysisInput, layer: Int) throws -> RunState {
        let cut = pieces.last!.node + 1
        var result = occlusion
        let total = input.count * result.rows * result.columns
        let activations = try base.outputs(input.images, count: input.count, nodes: Array(0..<cut))
        result.strongest = Occlusion.strongest(activations[layer], count: input.count, shape: graph.nodes[layer].shape!)
        result.strongestMap = result.strongest.map { Int32($0.map) }
        result.probability = [Float](repeating: 0, count: total)
        result.topClass = [Int32](repeating: 0, count: total)
        result.activation = [Float](repeating: 0, count: total)
        return RunState(result: result, activations: activations)
    }

    /// Computes the occluded copies `copies` (image, position), a batch at a time across images,
    /// into `state.result`. Every run is a full batch (the last filled out with earlier crops,
    /// whose outputs are not read), so the plans `prepare` made are the only ones; the tail runs
    /// `tail.batch` copies at a time. Over several ranks each takes every size-th batch and the
    /// pass's values are summed over the ranks.
    func compute(_ copies: [(image: Int, position: Int)], _ state: RunState, input: AnalysisInput, layer: Int, fill: OccluderFill,
                 communicator: any Communicator, progress: (Int) -> Void) throws {
        let cut = pieces.last!.node + 1, classes = graph.classes, shape = graph.nodes[layer].shape!
        // This pass's values, a row per copy: p(true), top class, tracked activation, top class's lead.
        var values = [Double](repeating: 0, count: copies.count * 4)
        // The input of piece k and the output of node k for image n.
        func slice(_ k: Int, _ n: Int) -> ArraySlice<Float> {
            guard k >= 0 else { return input.images[(n * input.perImage)..<((n + 1) * input.perImage)] }
            let size = graph.nodes[k].shape!.elementCount!
            return state.activations[k][(n * size)..<((n + 1) * size)]
        }
        // Copies whose last piece is done, waiting for the tail: (index in `copies`, patched activations).
        let tailShape = graph.nodes[cut - 1].shape!, tailSize = tailShape.elementCount!
        var waiting: [Int] = [], tailInput = [Float](repeating: 0, count: tail.batch * tailSize)
        func runTail() throws {
            guard !waiting.isEmpty else { return }
            let probabilities = try tail.outputs(tailInput, count: tail.batch, nodes: [tail.graph.nodes.count - 1])[0]
            for (k, c) in waiting.enumerated() {
                let row = probabilities[(k * classes)..<((k + 1) * classes)]
                let top = row.indices.max { row[$0] < row[$1] }!
                values[c * 4] = Double(row[k * classes + input.labels![copies[c].image]])
                values[c * 4 + 1] = Double(top - k * classes)
                values[c * 4 + 3] = Double(row[top] - (row.indices.lazy.filter { $0 != top }.map { row[$0] }.max() ?? 0))
            }
            waiting.removeAll(keepingCapacity: true)
        }
        var start = 0, index = 0
        while start < copies.count {
            let chunk = start..<min(start + batch, copies.count)
            defer { (start, index) = (chunk.upperBound, index + 1); progress(start) }
            guard communicator.takes(index) else { continue }
            let images = chunk.map { copies[$0].image }
            var patches = try occludedInput(input, chunk.map { copies[$0] }, fill: fill)
            var tracked: [Patch] = []
            for (k, piece) in pieces.enumerated() {
                patches = try recompute(k, from: patches, bases: images.map { slice(piece.first - 1, $0) })
                if piece.node == layer { tracked = patches }
            }
            for (k, c) in chunk.enumerated() {
                let n = copies[c].image
                values[c * 4 + 2] = Double(Self.planeTotal(slice(layer, n), patched: tracked[k], map: Int(state.result.strongestMap[n]), shape: shape))
                if waiting.count == tail.batch { try runTail() }
                Self.paste(patches[k], over: slice(cut - 1, n), shape: tailShape, into: &tailInput, at: waiting.count * tailSize)
                waiting.append(c)
            }
        }
        try runTail()
        if communicator.isDistributed { communicator.allReduceSum(&values) }
        let positions = state.result.rows * state.result.columns
        for (c, (n, p)) in copies.enumerated() {
            let q = n * positions + p
            state.result.probability[q] = Float(values[c * 4])
            state.result.topClass[q] = Int32(values[c * 4 + 1])
            state.result.activation[q] = Float(values[c * 4 + 2])
            state.margin[q] = Float(values[c * 4 + 3])
        }
    }

    /// Makes every plan a run of `images` images needs (so a timed run does not include them).
    public func prepare(images: Int) throws {
        for piece in pieces { _ = try piece.runner?.executor(batch) }
        _ = try tail.executor(tail.batch)
        for n in Set([min(batch, images), images % batch]) where n > 0 { _ = try base.executor(n) }
    }

    /// The occluded inputs' changed squares, prepared (the mean subtracted) as the network sees them.
    func occludedInput(_ input: AnalysisInput, _ copies: [(image: Int, position: Int)], fill: OccluderFill) throws -> [Patch] {
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        var raw = [Float](repeating: 0, count: c * h * w)
        return copies.map { n, p in
            let (i, j) = (p / occlusion.columns, p % occlusion.columns)
            raw.withUnsafeMutableBufferPointer {
                occlusion.occlude(input.rawImage(n), into: $0.baseAddress!, channels: c, height: h, width: w, at: i, j, fill: fill, meanImage: input.rule.inputMean)
            }
            let prepared = input.rule.prepared(raw)
            let (top, left, side) = (i * occlusion.stride, j * occlusion.stride, occlusion.patch)
            var values = [Float](repeating: 0, count: c * side * side)
            for ch in 0..<c { for y in 0..<side { for x in 0..<side {
                values[(ch * side + y) * side + x] = prepared[(ch * h + top + y) * w + left + x]
            } } }
            return Patch(top: top, left: left, rows: side, columns: side, values: values)
        }
    }

    /// One layer's fixed-size output window per position, from a crop of its input: the base
    /// activations (or the image) with the previous layer's patch over them; a full batch of crops
    /// (past `previous.count`, earlier crops or zeros, not read).
    func recompute(_ index: Int, from previous: [Patch], bases: [ArraySlice<Float>]) throws -> [Patch] {
        let piece = pieces[index]
        guard let runner = piece.runner else { return previous }
        let node = graph.nodes[piece.first]
        let input = piece.first == 0 ? graph.input : graph.nodes[piece.first - 1].shape!
        let (c, h, w) = (input.channels, input.height, input.width)
        let output = graph.nodes[piece.node].shape!
        let (cr, cc) = piece.crop
        if crops[index].count != batch * c * cr * cc { crops[index] = [Float](repeating: 0, count: batch * c * cr * cc) }
        var windows: [(top: Int, left: Int)] = []
        for (k, before) in previous.enumerated() {
            // The window holding what this patch can change, kept inside the output.
            let reach = ProjectiveField.through(node, .window(rows: before.top...(before.top + before.rows - 1),
                                                              columns: before.left...(before.left + before.columns - 1)))
            var (top, left) = (0, 0)
            if case .window(let r, let cl) = reach {
                (top, left) = (Self.place(r, piece.window.rows, in: output.height), Self.place(cl, piece.window.columns, in: output.width))
            }
            windows.append((top, left))
            let (y0, x0) = (top * piece.stride.0 - piece.pad.0, left * piece.stride.1 - piece.pad.1)
            Self.fillCrop(&crops[index], at: k * c * cr * cc, base: bases[k], patch: before, input: (c, h, w), crop: (cr, cc), origin: (y0, x0), outside: piece.outside)
        }
        let size = output.channels * piece.window.rows * piece.window.columns
        var patches: [Patch] = []
        try crops[index].withUnsafeBufferPointer { buffer in
            try runner.forEachChunk(buffer, count: batch) { e, _, _ in
                try e.withValues(.value(runner.graph.nodes.count - 1)) { values in
                    patches = windows.enumerated().map { k, o in
                        Patch(top: o.top, left: o.left, rows: piece.window.rows, columns: piece.window.columns,
                              values: Array(values[(k * size)..<((k + 1) * size)]))
                    }
                }
            }
        }
        return patches
    }

    /// Where a window of `size` starts to hold `reach` inside a side of `side` positions: at the
    /// reach's start, or centred on it where the reach is longer (thresholded, approximate).
    static func place(_ reach: ClosedRange<Int>, _ size: Int, in side: Int) -> Int {
        let start = reach.count > size ? reach.lowerBound + (reach.count - size) / 2 : reach.lowerBound
        return max(0, min(start, side - size))
    }

    /// Writes one crop (c × rows × columns, its top-left at `origin` of the layer's input) into
    /// `crops` at `offset`: the base activations, the patch's values where it lies, `outside` beyond
    /// the input; a row at a time, copying the contiguous runs.
    static func fillCrop(_ crops: inout [Float], at offset: Int, base: ArraySlice<Float>, patch: Patch, input: (c: Int, h: Int, w: Int),
                         crop: (rows: Int, columns: Int), origin: (y: Int, x: Int), outside: Float) {
        let (c, h, w) = input
        let (cr, cc) = crop
        // The columns of the crop inside the input, and inside the patch.
        let inLow = max(0, -origin.x), inHigh = min(cc, w - origin.x)
        let pLow = max(inLow, patch.left - origin.x), pHigh = min(inHigh, patch.left + patch.columns - origin.x)
        crops.withUnsafeMutableBufferPointer { out in
            base.withUnsafeBufferPointer { b in
                patch.values.withUnsafeBufferPointer { v in
                    for ch in 0..<c {
                        for y in 0..<cr {
                            let row = out.baseAddress! + offset + (ch * cr + y) * cc
                            let sy = origin.y + y
                            guard sy >= 0, sy < h, inLow < inHigh else {
                                row.update(repeating: outside, count: cc)
                                continue
                            }
                            if inLow > 0 { row.update(repeating: outside, count: inLow) }
                            if inHigh < cc { (row + inHigh).update(repeating: outside, count: cc - inHigh) }
                            (row + inLow).update(from: b.baseAddress! + (ch * h + sy) * w + origin.x + inLow, count: inHigh - inLow)
                            let py = sy - patch.top
                            if py >= 0, py < patch.rows, pLow < pHigh {
                                (row + pLow).update(from: v.baseAddress! + (ch * patch.rows + py) * patch.columns + (origin.x + pLow - patch.left), count: pHigh - pLow)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The last recomputed layer's whole output for one copy: `base` with the patch over it,
    /// written into `buffer` at `offset`.
    static func paste(_ p: Patch, over base: ArraySlice<Float>, shape: TensorShape, into buffer: inout [Float], at offset: Int) {
        let (c, h, w) = (shape.channels, shape.height, shape.width)
        buffer.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress! + offset
            base.withUnsafeBufferPointer { o.update(from: $0.baseAddress!, count: c * h * w) }
            p.values.withUnsafeBufferPointer { v in
                for ch in 0..<c { for y in 0..<p.rows {
                    (o + (ch * h + p.top + y) * w + p.left).update(from: v.baseAddress! + (ch * p.rows + y) * p.columns, count: p.columns)
                } }
            }
        }
    }

    /// Map `m`'s total over the layer: the base plane's, with the patched window's values in place of the base's.
    static func planeTotal(_ base: ArraySlice<Float>, patched p: Patch, map m: Int, shape: TensorShape) -> Float {
        let (h, w) = (shape.height, shape.width)
        let plane = base[(base.startIndex + m * h * w)..<(base.startIndex + (m + 1) * h * w)]
        var total = plane.reduce(Float(0), +)
        for y in 0..<p.rows { for x in 0..<p.columns {
            total += p.values[(m * p.rows + y) * p.columns + x] - plane[plane.startIndex + (p.top + y) * w + p.left + x]
        } }
        return total
    }
}

