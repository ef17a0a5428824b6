import Foundation
import StrataFormats

/// What the user said to subtract from raw pixels when the weights carry no mean image:
/// `--mean FILE` (an .npy of C×H×W or C values, or a checkpoint's .safetensors), `--mean train`
/// (the mean image of the data's training split) or `--mean none` (the pixels as they are).
public enum MeanChoice: Sendable, Equatable {
    case file(String)
    case train
    case none

    public init(argument: String) {
        switch argument {
        case "none": self = .none
        case "train": self = .train
        default: self = .file(argument)
        }
    }

    /// The `--mean` option's help.
    public static let optionHelp = "What to subtract from the raw pixels where the weights carry no mean image: FILE (an .npy of C×H×W or C values, "
        + "or a checkpoint), train (the mean image of --data's training split) or none. With a checkpoint, it replaces the stored mean."

    /// One line for `--help`: the rule every command that reads images follows.
    public static let help = "Input: raw pixels in [0, 1] (--data, PNG/JPEG, or .npy) → the command's own change of the image, if any "
        + "→ the mean image stored with the weights subtracted (--mean FILE|train|none where the weights carry none)."
}

/// The one input rule of every command that reads images (eval, features, sweep, deconv, occlude,
/// correspond, evolve, probe): raw pixels in [0, 1] at the stored size (C×H×W) are centre-cropped
/// to the input (C×h×w); a command's own change of the image (a sweep's transform, an occluder)
/// acts on that raw crop; then the mean image is subtracted. The mean comes from the weights (a
/// checkpoint's `data/mean`), or, for weights that carry none, from `--mean`; `description` says
/// which, for `run.json` and messages.
public struct InputRule: Sendable {
    public var preprocessing: Preprocessing
    /// What is subtracted, in words: "the mean image data/mean of W (1×28×28)", "nothing (--mean none)".
    public var description: String
    /// The mean cropped to the input, C·h·w values (zeros for none).
    public let inputMean: [Float]

    public init(preprocessing: Preprocessing, description: String) {
        self.preprocessing = preprocessing
        self.description = description
        inputMean = Self.centreCrop(preprocessing.mean, stored: preprocessing.stored, input: preprocessing.input)
    }

    public var stored: (channels: Int, height: Int, width: Int) { preprocessing.stored }
    public var input: (channels: Int, height: Int, width: Int) { (stored.channels, preprocessing.input.height, preprocessing.input.width) }
    public var perImage: Int { input.channels * input.height * input.width }

    /// Nothing subtracted, for images of `perImage` values that a caller prepared itself.
    public static func identity(perImage: Int) -> InputRule {
        InputRule(preprocessing: Preprocessing(stored: (1, 1, perImage), input: (1, perImage), mean: [Float](repeating: 0, count: perImage), flip: false,
                                               randomCrop: false, pcaColor: 0, pcaValues: [], pcaVectors: []), description: "nothing (the arrays as given)")
    }

    /// Resolves the rule for `weights` (read from `path`) and a network taking `input`.
    /// - Parameters:
    ///   - mean: the user's `--mean`; required when the weights carry no mean image, and when given
    ///     with a checkpoint it replaces the stored mean (`overrides` says so).
    ///   - stored: the data's stored image size, when the images come from a data folder.
    ///   - trainingSplit: the data's training split, for `--mean train`.
    public static func resolve(weights: Safetensors.File, path: String, mean: MeanChoice?, input: (channels: Int, height: Int, width: Int),
                               stored: (channels: Int, height: Int, width: Int)? = nil,
                               trainingSplit: (() throws -> any Dataset)? = nil) throws -> InputRule {
        let checkpoint = try Preprocessing.inference(weights: weights, path: path, input: input)
        let fallback = stored ?? input
        func rule(_ mean: [Float], _ size: (channels: Int, height: Int, width: Int), _ text: String) -> InputRule {
            InputRule(preprocessing: Preprocessing(stored: size, input: (input.height, input.width), mean: mean, flip: false, randomCrop: false,
                                                   pcaColor: 0, pcaValues: [], pcaVectors: []), description: text)
        }
        guard let mean else {
            guard Preprocessing.subtractsMean(weights) else {
                throw FormatError(path: path, reason: "it carries no mean image (no data/mean tensor: plain weights, not a Strata checkpoint), so say what "
                                  + "to subtract from the raw pixels: --mean FILE (.npy of C×H×W or C values, or a checkpoint), --mean train (the mean "
                                  + "image of the data's training split) or --mean none (the pixels as they are)")
            }
            let s = checkpoint.stored
            return InputRule(preprocessing: checkpoint, description: "the mean image data/mean of \(path) (\(s.channels)×\(s.height)×\(s.width))")
        }
        let note = Preprocessing.subtractsMean(weights) ? ", instead of the mean image stored in \(path)" : ""
        switch mean {
        case .none:
            return rule([Float](repeating: 0, count: fallback.channels * fallback.height * fallback.width), fallback, "nothing (--mean none\(note))")
        case .train:
            guard let trainingSplit else { throw FormatError(path: path, reason: "--mean train takes the mean of --data's training split; give --data, or --mean FILE|none") }
            let split = try trainingSplit()
            guard split.count > 0 else { throw FormatError(path: split.source, reason: "--mean train needs training images, and this split has none") }
            let values = try Preprocessing.statistics(split, sampleImages: 1).mean
            let s = split.shape
            return rule(values, s, "the mean image of the training split \(split.source) (\(split.count) images, \(s.channels)×\(s.height)×\(s.width); --mean train\(note))")
        case .file(let file):
            var values: [Float], shape: [Int]
            if file.lowercased().hasSuffix(".safetensors") {
                let other = try Safetensors.read(path: file)
                guard let m = other.tensors["data/mean"] else { throw FormatError(path: file, reason: "it has no mean image (data/mean) to use as --mean") }
                (values, shape) = (m.values, m.shape)
            } else {
                let array = try NumpyArray.readFloats(path: file)
                (values, shape) = (array.values, array.shape)
            }
            guard values.allSatisfy(\.isFinite) else { throw FormatError(path: file, reason: "the mean image holds a value that is not a finite number") }
            let c = input.channels
            if shape == [c] {   // one value per channel, over the stored size
                let plane = fallback.height * fallback.width
                return rule((0..<c).flatMap { [Float](repeating: values[$0], count: plane) }, fallback,
                            "the per-channel mean \(values.map { "\($0)" }.joined(separator: ", ")) of \(file) (--mean\(note))")
            }
            guard shape.count == 3, shape[0] == c, shape[1] >= input.height, shape[2] >= input.width else {
                throw FormatError(path: file, reason: "the mean is (\(shape.map(String.init).joined(separator: ", "))); --mean takes \(c) values (one per channel) or a "
                                  + "\(c)×H×W image with H ≥ \(input.height) and W ≥ \(input.width), the size the images are stored at")
            }
            return rule(values, (shape[0], shape[1], shape[2]), "the mean image of \(file) (\(shape[0])×\(shape[1])×\(shape[2]); --mean\(note))")
        }
    }

    /// The centre C×h×w of a C×H×W image.
    static func centreCrop(_ values: [Float], stored: (channels: Int, height: Int, width: Int), input: (height: Int, width: Int)) -> [Float] {
        if stored.height == input.height && stored.width == input.width { return values }
        var out = [Float](repeating: 0, count: stored.channels * input.height * input.width)
        out.withUnsafeMutableBufferPointer { crop(values, stored: stored, input: input, into: $0.baseAddress!) }
        return out
    }

    static func crop(_ values: [Float], stored: (channels: Int, height: Int, width: Int), input: (height: Int, width: Int), into out: UnsafeMutablePointer<Float>) {
        let y0 = (stored.height - input.height) / 2, x0 = (stored.width - input.width) / 2
        for c in 0..<stored.channels {
            for y in 0..<input.height {
                let row = (c * stored.height + y + y0) * stored.width + x0
                for x in 0..<input.width { out[(c * input.height + y) * input.width + x] = values[row + x] }
            }
        }
    }

    /// Raw pixels at the stored size (C×H×W, [0, 1]) as the raw input: their centre C×h×w.
    public func rawInput(stored pixels: [Float], into out: UnsafeMutablePointer<Float>) {
        Self.crop(pixels, stored: stored, input: preprocessing.input, into: out)
    }

    /// `count` raw inputs (C×h×w each) as the network sees them: the mean subtracted.
    public func prepare(_ raw: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int = 1) {
        let n = perImage
        inputMean.withUnsafeBufferPointer { m in
            for i in 0..<count {
                for k in 0..<n { out[i * n + k] = raw[i * n + k] - m[k] }
            }
        }
    }

    /// `raw` as the network sees it.
    public func prepared(_ raw: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: raw.count)
        raw.withUnsafeBufferPointer { r in out.withUnsafeMutableBufferPointer { prepare(r.baseAddress!, into: $0.baseAddress!, count: raw.count / perImage) } }
        return out
    }
}
