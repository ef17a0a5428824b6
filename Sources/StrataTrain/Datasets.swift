import CZlib
import Foundation
import StrataFormats
import StrataIR

/// A labelled image set held in memory or decoded on demand: the training and held-out splits of
/// the data formats `strata train` and `strata eval` read.
public protocol Dataset: Sendable {
    var count: Int { get }
    /// Channels, height, width of the stored images (before any resizing or cropping).
    var shape: (channels: Int, height: Int, width: Int) { get }
    var classes: Int { get }
    func label(_ index: Int) -> Int
    /// The image's pixels, planar (C, H, W), values 0…1.
    func pixels(_ index: Int) throws -> [Float]
    /// Where the labels come from, for messages (a file or a folder).
    var source: String { get }
}

extension Dataset {
    /// Refuses a label outside `0..<classes`, naming the source and the image.
    public func checkLabels(classes: Int, network: String) throws {
        for i in 0..<count {
            let l = label(i)
            if l < 0 || l >= classes {
                throw FormatError(path: source, reason: "image \(i) has label \(l), outside 0..<\(classes), the classes of '\(network)'")
            }
        }
    }

    /// A hash of the image count, the image shape and every label: a resumed run checks it to
    /// refuse other data.
    public var fingerprint: String {
        var h = FNV1a()
        for v in [count, shape.channels, shape.height, shape.width] { h.add(littleEndian: v) }
        for i in 0..<count { h.add(littleEndian: label(i)) }
        return h.hex
    }
}

/// The two splits of a data folder.
public struct DataSplits: Sendable {
    public var train: any Dataset
    public var validation: (any Dataset)?
    /// What the folder held, for logs ("Fashion-MNIST IDX", "CIFAR-10 binary", ...).
    public var description: String
    /// The classes' names in label order, where the folder says them (`DataLoader.classNames`).
    public var classNames: [String]?

    public init(train: any Dataset, validation: (any Dataset)?, description: String, classNames: [String]? = nil) {
        self.train = train
        self.validation = validation
        self.description = description
        self.classNames = classNames
    }
}

/// A dataset of uint8 images in memory (IDX, CIFAR-10).
public struct ByteImages: Dataset {
    public let count: Int
    public let shape: (channels: Int, height: Int, width: Int)
    public let classes: Int
    public let source: String
    let bytes: [UInt8]
    let labels: [UInt8]

    public func label(_ index: Int) -> Int { Int(labels[index]) }

    public func pixels(_ index: Int) throws -> [Float] {
        let size = shape.channels * shape.height * shape.width
        return bytes[(index * size)..<((index + 1) * size)].map { Float($0) / 255 }
    }
}

/// Float images from `.npy` arrays, used as given (no scaling).
public struct ArrayImages: Dataset {
    public let count: Int
    public let shape: (channels: Int, height: Int, width: Int)
    public let classes: Int
    public let source: String
    let values: [Float]
    let labels: [Int]

    public init(count: Int, shape: (channels: Int, height: Int, width: Int), classes: Int, values: [Float], labels: [Int], source: String = "images.npy") {
        self.source = source
        self.count = count
        self.shape = shape
        self.classes = classes
        self.values = values
        self.labels = labels
    }

    public func label(_ index: Int) -> Int { labels[index] }

    public func pixels(_ index: Int) throws -> [Float] {
        let size = shape.channels * shape.height * shape.width
        return Array(values[(index * size)..<((index + 1) * size)])
    }
}

/// An image tree: one subfolder per class, PNG or JPEG files decoded on demand and resized so the
/// shorter side is `side`, then centre-cropped to side × side.
public struct ImageTree: Dataset {
    public let count: Int
    public let shape: (channels: Int, height: Int, width: Int)
    public let classes: Int
    public let classNames: [String]
    public let source: String
    let files: [String]
    let labels: [Int]

    public func label(_ index: Int) -> Int { labels[index] }

    public func pixels(_ index: Int) throws -> [Float] {
        let image = try Images.decode(path: files[index], channels: shape.channels, minimumSide: max(shape.height, shape.width))
        return Images.prepare(image, height: shape.height, width: shape.width)
    }

    public func path(_ index: Int) -> String { files[index] }
}

public enum DataLoader {
    /// Opens a data folder: IDX files (gzip or plain), CIFAR-10 binary batches, an image tree with
    /// `train/` and `val/`, or `images.npy` + `labels.npy` (+ `val_images.npy`, `val_labels.npy`).
    /// `channels` and `side` size an image tree's decoded images.
    /// - Parameter classNames: an image tree's classes in the order the network numbers them (from
    ///   a checkpoint); nil: the sorted subfolders of `train/`.
    public static func open(_ folder: String, channels: Int, side: Int, classNames: [String]? = nil) throws -> DataSplits {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError(path: folder, reason: "no such data folder")
        }
        func exists(_ name: String) -> String? {
            for candidate in [name, name + ".gz"] where fm.fileExists(atPath: "\(folder)/\(candidate)") { return "\(folder)/\(candidate)" }
            return nil
        }
        if let images = exists("train-images-idx3-ubyte"), let labels = exists("train-labels-idx1-ubyte") {
            let train = try idx(images: images, labels: labels)
            var validation: ByteImages?
            if let vi = exists("t10k-images-idx3-ubyte"), let vl = exists("t10k-labels-idx1-ubyte") {
                validation = try idx(images: vi, labels: vl)
            }
            let classes = max(train.classes, validation?.classes ?? 0)
            return DataSplits(train: ByteImages(count: train.count, shape: train.shape, classes: classes, source: train.source, bytes: train.bytes, labels: train.labels),
                              validation: validation.map { ByteImages(count: $0.count, shape: $0.shape, classes: classes, source: $0.source, bytes: $0.bytes, labels: $0.labels) },
                              description: "IDX (MNIST format)", classNames: try Self.classNames(folder, classes: classes, idx: true))
        }
        if fm.fileExists(atPath: "\(folder)/data_batch_1.bin") {
            let batches = (1...5).map { "\(folder)/data_batch_\($0).bin" }.filter { fm.fileExists(atPath: $0) }
            let train = try cifar(batches)
            let test = fm.fileExists(atPath: "\(folder)/test_batch.bin") ? try cifar(["\(folder)/test_batch.bin"]) : nil
            return DataSplits(train: train, validation: test, description: "CIFAR-10 binary", classNames: try Self.classNames(folder, classes: train.classes, idx: false))
        }
        if fm.fileExists(atPath: "\(folder)/images.npy") {
            let train = try arrays(images: "\(folder)/images.npy", labels: "\(folder)/labels.npy")
            var validation: ArrayImages?
            if fm.fileExists(atPath: "\(folder)/val_images.npy") {
                validation = try arrays(images: "\(folder)/val_images.npy", labels: "\(folder)/val_labels.npy")
            }
            let classes = max(train.classes, validation?.classes ?? 0)
            return DataSplits(train: ArrayImages(count: train.count, shape: train.shape, classes: classes, values: train.values, labels: train.labels, source: train.source),
                              validation: validation.map { ArrayImages(count: $0.count, shape: $0.shape, classes: classes, values: $0.values, labels: $0.labels, source: $0.source) },
                              description: ".npy arrays", classNames: try Self.classNames(folder, classes: classes, idx: false))
        }
        if fm.fileExists(atPath: "\(folder)/train") || fm.fileExists(atPath: "\(folder)/val") && classNames != nil {
            let why = classNames == nil ? "each class folder of val/ must also be in train/" : "the weights were trained on those classes"
            let train = try tree("\(folder)/train", channels: channels, side: side, classNames: classNames, allowEmpty: classNames != nil, why: why)
            let validation = fm.fileExists(atPath: "\(folder)/val")
                ? try tree("\(folder)/val", channels: channels, side: side, classNames: train.classNames, allowEmpty: true, why: why) : nil
            return DataSplits(train: train, validation: validation, description: "image tree", classNames: train.classNames)
        }
        throw FormatError(path: folder, reason: "no data found: expected IDX files (train-images-idx3-ubyte[.gz], ...), CIFAR-10 "
                          + "data_batch_N.bin, images.npy + labels.npy, or train/ and val/ folders with one subfolder per class")
    }

    /// Fashion-MNIST's classes in label order (its README), for Debian's `dataset-fashion-mnist`
    /// (IDX files name no classes).
    public static let fashionMNISTClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The classes' names of a folder of arrays: `classes.txt` (one name per line, as many as
    /// the labels' classes), else CIFAR-10's `batches.meta.txt`, else, for IDX files in a folder
    /// named `fashion-mnist` (Debian's dataset-fashion-mnist), Fashion-MNIST's names; nil when
    /// nothing says them.
    static func classNames(_ folder: String, classes: Int, idx: Bool) throws -> [String]? {
        for file in ["classes.txt", "batches.meta.txt"] {
            guard let text = try? String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8) else { continue }
            let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard names.count >= classes else {
                throw FormatError(path: "\(folder)/\(file)", reason: "names \(names.count) classes but the labels have \(classes); give one name per line for each class")
            }
            return Array(names.prefix(max(classes, 1)))
        }
        let name = (folder as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? ""
        if idx && name == "fashion-mnist" && classes == fashionMNISTClasses.count { return fashionMNISTClasses }
        return nil
    }

    // MARK: IDX

    /// Reads a file, gunzipping it when it ends in .gz.
    static func contents(_ path: String) throws -> [UInt8] {
        guard path.hasSuffix(".gz") else { return [UInt8](try FileCheck.contents(path, mapped: false)) }
        try FileCheck.regularFile(path)
        guard let file = gzopen(path, "rb") else { throw FormatError(path: path, reason: "cannot open it") }
        defer { gzclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw FormatError(path: path, reason: "it is not a valid gzip file, or it is truncated") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
            if out.count > 1 << 32 { throw FormatError(path: path, reason: "it is larger than 4 GiB") }
        }
        return out
    }

    static func idx(images: String, labels: String) throws -> ByteImages {
        try idx(imageBytes: contents(images), labelBytes: contents(labels), images: images, labels: labels)
    }

    /// An IDX image file (magic 0x803: N, H, W, then N·H·W bytes) and its label file (0x801: N, then N bytes).
    public static func idx(imageBytes i: [UInt8], labelBytes l: [UInt8], images: String, labels: String) throws -> ByteImages {
        func be32(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        guard i.count >= 16, be32(i, 0) == 0x0803 else { throw FormatError(path: images, reason: "not an IDX image file (magic 0x00000803)") }
        guard l.count >= 8, be32(l, 0) == 0x0801 else { throw FormatError(path: labels, reason: "not an IDX label file (magic 0x00000801)") }
        let n = be32(i, 4), h = be32(i, 8), w = be32(i, 12)
        guard h >= 1, w >= 1 else { throw FormatError(path: images, reason: "its header gives images of \(h)×\(w) pixels") }
        guard let size = Checked.product([n, h, w]), let end = Checked.sum(16, size), i.count >= end else {
            throw FormatError(path: images, reason: "it holds fewer than the \(n) images of \(h)×\(w) its header claims; the file is truncated or corrupt")
        }
        guard be32(l, 4) == n, l.count >= 8 + n else { throw FormatError(path: labels, reason: "it has \(be32(l, 4)) labels for \(n) images") }
        let labelBytes = Array(l[8..<(8 + n)])
        return ByteImages(count: n, shape: (1, h, w), classes: Int(labelBytes.max() ?? 0) + 1, source: labels, bytes: Array(i[16..<end]), labels: labelBytes)
    }

    // MARK: CIFAR-10

    static func cifar(_ files: [String]) throws -> ByteImages {
        try cifar(files.map { (try contents($0), $0) })
    }

    /// CIFAR-10 binary batches: records of a label byte (0–9) and 3·32·32 pixel bytes.
    public static func cifar(_ files: [([UInt8], String)]) throws -> ByteImages {
        var bytes: [UInt8] = [], labels: [UInt8] = []
        for (data, file) in files {
            guard data.count % 3073 == 0 else { throw FormatError(path: file, reason: "its size is not a whole number of 3073-byte CIFAR-10 records") }
            for r in 0..<(data.count / 3073) {
                guard data[r * 3073] < 10 else {
                    throw FormatError(path: file, reason: "record \(r) has label \(data[r * 3073]); CIFAR-10 labels are 0 to 9 (is it CIFAR-100? Strata reads CIFAR-10's format)")
                }
                labels.append(data[r * 3073])
                bytes.append(contentsOf: data[(r * 3073 + 1)..<((r + 1) * 3073)])
            }
        }
        return ByteImages(count: labels.count, shape: (3, 32, 32), classes: 10, source: files.first?.1 ?? "CIFAR-10", bytes: bytes, labels: labels)
    }

    // MARK: .npy

    static func arrays(images: String, labels: String) throws -> ArrayImages {
        let x = try NumpyArray.readFloats(path: images)
        guard x.shape.count == 4, x.shape.dropFirst().allSatisfy({ $0 >= 1 }) else {
            throw FormatError(path: images, reason: "images must be (N, C, H, W) with C, H, W ≥ 1, got \(x.shape)")
        }
        if let bad = x.firstNonFinite() {
            throw FormatError(path: images, reason: "image \(bad.image) holds \(bad.value) at position \(bad.offset); images must be finite numbers")
        }
        let (shape, y) = try NumpyArray.readLabels(path: labels)
        guard y.count == x.shape[0], shape.count == 1 else { throw FormatError(path: labels, reason: "\(y.count) labels for \(x.shape[0]) images") }
        if let bad = y.firstIndex(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
            throw FormatError(path: labels, reason: "label \(bad) is \(y[bad]); labels are class indices 0, 1, 2, ...")
        }
        return ArrayImages(count: x.shape[0], shape: (x.shape[1], x.shape[2], x.shape[3]), classes: Int(y.max() ?? 0) + 1,
                           values: x.values, labels: y.map { Int($0) }, source: labels)
    }

    // MARK: image trees

    static func tree(_ root: String, channels: Int, side: Int, classNames given: [String]?, allowEmpty: Bool, why: String = "") throws -> ImageTree {
        let fm = FileManager.default
        func subfolders() throws -> [String] {
            guard fm.fileExists(atPath: root) else { return [] }
            return try fm.contentsOfDirectory(atPath: root).filter { name in
                var isDirectory: ObjCBool = false
                return fm.fileExists(atPath: "\(root)/\(name)", isDirectory: &isDirectory) && isDirectory.boolValue && !name.hasPrefix(".")
            }.sorted()
        }
        let present = try subfolders()
        let classNames = given ?? present
        // A folder that is not one of the classes would be dropped, or shift every label after it.
        if let stray = present.first(where: { !classNames.contains($0) }) {
            throw FormatError(path: "\(root)/\(stray)", reason: "it is not one of the network's classes (\(classNames.joined(separator: ", "))); "
                              + why)
        }
        var files: [String] = [], labels: [Int] = []
        for (k, name) in classNames.enumerated() where fm.fileExists(atPath: "\(root)/\(name)") {
            for file in try Images.files(in: "\(root)/\(name)") {
                files.append(file)
                labels.append(k)
            }
        }
        guard !files.isEmpty || allowEmpty else { throw FormatError(path: root, reason: "no .png or .jpg images in its class folders") }
        return ImageTree(count: files.count, shape: (channels, side, side), classes: classNames.count, classNames: classNames, source: root,
                         files: files, labels: labels)
    }
}

/// Some images of another dataset, their labels renumbered: an experiment row's classes (in the
/// order listed, numbered from 0) and, optionally, a draw of so many images per class.
public struct SubsetDataset: Dataset {
    public let base: any Dataset
    public let indices: [Int]
    /// Old label → new label.
    public let labelMap: [Int: Int]
    public let classes: Int
    public var count: Int { indices.count }
    public var shape: (channels: Int, height: Int, width: Int) { base.shape }
    public var source: String { base.source }
    public func label(_ index: Int) -> Int { labelMap[base.label(indices[index])]! }
    public func pixels(_ index: Int) throws -> [Float] { try base.pixels(indices[index]) }

    /// Which images of a class a subset takes, from the class's images in a seeded order.
    public enum Part: Sendable {
        /// The first `perClass` (all but the holdout, without `perClass`).
        case train
        /// The `holdout` images that follow the training ones: disjoint from them, for a
        /// validation set carved from the training split.
        case holdout
    }

    /// Classes that had fewer images than asked for (class → images it has), so a caller can say so.
    public private(set) var shortfall: [Int: Int] = [:]

    /// The images of `classes` (renumbered 0..<classes.count in that order); with `perClass`, that
    /// many of each, drawn without replacement as a function of `seed`. With `holdout`, the
    /// `.train` part leaves `holdout` images of each class for the `.holdout` part (same seed):
    /// the training draw is the same as without a holdout.
    public init(_ base: any Dataset, classes: [Int], perClass: Int? = nil, seed: UInt64 = 0, holdout: Int = 0, part: Part = .train) {
        self.base = base
        self.labelMap = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        self.classes = classes.count
        var chosen: [Int] = []
        for (k, c) in classes.enumerated() {
            let pool = (0..<base.count).filter { base.label($0) == c }
            if perClass == nil && holdout == 0 {
                if part == .train { chosen += pool }   // no holdout: every image trains, none validates
                continue
            }
            // A seeded order of the class's images; its first perClass equal a draw of perClass.
            var g = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(k) &+ 0x632B_E59B_D9B4_E019)
            let order = g.sample(pool, count: pool.count)
            let wanted = (perClass ?? 0) + holdout
            if pool.count < wanted { shortfall[c] = pool.count }
            let trainCount = perClass.map { min($0, max(0, pool.count - holdout)) } ?? max(0, pool.count - holdout)
            switch part {
            case .train: chosen += order.prefix(trainCount)
            case .holdout: chosen += order.dropFirst(trainCount).prefix(holdout)
            }
        }
        self.indices = chosen.sorted()
    }
}
