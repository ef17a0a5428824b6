import StrataIR
import StrataMPI
import StrataPlan

/// Fig. 7 of the ZF paper: a square of zeros (the mean) slid over each image, and what the
/// classifier and one layer say at every position. For an H×W input, position (i, j) covers rows
/// i·S … i·S+P−1 and columns j·S … j·S+P−1: Hm = ⌊(H−P)/S⌋+1 positions down, Wm across.
public struct Occlusion: Sendable {
    public var patch: Int
    public var stride: Int
    public var rows: Int
    public var columns: Int
    /// N × Hm × Wm: the label's probability, the most probable class, and the summed activation of
    /// the strongest map of the layer; N: that map.
    public var probability: [Float] = []
    public var topClass: [Int32] = []
    public var activation: [Float] = []
    public var strongestMap: [Int32] = []

    public init(height: Int, width: Int, patch: Int, stride: Int) {
        self.patch = patch
        self.stride = stride
        rows = (height - patch) / stride + 1
        columns = (width - patch) / stride + 1
    }

    /// The default layer: the output of the ReLU right after the last conv (else the last conv, else the last layer before the classifier).
    public static func defaultLayer(_ graph: Graph) -> Int {
        guard let conv = graph.nodes.lastIndex(where: { $0.op == "conv" }) else { return max(0, graph.nodes.count - 2) }
        if let next = graph.nodes.firstIndex(where: { $0.op == "relu" && $0.inputs == [.node(conv)] }) { return next }
        return conv
    }

    /// Writes image `x` with the square at position (i, j) zeroed into `out`.
    public func occlude(_ x: ArraySlice<Float>, into out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, at i: Int, _ j: Int) {
        var k = 0
        for v in x { out[k] = v; k += 1 }
        for c in 0..<channels {
            for y in (i * stride)..<min(height, i * stride + patch) {
                for xx in (j * stride)..<min(width, j * stride + patch) { out[(c * height + y) * width + xx] = 0 }
            }
        }
    }

    /// Runs every occluded copy of every image, in batches of the runner's size.
    /// `runner` must keep `layer` and the last node.
    /// Over several ranks each runs every size-th batch of occluded copies and the maps are summed
    /// on every rank (the others' entries are zeros: the same numbers as one rank).
    public static func run(_ input: AnalysisInput, runner: BatchRunner, layer: Int, patch: Int, stride: Int,
                           communicator: any Communicator = SingleProcess(), progress: (Int, Int) -> Void = { _, _ in }) throws -> Occlusion {
        let graph = runner.graph
        guard let labels = input.labels else { throw SweepError("occlusion needs the images' labels") }
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        var result = Occlusion(height: h, width: w, patch: patch, stride: stride)
        let positions = result.rows * result.columns
        let last = graph.nodes.count - 1, classes = graph.classes
        let shape = graph.nodes[layer].shape!
        let maps = shape.dims[0], planeSize = shape.elementCount! / maps
        // The strongest map of each unoccluded image: the one holding its largest single activation.
        let clean = try runner.outputs(input.images, count: input.count, nodes: [layer])[0]
        result.strongestMap = (0..<input.count).map { n in
            let values = clean[(n * maps * planeSize)..<((n + 1) * maps * planeSize)]
            let best = values.indices.max { values[$0] < values[$1] }!
            return Int32((best - n * maps * planeSize) / planeSize)
        }
        let total = input.count * positions
        result.probability = [Float](repeating: 0, count: total)
        result.topClass = [Int32](repeating: 0, count: total)
        result.activation = [Float](repeating: 0, count: total)
        var batch = [Float](repeating: 0, count: runner.batch * input.perImage)
        var start = 0, chunk = 0
        while start < total {
            let n = min(runner.batch, total - start)
            defer { chunk += 1 }
            guard communicator.takes(chunk) else {
                start += n
                continue
            }
            batch.withUnsafeMutableBufferPointer { out in
                for k in 0..<n {
                    let q = start + k, image = q / positions, p = q % positions
                    result.occlude(input.image(image), into: out.baseAddress! + k * input.perImage, channels: c, height: h, width: w,
                                   at: p / result.columns, p % result.columns)
                }
            }
            let e = try runner.executor(n)
            try batch.withUnsafeBufferPointer { try e.setInput(UnsafeBufferPointer(rebasing: $0[0..<(n * input.perImage)])) }
            e.run()
            let probabilities = try e.read(.value(last)), features = try e.read(.value(layer))
            for k in 0..<n {
                let q = start + k, image = q / positions
                let row = probabilities[(k * classes)..<((k + 1) * classes)]
                result.probability[q] = row[k * classes + labels[image]]
                result.topClass[q] = Int32(row.indices.max { row[$0] < row[$1] }! - k * classes)
                let m = Int(result.strongestMap[image])
                let plane = features[((k * maps + m) * planeSize)..<((k * maps + m + 1) * planeSize)]
                result.activation[q] = plane.reduce(0, +)
            }
            start += n
            progress(start, total)
        }
        if communicator.isDistributed {
            result.probability.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
            result.activation.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
            var classes = result.topClass.map(Double.init)
            communicator.allReduceSum(&classes)
            result.topClass = classes.map { Int32($0) }
        }
        return result
    }
}
