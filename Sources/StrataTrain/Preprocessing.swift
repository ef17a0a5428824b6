import StrataIR
import StrataFormats
import Foundation

/// What turns a stored image into a network input: the training set's mean image subtracted, a
/// crop of the input's size (random in training, the centre otherwise), a random horizontal flip,
/// and the AlexNet paper's PCA colour noise. Every random draw comes from (seed, epoch, image),
/// so a batch is the same however many threads make it and after a resume.
public struct Preprocessing: Sendable {
    /// Stored image shape (C, H, W) and the network's input (C, h, w), h ≤ H, w ≤ W.
    public var stored: (channels: Int, height: Int, width: Int)
    public var input: (height: Int, width: Int)
    /// Mean of the training images, (C, H, W).
    public var mean: [Float]
    public var flip: Bool
    public var randomCrop: Bool
    /// σ of α in the PCA colour noise; 0 turns it off.
    public var pcaColor: Double
    /// Eigenvalues and eigenvectors (columns) of the RGB covariance of the training pixels.
    public var pcaValues: [Float]
    public var pcaVectors: [Float]

    public init(stored: (channels: Int, height: Int, width: Int), input: (height: Int, width: Int), mean: [Float], flip: Bool,
                randomCrop: Bool, pcaColor: Double, pcaValues: [Float], pcaVectors: [Float]) {
        self.stored = stored
        self.input = input
        self.mean = mean
        self.flip = flip
        self.randomCrop = randomCrop
        self.pcaColor = pcaColor
        self.pcaValues = pcaValues
        self.pcaVectors = pcaVectors
    }

    /// A crop origin: random in training, the centre otherwise.
    func origin(_ random: inout SplitMix64, training: Bool) -> (Int, Int) {
        let dy = stored.height - input.height, dx = stored.width - input.width
        if training && randomCrop { return (Int(random.next() % UInt64(dy + 1)), Int(random.next() % UInt64(dx + 1))) }
        return (dy / 2, dx / 2)
    }

    /// Writes one prepared image into `out` (C·h·w values).
    /// - Parameter view: for evaluation, one of the 10 views (0–4: centre, then the corners; 5–9: the same flipped); nil otherwise.
    public func prepare(_ pixels: [Float], into out: UnsafeMutablePointer<Float>, training: Bool, seed: UInt64, view: Int? = nil) {
        var random = SplitMix64(seed: seed)
        var (y0, x0) = origin(&random, training: training)
        var mirrored = training && flip && random.next() & 1 == 1
        if let view {
            let dy = stored.height - input.height, dx = stored.width - input.width
            (y0, x0) = [(dy / 2, dx / 2), (0, 0), (0, dx), (dy, 0), (dy, dx)][view % 5]
            mirrored = view >= 5
        }
        let (c, h, w) = (stored.channels, input.height, input.width)
        var shift = [Float](repeating: 0, count: c)
        if training && pcaColor > 0 && c == 3 && pcaValues.count == 3 {
            // Σ_i α_i·λ_i·p_i with α_i ~ N(0, σ²), one draw per image.
            let alphas = (0..<3).map { _ in Float(Preprocessing.normal(&random) * pcaColor) }
            for channel in 0..<3 {
                shift[channel] = (0..<3).reduce(0) { $0 + alphas[$1] * pcaValues[$1] * pcaVectors[channel * 3 + $1] }
            }
        }
        for channel in 0..<c {
            for y in 0..<h {
                let row = (channel * stored.height + y + y0) * stored.width + x0
                let target = out + (channel * h + y) * w
                for x in 0..<w {
                    let source = row + (mirrored ? w - 1 - x : x)
                    target[x] = pixels[source] - mean[source] + shift[channel]
                }
            }
        }
    }

    static func normal(_ random: inout SplitMix64) -> Double {
        let u1 = Double((random.next() >> 11) + 1) * 0x1.0p-53, u2 = Double(random.next() >> 11) * 0x1.0p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// The mean image and, for 3 channels, the eigen-decomposition of the pixel colour covariance,
    /// over the training images (all of them for the mean; up to `sampleImages` for the covariance).
    /// Unreadable images are left out (the training loop reports them), unless `strict`.
    public static func statistics(_ data: any Dataset, sampleImages: Int = 2000, strict: Bool = false) throws -> (mean: [Float], values: [Float], vectors: [Float]) {
        let (c, h, w) = data.shape
        var sum = [Double](repeating: 0, count: c * h * w)
        var readable = 0
        func pixels(_ i: Int) throws -> [Float]? {
            do { return try data.pixels(i) } catch { if strict { throw error }; return nil }
        }
        for i in 0..<data.count {
            guard let p = try pixels(i) else { continue }
            for j in sum.indices { sum[j] += Double(p[j]) }
            readable += 1
        }
        let mean = sum.map { Float($0 / Double(max(readable, 1))) }
        guard c == 3 else { return (mean, [], []) }
        var covariance = [Double](repeating: 0, count: 9), means = [Double](repeating: 0, count: 3), n = 0.0
        let step = max(1, data.count / sampleImages)
        for i in stride(from: 0, to: data.count, by: step) {
            guard let p = try pixels(i) else { continue }
            for q in 0..<(h * w) {
                let rgb = (0..<3).map { Double(p[$0 * h * w + q]) }
                for a in 0..<3 { means[a] += rgb[a]; for b in 0..<3 { covariance[a * 3 + b] += rgb[a] * rgb[b] } }
                n += 1
            }
        }
        guard n > 0 else { return (mean, [], []) }
        for a in 0..<3 { means[a] /= n }
        for a in 0..<3 { for b in 0..<3 { covariance[a * 3 + b] = covariance[a * 3 + b] / n - means[a] * means[b] } }
        let (values, vectors) = symmetricEigen3(covariance)
        return (mean, values.map { Float(max($0, 0)) }, vectors.map(Float.init))
    }

    /// Eigenvalues and eigenvectors (as columns of a row-major 3×3) of a symmetric 3×3 matrix, by Jacobi rotations.
    public static func symmetricEigen3(_ m: [Double]) -> (values: [Double], vectors: [Double]) {
        var a = m
        var v: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        for _ in 0..<50 {
            var off = 0.0
            for (p, q) in [(0, 1), (0, 2), (1, 2)] { off += a[p * 3 + q] * a[p * 3 + q] }
            if off < 1e-30 { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] where abs(a[p * 3 + q]) > 1e-300 {
                let theta = (a[q * 3 + q] - a[p * 3 + p]) / (2 * a[p * 3 + q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<3 {
                    let akp = a[k * 3 + p], akq = a[k * 3 + q]
                    a[k * 3 + p] = c * akp - s * akq
                    a[k * 3 + q] = s * akp + c * akq
                }
                for k in 0..<3 {
                    let apk = a[p * 3 + k], aqk = a[q * 3 + k]
                    a[p * 3 + k] = c * apk - s * aqk
                    a[q * 3 + k] = s * apk + c * aqk
                }
                for k in 0..<3 {
                    let vkp = v[k * 3 + p], vkq = v[k * 3 + q]
                    v[k * 3 + p] = c * vkp - s * vkq
                    v[k * 3 + q] = s * vkp + c * vkq
                }
            }
        }
        return ([a[0], a[4], a[8]], v)
    }
}

extension Preprocessing {
    /// The preprocessing for inference that a weights file implies, the one rule every command
    /// uses: a checkpoint stores the mean image of the images it was trained on (at their stored
    /// size, C×H×W), which is subtracted after a centre crop to the input; plain weights mean no
    /// mean subtraction.
    public static func inference(weights: Safetensors.File, path: String, input: (channels: Int, height: Int, width: Int)) throws -> Preprocessing {
        var stored = input, mean = [Float](repeating: 0, count: input.channels * input.height * input.width)
        if let m = weights.tensors["data/mean"] {
            guard m.shape.count == 3, m.shape[0] == input.channels, m.shape[1] >= input.height, m.shape[2] >= input.width,
                  m.values.allSatisfy(\.isFinite) else {
                throw FormatError(path: path, reason: "its mean image data/mean is \(m.shape.map(String.init).joined(separator: "×")); "
                                  + "the network takes \(input.channels)×\(input.height)×\(input.width) images, so the mean must be that size or larger, and finite")
            }
            stored = (m.shape[0], m.shape[1], m.shape[2])
            mean = m.values
        }
        return Preprocessing(stored: stored, input: (input.height, input.width), mean: mean, flip: false, randomCrop: false,
                             pcaColor: 0, pcaValues: [], pcaVectors: [])
    }

    /// Whether the weights carry a mean image (a checkpoint) that `inference` subtracts.
    public static func subtractsMean(_ weights: Safetensors.File) -> Bool { weights.tensors["data/mean"] != nil }

    /// A decoded image (values 0…255) as a network input: resized so its shorter side covers the
    /// stored size, centre-cropped to it and scaled to 0…1 (what an image-tree data set does), then
    /// centre-cropped to the input with the mean subtracted.
    public func prepare(image: Images.Image, into out: UnsafeMutablePointer<Float>) {
        let pixels = Images.prepare(image, height: stored.height, width: stored.width)
        prepare(pixels, into: out, training: false, seed: 0)
    }

    /// The shorter side an image must have to fill the stored size (for a JPEG's reduced-scale decode).
    public var minimumSide: Int { max(stored.height, stored.width) }
}
