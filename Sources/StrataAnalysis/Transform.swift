import Foundation
import StrataIR

/// How a geometric transform fills the pixels it uncovers (`--fill`), in raw pixel space.
public enum Fill: String, CaseIterable, Sendable {
    /// 0: what an image library's affine warp gives.
    case black
    /// The training mean image's pixel there: 0 in the network's input, as if the pixel were unknown.
    case mean
    /// The nearest pixel of the image (clamped coordinates).
    case edge
}

/// How a geometric transform reads between pixels (`--interpolation`).
public enum Interpolation: String, CaseIterable, Sendable {
    case bilinear
    /// The nearest source pixel: no blur, so what remains of a drop is not resampling.
    case nearest
}

/// A transformation of a raw image (C × H × W, pixels in [0, 1], before the mean is subtracted),
/// by an amount: the sweep computes T(x) − μ, as the ZF paper transforms the image itself.
///
/// Geometric ones map inversely with pixel centres: the output pixel at offset (y, x) from the
/// centre c = ((H−1)/2, (W−1)/2) (y down, x right) reads the input at
/// - `translate-y` by d: (y − d, x), so a positive d moves the content down; `translate-x` by d: (y, x − d);
/// - `scale` by s: (y/s, x/s), s > 1 zooms in;
/// - `rotate` by θ degrees: (sin θ·x + cos θ·y, cos θ·x − sin θ·y), counter-clockwise as displayed;
/// bilinear over the four neighbours (or the nearest pixel), a neighbour outside the image taking
/// the `Fill`. Integer translations and multiples of 90° on square inputs are exact copies; other
/// angles and scales are resampled, which blurs the image by itself.
/// Photometric ones: `contrast` by c ((x − m)·c + m, m the image's mean per channel), `blur` by
/// σ pixels (a Gaussian; outside the image black, or the edge pixel with `--fill edge`), `noise`
/// by w (uniform in ±w/2, drawn from (seed, image), not clipped).
public enum Transform: String, CaseIterable, Sendable {
    case translateY = "translate-y"
    case translateX = "translate-x"
    case scale
    case rotate
    case contrast
    case blur
    case noise

    /// The amount that leaves an image unchanged.
    public var identity: Double {
        switch self {
        case .scale, .contrast: 1
        default: 0
        }
    }

    /// The paper's ranges scaled to the input (translation ±27% of the height in 21 steps, scale
    /// 1…1.8 by 0.1, rotation 0…350° by 10°), and model-vs-human's photometric levels.
    public func defaultAmounts(height: Int) -> [Double] {
        switch self {
        case .translateY, .translateX:
            let reach = (0.27 * Double(height)).rounded()
            return (0...20).map { k in (-reach + 2 * reach * Double(k) / 20).rounded() }.reduce(into: []) { if $0.last != $1 { $0.append($1) } }
        case .scale: return (0...8).map { 1 + Double($0) / 10 }
        case .rotate: return (0...35).map { Double($0 * 10) }
        case .contrast: return [1, 0.5, 0.3, 0.15, 0.1, 0.05, 0.03, 0.01]
        case .blur: return [0, 1, 2, 3, 5, 7, 10].map { $0 * Double(height) / 224 }
        case .noise: return [0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9]
        }
    }

    /// Whether `amount` is allowed (a scale or contrast must be positive, σ and w not negative).
    public func accepts(_ amount: Double) -> Bool {
        guard amount.isFinite else { return false }
        switch self {
        case .scale, .contrast: return amount > 0
        case .blur, .noise: return amount >= 0
        default: return true
        }
    }

    /// Writes the transformed image into `out` (same shape). `seed`: the noise's draw. `fill`: the
    /// uncovered pixels; `meanImage` (C·H·W) is what `.mean` fills with.
    public func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height h: Int, width w: Int,
                      amount: Double, seed: UInt64 = 0, fill: Fill = .black, interpolation: Interpolation = .bilinear, meanImage: [Float]? = nil) {
        let n = channels * h * w
        // The identity amount is an exact copy whatever the arithmetic would round to.
        if amount == identity { out.update(from: x, count: n); return }
        switch self {
        case .contrast:
            let plane = h * w
            for ch in 0..<channels {
                var sum = 0.0
                for i in 0..<plane { sum += Double(x[ch * plane + i]) }
                let m = Float(sum / Double(max(plane, 1)))
                for i in 0..<plane { out[ch * plane + i] = (x[ch * plane + i] - m) * Float(amount) + m }
            }
        case .noise:
            var g = SplitMix64(seed: seed)
            for i in 0..<n { out[i] = x[i] + Float((Double(g.next() >> 11) * 0x1.0p-53 - 0.5) * amount) }
        case .blur:
            Self.blur(x, out, channels: channels, height: h, width: w, sigma: amount, clampToEdge: fill == .edge)
        case .translateY, .translateX, .scale, .rotate:
            sampler(height: h, width: w, amount: amount, fill: fill, interpolation: interpolation)!.apply(x, out, channels: channels, meanImage: fill == .mean ? meanImage : nil)
        }
    }

    /// Where each output pixel of a geometric transform reads: up to four source pixels and their
    /// weights, the same for every image and channel, so it is computed once per amount.
    public struct Sampler: Sendable {
        let count: Int
        /// Per output pixel, 4 source indices into a plane (−1: outside) and 4 weights.
        let sources: [Int32]
        let weights: [Float]
        /// Per output pixel, the weight that fell outside the image (what the fill gets).
        let outside: [Float]

        /// `meanImage` (C planes): the fill of the outside weight; nil: 0 (black, or none outside with edge clamping).
        public func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, meanImage: [Float]? = nil) {
            sources.withUnsafeBufferPointer { s in
                weights.withUnsafeBufferPointer { wt in
                    for ch in 0..<channels {
                        let plane = x + ch * count, target = out + ch * count
                        for p in 0..<count {
                            var v: Float = 0
                            for k in 0..<4 {
                                let i = s[4 * p + k]
                                if i >= 0 { v += plane[Int(i)] * wt[4 * p + k] }
                            }
                            if let meanImage, outside[p] != 0 { v += outside[p] * meanImage[ch * count + p] }
                            target[p] = v
                        }
                    }
                }
            }
        }
    }

    /// The sampler of a geometric transform at `amount` (nil for the photometric ones). With
    /// `.edge` a source outside the image reads the nearest pixel inside it.
    public func sampler(height h: Int, width w: Int, amount: Double, fill: Fill = .black, interpolation: Interpolation = .bilinear) -> Sampler? {
        // The source offset is (a·y + b·x + e, c·y + d·x + f) for the output offset (y, x).
        var (a, b, c, d, e, f) = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
        switch self {
        case .translateY: e = -amount
        case .translateX: f = -amount
        case .scale: (a, d) = (1 / amount, 1 / amount)
        case .rotate:
            let (s, co) = Self.sinCos(degrees: amount)
            (a, b, c, d) = (co, s, -s, co)
        default: return nil
        }
        return Self.affine(height: h, width: w, (a, b, c, d, e, f), fill: fill, interpolation: interpolation)
    }

    /// The sampler of the inverse map (source offset from the centre (a·y + b·x + e, c·y + d·x + f)
    /// for the output offset (y, x)): what every geometric transform, and a composition of them, reads.
    static func affine(height h: Int, width w: Int, _ m: (Double, Double, Double, Double, Double, Double), fill: Fill = .black,
                       interpolation: Interpolation = .bilinear) -> Sampler {
        let (a, b, c, d, e, f) = m
        let cy = Double(h - 1) / 2, cx = Double(w - 1) / 2
        var sources = [Int32](repeating: -1, count: 4 * h * w), weights = [Float](repeating: 0, count: 4 * h * w)
        var outside = [Float](repeating: 0, count: h * w)
        for oy in 0..<h {
            for ox in 0..<w {
                let y = Double(oy) - cy, xx = Double(ox) - cx
                var sy = a * y + b * xx + e + cy, sx = c * y + d * xx + f + cx
                guard sy.isFinite, sx.isFinite, abs(sy) < 1e9, abs(sx) < 1e9 else { outside[oy * w + ox] = 1; continue }
                if fill == .edge { sy = min(max(sy, 0), Double(h - 1)); sx = min(max(sx, 0), Double(w - 1)) }
                if interpolation == .nearest { sy = sy.rounded(.toNearestOrAwayFromZero); sx = sx.rounded(.toNearestOrAwayFromZero) }
                let y0 = sy.rounded(.down), x0 = sx.rounded(.down)
                let wy = Float(sy - y0), wx = Float(sx - x0)
                let iy = Int(y0), ix = Int(x0)
                let p = 4 * (oy * w + ox)
                for (k, (dy, dx, weight)) in [(0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx), (1, 0, wy * (1 - wx)), (1, 1, wy * wx)].enumerated() {
                    let r = iy + dy, q = ix + dx
                    // A zero weight reads nothing, so an exact copy stays exact.
                    guard weight != 0 else { continue }
                    if r >= 0 && r < h && q >= 0 && q < w {
                        sources[p + k] = Int32(r * w + q)
                        weights[p + k] = weight
                    } else {
                        outside[oy * w + ox] += weight
                    }
                }
            }
        }
        return Sampler(count: h * w, sources: sources, weights: weights, outside: outside)
    }

    /// sin and cos of an angle in degrees, exact at multiples of 90°.
    static func sinCos(degrees: Double) -> (Double, Double) {
        let r = degrees.truncatingRemainder(dividingBy: 360)
        let turn = r < 0 ? r + 360 : r
        switch turn {
        case 0: return (0, 1)
        case 90: return (1, 0)
        case 180: return (0, -1)
        case 270: return (-1, 0)
        default: return (sin(turn * .pi / 180), cos(turn * .pi / 180))
        }
    }

    /// A separable Gaussian blur of σ pixels (radius ⌈3σ⌉), 0 outside (or the edge pixel); σ = 0 copies.
    static func blur(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height h: Int, width w: Int, sigma: Double,
                     clampToEdge: Bool = false) {
        let n = channels * h * w
        guard sigma > 0 else { out.update(from: x, count: n); return }
        let radius = Int((3 * sigma).rounded(.up))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var rows = [Float](repeating: 0, count: n)
        for ch in 0..<channels {
            for y in 0..<h {
                let line = x + (ch * h + y) * w
                for xx in 0..<w {
                    var s: Float = 0
                    for k in -radius...radius {
                        let q = xx + k
                        if q >= 0 && q < w { s += line[q] * kernel[k + radius] } else if clampToEdge { s += line[min(max(q, 0), w - 1)] * kernel[k + radius] }
                    }
                    rows[(ch * h + y) * w + xx] = s
                }
            }
            for y in 0..<h {
                for xx in 0..<w {
                    var s: Float = 0
                    for k in -radius...radius {
                        let r = y + k
                        if r >= 0 && r < h { s += rows[(ch * h + r) * w + xx] * kernel[k + radius] } else if clampToEdge { s += rows[(ch * h + min(max(r, 0), h - 1)) * w + xx] * kernel[k + radius] }
                    }
                    out[(ch * h + y) * w + xx] = s
                }
            }
        }
    }
}
