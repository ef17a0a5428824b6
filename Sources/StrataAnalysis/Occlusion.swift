import StrataFormats
import StrataIR
import StrataMPI
import StrataPlan

/// What an occluder is filled with, drawn on the raw image (pixels in [0, 1]) before the mean is
/// subtracted: `--fill grey|black|mean|VALUE`. The paper's occluder is a grey square.
public enum OccluderFill: Sendable, Equatable, CustomStringConvertible {
    /// 0.5 in every channel.
    case grey
    case black
    /// The mean image's pixels: 0 in the network's input, as if the pixels were unknown.
    case mean
    /// A value in [0, 1] in every channel.
    case value(Float)

    public init?(argument: String) {
        switch argument {
        case "grey", "gray": self = .grey
        case "black": self = .black
        case "mean": self = .mean
        default:
            guard let v = Float(argument), v.isFinite, v >= 0, v <= 1 else { return nil }
            self = .value(v)
        }
    }

    public var description: String {
        switch self {
        case .grey: "grey (0.5)"
        case .black: "black (0)"
        case .mean: "mean (the mean image's pixels: 0 after subtraction)"
        case .value(let v): "\(v)"
        }
    }

    /// The fill at position `k` of an image (C·H·W index); `meanImage`: the rule's mean at the input size.
    @inline(__always) func value(at k: Int, meanImage: [Float]) -> Float {
        switch self {
        case .grey: 0.5
        case .black: 0
        case .mean: meanImage[k]
        case .value(let v): v
        }
    }

    /// Fills the rectangle [row, column, height, width] (clipped to the image) of a raw C×H×W image.
    public func draw(_ image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, rect: [Int], meanImage: [Float]) {
        let (r, c, h, w) = (rect[0], rect[1], rect[2], rect[3])
        let rows = max(0, r)..<max(max(0, r), min(height, r &+ h)), columns = max(0, c)..<max(max(0, c), min(width, c &+ w))
        for ch in 0..<channels {
            for y in rows { for x in columns { let k = (ch * height + y) * width + x; image[k] = value(at: k, meanImage: meanImage) } }
        }
    }
}

/// How the heat maps and projections of several images are coloured; written on the figure.
public enum HeatmapScale: String, CaseIterable, Sendable {
    /// Each image's map over its own range.
    case perImage = "per-image"
    /// One range over all images, so maps compare.
    case shared
}

/// Fig. 7 of the ZF paper: a square (grey, as in the paper: `OccluderFill`) slid over each raw
/// image, and what the classifier and one layer say at every position. For an H×W input, position (i, j) covers rows
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
    /// Per image, the largest single activation of the layer in the unoccluded image (its map is
    /// `strongestMap`'s; the first position on ties): what `OcclusionFigure` projects.
    public var strongest: [Activation] = []

    public init(height: Int, width: Int, patch: Int, stride: Int) {
        self.patch = patch
        self.stride = stride
        rows = (height - patch) / stride + 1
        columns = (width - patch) / stride + 1
    }

    /// The input rows the occluder covers at row position i, and the columns at column position j.
    public func rowRange(_ i: Int) -> ClosedRange<Int> { (i * stride)...(i * stride + patch - 1) }
    public func columnRange(_ j: Int) -> ClosedRange<Int> { (j * stride)...(j * stride + patch - 1) }

    /// The default layer: the output of the ReLU right after the last conv (else the last conv, else the last layer before the classifier).
    public static func defaultLayer(_ graph: Graph) -> Int {
        guard let conv = graph.nodes.lastIndex(where: { if case .conv = $0.layer { true } else { false } }) else { return max(0, graph.nodes.count - 2) }
        return graph.rectified(conv)
    }

    /// Writes raw image `x` with the square at position (i, j) filled into `out`.
    public func occlude(_ x: ArraySlice<Float>, into out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, at i: Int, _ j: Int,
                        fill: OccluderFill = .grey, meanImage: [Float] = []) {
        var k = 0
        for v in x { out[k] = v; k += 1 }
        fill.draw(out, channels: channels, height: height, width: width, rect: [i * stride, j * stride, patch, patch], meanImage: meanImage)
    }

    /// Each image's strongest map: the one holding its largest single activation in `clean`
    /// (`count` images of a layer of `shape`).
    public static func strongest(_ clean: [Float], count: Int, shape: TensorShape) -> [Activation] {
        let maps = shape.dims[0], planeSize = shape.elementCount! / maps
        let planeColumns = shape.dims.count > 2 ? shape.dims[2] : 1
        return (0..<count).map { n in
            let values = clean[(n * maps * planeSize)..<((n + 1) * maps * planeSize)]
            let best = values.indices.max { values[$0] < values[$1] }!
            let offset = best - n * maps * planeSize, at = offset % planeSize
            return Activation(image: n, map: offset / planeSize, row: at / planeColumns, column: at % planeColumns, value: clean[best])
        }
    }

    /// Runs every occluded copy of every image, in batches of the runner's size.
    /// `runner` must keep `layer` and the last node.
    /// Over several ranks each runs every size-th batch of occluded copies and the maps are summed
    /// on every rank (the others' entries are zeros: the same numbers as one rank).
    /// The occluder is drawn on the raw image and the mean subtracted after (the input rule).
    public static func run(_ input: AnalysisInput, runner: BatchRunner, layer: Int, patch: Int, stride: Int, fill: OccluderFill = .grey,
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
        result.strongest = Self.strongest(clean, count: input.count, shape: shape)
        result.strongestMap = result.strongest.map { Int32($0.map) }
        let total = input.count * positions
        result.probability = [Float](repeating: 0, count: total)
        result.topClass = [Int32](repeating: 0, count: total)
        result.activation = [Float](repeating: 0, count: total)
        var batch = [Float](repeating: 0, count: runner.batch * input.perImage), raw = batch
        let meanImage = input.rule.inputMean
        var start = 0, chunk = 0
        while start < total {
            let n = min(runner.batch, total - start)
            defer { chunk += 1 }
            guard communicator.takes(chunk) else {
                start += n
                continue
            }
            raw.withUnsafeMutableBufferPointer { out in
                for k in 0..<n {
                    let q = start + k, image = q / positions, p = q % positions
                    result.occlude(input.rawImage(image), into: out.baseAddress! + k * input.perImage, channels: c, height: h, width: w,
                                   at: p / result.columns, p % result.columns, fill: fill, meanImage: meanImage)
                }
                batch.withUnsafeMutableBufferPointer { input.rule.prepare(out.baseAddress!, into: $0.baseAddress!, count: n) }
            }
            let e = try runner.executor(n)
            try batch.withUnsafeBufferPointer { try e.setInput(UnsafeBufferPointer(rebasing: $0[0..<(n * input.perImage)])) }
            try e.run()
            let probabilities = try e.read(.value(last)), features = try e.read(.value(layer))
            let size = graph.nodes[layer].shape!.elementCount!
            if let k = probabilities.prefix(n * classes).firstIndex(where: { !$0.isFinite }) {
                throw SweepError.nonFinite(layer: graph.nodes[last].name, image: (start + k / classes) / positions, what: "an occluded copy")
            }
            if let k = features.prefix(n * size).firstIndex(where: { !$0.isFinite }) {
                throw SweepError.nonFinite(layer: graph.nodes[layer].name, image: (start + k / size) / positions, what: "an occluded copy")
            }
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
