import Foundation
import StrataFormats
import StrataIR
import StrataTrain

/// Where an analysis' images come from: `--input X [--labels Y]` or `--data DATA --split S`.
public enum ImageSource: Sendable {
    /// An .npy float32 array of raw pixels in [0, 1] (N×C×h×w at the input's size, or N×C×H×W at the
    /// stored size, centre-cropped), one PNG/JPEG file, or a folder of them (in name order).
    case files(String, labels: String?)
    /// A data folder `strata train` reads: the first `limit` images of a split, or those `indices`.
    case data(String, split: String, limit: Int?, indices: [Int]?)
}

/// Images for an analysis (N × C × h × w, the input's size), as raw pixels and as the network sees
/// them, their labels where known, and a name for each (a file path, or `split[index]`). Made by
/// `load`, which applies the one input rule (`InputRule`): a command changes `raw` (a transform, an
/// occluder) and hands `rule.prepare` the result.
public struct AnalysisInput: Sendable {
    /// Raw pixels in [0, 1], centre-cropped to the input.
    public var raw: [Float]
    /// `raw` with the rule's mean subtracted: what the network takes.
    public var images: [Float]
    public var count: Int
    public var labels: [Int]?
    public var names: [String]
    /// What each image is, per image: C·H·W.
    public var perImage: Int
    public var rule: InputRule
    /// The classes' names in the network's order, where known: a checkpoint's (`Checkpoint.classNames`)
    /// or an image tree's folders; nil otherwise (IDX, CIFAR and .npy data carry none).
    public var classNames: [String]?

    public init(raw: [Float], count: Int, labels: [Int]?, names: [String], rule: InputRule) {
        self.raw = raw
        self.images = rule.prepared(raw)
        self.count = count
        self.labels = labels
        self.names = names
        self.perImage = rule.perImage
        self.rule = rule
    }

    /// Images used as they are (nothing subtracted), `perImage` values each: for a library caller
    /// that prepared its own arrays.
    public init(images: [Float], count: Int, labels: [Int]?, names: [String], perImage: Int) {
        self.init(raw: images, count: count, labels: labels, names: names, rule: .identity(perImage: perImage))
    }

    public func image(_ i: Int) -> ArraySlice<Float> { images[(i * perImage)..<((i + 1) * perImage)] }
    public func rawImage(_ i: Int) -> ArraySlice<Float> { raw[(i * perImage)..<((i + 1) * perImage)] }

    /// Class `k` as a figure names it: `9: Ankle boot` with names, else `class 9`.
    public func className(_ k: Int) -> String {
        guard let classNames, classNames.indices.contains(k) else { return "class \(k)" }
        return "\(k): \(classNames[k])"
    }

    /// The first `limit` images (all when nil).
    public func prefix(_ limit: Int?) -> AnalysisInput {
        guard let limit, limit < count else { return self }
        var copy = self
        copy.raw = Array(raw.prefix(limit * perImage))
        copy.images = Array(images.prefix(limit * perImage))
        copy.count = limit
        copy.labels = labels.map { Array($0.prefix(limit)) }
        copy.names = Array(names.prefix(limit))
        return copy
    }

    /// The images of `source` for `graph`, by the one input rule: raw pixels in [0, 1], the mean
    /// of `weights` (or `mean`, where the weights carry none) subtracted. `limit`: the first so many.
    public static func load(_ source: ImageSource, limit: Int? = nil, graph: Graph, weights: Safetensors.File, weightsPath: String,
                            mean: MeanChoice?) throws -> AnalysisInput {
        let input = (graph.input.channels, graph.input.height, graph.input.width)
        switch source {
        case let .files(path, labels):
            let rule = try InputRule.resolve(weights: weights, path: weightsPath, mean: mean, input: input)
            var loaded = try load(input: path, labels: labels, graph: graph, rule: rule).prefix(limit)
            loaded.classNames = try Checkpoint.classNames(weights, path: weightsPath)
            return loaded
        case let .data(folder, split, dataLimit, indices):
            return try load(data: folder, split: split, limit: dataLimit ?? limit, indices: indices, graph: graph, weights: weights, weightsPath: weightsPath, mean: mean)
        }
    }

    static func load(input path: String, labels: String?, graph: Graph, rule: InputRule) throws -> AnalysisInput {
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let perImage = c * h * w
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let ext = (path as NSString).pathExtension.lowercased()
        var raw: [Float], names: [String]
        if exists && (isDirectory.boolValue || Images.extensions.contains(ext)) {
            let files = isDirectory.boolValue ? try Images.files(in: path) : [path]
            guard !files.isEmpty else { throw FormatError(path: path, reason: "it has no .png, .jpg or .jpeg images") }
            guard let total = Checked.product([files.count, perImage]) else { throw FormatError(path: path, reason: "it has too many images") }
            raw = [Float](repeating: 0, count: total)
            let stored = rule.stored
            try raw.withUnsafeMutableBufferPointer { out in
                for (k, file) in files.enumerated() {
                    // Resized so the shorter side covers the stored size, centre-cropped to it and scaled to [0, 1], as an image tree is.
                    let image = try Images.decode(path: file, channels: c, minimumSide: max(stored.height, stored.width))
                    rule.rawInput(stored: Images.prepare(image, height: stored.height, width: stored.width), into: out.baseAddress! + k * perImage)
                }
            }
            names = files
        } else {
            var array = try NumpyArray.readFloats(path: path)
            let stored = [rule.stored.channels, rule.stored.height, rule.stored.width]
            if array.shape == [c, h, w] || array.shape == stored { array.shape = [1] + array.shape }
            let dims = Array(array.shape.dropFirst())
            guard array.shape.count == 4, dims == [c, h, w] || dims == stored, array.shape[0] >= 1 else {
                throw FormatError(path: path, reason: "the array is (\(array.shape.map(String.init).joined(separator: ", "))) but '\(graph.name)' takes (N, \(c), \(h), \(w)) float32 images"
                                  + (stored == [c, h, w] ? "" : " (or (N, \(stored.map(String.init).joined(separator: ", "))), the stored size, centre-cropped)"))
            }
            if let bad = array.firstNonFinite() {
                throw FormatError(path: path, reason: "image \(bad.image) holds \(bad.value) at position \(bad.offset); inputs must be finite numbers")
            }
            let n = array.shape[0]
            if dims == [c, h, w] {
                raw = array.values
            } else {
                raw = [Float](repeating: 0, count: n * perImage)
                let size = stored.reduce(1, *)
                raw.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n { rule.rawInput(stored: Array(array.values[(i * size)..<((i + 1) * size)]), into: out.baseAddress! + i * perImage) }
                }
            }
            names = (0..<n).map { "\(path)[\($0)]" }
        }
        let count = raw.count / perImage
        var labelValues: [Int]?
        if let labels {
            let (shape, values) = try NumpyArray.readLabels(path: labels)
            guard values.count == count, shape.count == 1 || (shape.count == 2 && shape[1] == 1) else {
                throw FormatError(path: labels, reason: "\(values.count) labels for \(count) images; give one integer per image")
            }
            labelValues = values.map { Int(clamping: $0) }
            try checkLabels(labelValues!, classes: graph.classes, source: labels, network: graph.name)
        }
        return AnalysisInput(raw: raw, count: count, labels: labelValues, names: names, rule: rule)
    }

    static func load(data folder: String, split: String, limit: Int?, indices: [Int]?, graph: Graph, weights: Safetensors.File,
                     weightsPath: String, mean: MeanChoice?) throws -> AnalysisInput {
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
        let rule = try InputRule.resolve(weights: weights, path: weightsPath, mean: mean, input: (graph.input.channels, graph.input.height, graph.input.width),
                                         stored: stored, trainingSplit: { splits.train })
        guard rule.stored == stored, stored.height >= graph.input.height, stored.width >= graph.input.width else {
            throw FormatError(path: folder, reason: "its images are \(stored.channels)×\(stored.height)×\(stored.width) but the mean image (\(rule.description)) is "
                              + "\(rule.stored.channels)×\(rule.stored.height)×\(rule.stored.width) and '\(graph.name)' takes \(graph.input.compactDescription)")
        }
        let perImage = rule.perImage
        var raw = [Float](repeating: 0, count: count * perImage)
        var labels = [Int](repeating: 0, count: count)
        try raw.withUnsafeMutableBufferPointer { out in
            for (i, index) in chosen.enumerated() {
                rule.rawInput(stored: try data.pixels(index), into: out.baseAddress! + i * perImage)
                labels[i] = data.label(index)
            }
        }
        try checkLabels(labels, classes: graph.classes, source: data.source, network: graph.name)
        let names = (data as? ImageTree).map { tree in chosen.map(tree.path) } ?? chosen.map { "\(split)[\($0)]" }
        var loaded = AnalysisInput(raw: raw, count: count, labels: labels, names: names, rule: rule)
        loaded.classNames = classNames ?? splits.classNames
        return loaded
    }

    static func checkLabels(_ labels: [Int], classes: Int, source: String, network: String) throws {
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw FormatError(path: source, reason: "image \(bad) has label \(labels[bad]), outside 0..<\(classes), the classes of '\(network)'")
        }
    }
}
