import Foundation
import StrataFormats
import StrataIR
import StrataTrain

/// Images ready for the network (N × C × H × W, the input's size), their labels where known, and
/// a name for each (a file path, or `split[index]`).
public struct AnalysisInput: Sendable {
    public var images: [Float]
    public var count: Int
    public var labels: [Int]?
    public var names: [String]
    /// What each image is, per image: C·H·W.
    public var perImage: Int

    public init(images: [Float], count: Int, labels: [Int]?, names: [String], perImage: Int) {
        self.images = images
        self.count = count
        self.labels = labels
        self.names = names
        self.perImage = perImage
    }

    public func image(_ i: Int) -> ArraySlice<Float> { images[(i * perImage)..<((i + 1) * perImage)] }

    /// The first `limit` images (all when nil).
    public func prefix(_ limit: Int?) -> AnalysisInput {
        guard let limit, limit < count else { return self }
        return AnalysisInput(images: Array(images.prefix(limit * perImage)), count: limit, labels: labels.map { Array($0.prefix(limit)) },
                             names: Array(names.prefix(limit)), perImage: perImage)
    }

    /// `--input X [--labels Y.npy]`: an .npy array used exactly as given, one image file, or a
    /// folder of PNG/JPEG images prepared by `preprocessing`.
    public static func load(input path: String, labels: String?, graph: Graph, preprocessing: Preprocessing) throws -> AnalysisInput {
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let perImage = c * h * w
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let ext = (path as NSString).pathExtension.lowercased()
        var images: [Float], names: [String]
        if exists && (isDirectory.boolValue || Images.extensions.contains(ext)) {
            let files = isDirectory.boolValue ? try Images.files(in: path) : [path]
            guard !files.isEmpty else { throw FormatError(path: path, reason: "it has no .png, .jpg or .jpeg images") }
            images = [Float](repeating: 0, count: files.count * perImage)
            try images.withUnsafeMutableBufferPointer { out in
                for (k, file) in files.enumerated() {
                    let image = try Images.decode(path: file, channels: c, minimumSide: preprocessing.minimumSide)
                    preprocessing.prepare(image: image, into: out.baseAddress! + k * perImage)
                }
            }
            names = files
        } else {
            var array = try NumpyArray.readFloats(path: path)
            if array.shape == [c, h, w] { array.shape = [1, c, h, w] }
            guard array.shape.count == 4, Array(array.shape.dropFirst()) == [c, h, w], array.shape[0] >= 1 else {
                throw FormatError(path: path, reason: "the array is (\(array.shape.map(String.init).joined(separator: ", "))) but '\(graph.name)' takes (N, \(c), \(h), \(w)) float32 images")
            }
            if let bad = array.firstNonFinite() {
                throw FormatError(path: path, reason: "image \(bad.image) holds \(bad.value) at position \(bad.offset); inputs must be finite numbers")
            }
            images = array.values
            names = (0..<array.shape[0]).map { "\(path)[\($0)]" }
        }
        let count = images.count / perImage
        var labelValues: [Int]?
        if let labels {
            let (shape, values) = try NumpyArray.readLabels(path: labels)
            guard values.count == count, shape.count == 1 || (shape.count == 2 && shape[1] == 1) else {
                throw FormatError(path: labels, reason: "\(values.count) labels for \(count) images; give one integer per image")
            }
            labelValues = values.map { Int(clamping: $0) }
            try checkLabels(labelValues!, classes: graph.classes, source: labels, network: graph.name)
        }
        return AnalysisInput(images: images, count: count, labels: labelValues, names: names, perImage: perImage)
    }

    /// `--data DATA [--split test|train] [--limit N]`: a data folder `strata train` reads, the
    /// images prepared by `preprocessing` (whose stored size must be the data's), with labels.
    /// `indices`: those images of the split instead of the first `limit`.
    public static func load(data folder: String, split: String, limit: Int?, indices: [Int]? = nil, graph: Graph, weights: Safetensors.File,
                            weightsPath: String) throws -> AnalysisInput {
        let classNames = try Checkpoint.classNames(weights, path: weightsPath)
        let splits = try DataLoader.open(folder, channels: graph.input.channels, side: max(graph.input.height, graph.input.width), classNames: classNames)
        let data: any Dataset
        switch split {
        case "train": data = splits.train
        default:
            guard let v = splits.validation else { throw FormatError(path: folder, reason: "it has no test or validation split; use --split train") }
            data = v
        }
        let chosen = indices ?? Array(0..<min(limit ?? data.count, data.count))
        let count = chosen.count
        if let bad = chosen.first(where: { $0 < 0 || $0 >= data.count }) { throw FormatError(path: folder, reason: "its \(split) split has no image \(bad)") }
        guard count > 0 else { throw FormatError(path: folder, reason: "its \(split) split has no images") }
        let stored = data.shape
        var preprocessing = try Preprocessing.inference(weights: weights, path: weightsPath,
                                                        input: (graph.input.channels, graph.input.height, graph.input.width))
        if !Preprocessing.subtractsMean(weights) {
            preprocessing.stored = stored
            preprocessing.mean = [Float](repeating: 0, count: stored.channels * stored.height * stored.width)
        }
        guard preprocessing.stored == stored, stored.height >= graph.input.height, stored.width >= graph.input.width else {
            throw FormatError(path: folder, reason: "its images are \(stored.channels)×\(stored.height)×\(stored.width) but \(weightsPath) was trained on "
                              + "\(preprocessing.stored.channels)×\(preprocessing.stored.height)×\(preprocessing.stored.width) and '\(graph.name)' takes \(graph.input.compactDescription)")
        }
        let perImage = graph.input.elementCount!
        var images = [Float](repeating: 0, count: count * perImage)
        var labels = [Int](repeating: 0, count: count)
        try images.withUnsafeMutableBufferPointer { out in
            for (i, index) in chosen.enumerated() {
                preprocessing.prepare(try data.pixels(index), into: out.baseAddress! + i * perImage, training: false, seed: 0)
                labels[i] = data.label(index)
            }
        }
        try checkLabels(labels, classes: graph.classes, source: data.source, network: graph.name)
        let names = (data as? ImageTree).map { tree in chosen.map(tree.path) } ?? chosen.map { "\(split)[\($0)]" }
        return AnalysisInput(images: images, count: count, labels: labels, names: names, perImage: perImage)
    }

    static func checkLabels(_ labels: [Int], classes: Int, source: String, network: String) throws {
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw FormatError(path: source, reason: "image \(bad) has label \(labels[bad]), outside 0..<\(classes), the classes of '\(network)'")
        }
    }
}

extension Graph {
    /// The width of the last layer: the classes of a classifier.
    public var classes: Int { nodes.last?.shape?.elementCount ?? 0 }
}
