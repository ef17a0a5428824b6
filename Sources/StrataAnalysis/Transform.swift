import Foundation
import StrataIR

/// A transformation of a network input (C × H × W, after preprocessing), by an amount.
///
/// Geometric ones map inversely with pixel centres: the output pixel at offset (y, x) from the
/// centre c = ((H−1)/2, (W−1)/2) (y down, x right) reads the input at
/// - `translate-y` by d: (y − d, x), so a positive d moves the content down; `translate-x` by d: (y, x − d);
/// - `scale` by s: (y/s, x/s), s > 1 zooms in;
/// - `rotate` by θ degrees: (sin θ·x + cos θ·y, cos θ·x − sin θ·y), counter-clockwise as displayed;
/// bilinear over the four neighbours, a neighbour outside the image counting as 0 (the mean).
/// Integer translations and multiples of 90° on square inputs are exact copies.
/// Photometric ones: `contrast` by c (x·c), `blur` by σ pixels (a Gaussian, 0 outside),
/// `noise` by w (uniform in ±w/2, drawn from (seed, image)).
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

    /// Writes the transformed image into `out` (same shape). `seed`: the noise's draw.
    public func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height h: Int, width w: Int,
                      amount: Double, seed: UInt64 = 0) {
        let n = channels * h * w
        switch self {
        case .contrast:
            for i in 0..<n { out[i] = x[i] * Float(amount) }
        case .noise:
            var g = SplitMix64(seed: seed)
            for i in 0..<n { out[i] = x[i] + Float((Double(g.next() >> 11) * 0x1.0p-53 - 0.5) * amount) }
        case .blur:
            Self.blur(x, out, channels: channels, height: h, width: w, sigma: amount)
        case .translateY, .translateX, .scale, .rotate:
            sampler(height: h, width: w, amount: amount)!.apply(x, out, channels: channels)
        }
    }

    /// Where each output pixel of a geometric transform reads: up to four source pixels and their
    /// bilinear weights, the same for every image and channel, so it is computed once per amount.
    public struct Sampler: Sendable {
        let count: Int
        /// Per output pixel, 4 source indices into a plane (−1: outside, counts 0) and 4 weights.
        let sources: [Int32]
        let weights: [Float]

        public func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int) {
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
                            target[p] = v
                        }
                    }
                }
            }
        }
    }

    /// The sampler of a geometric transform at `amount` (nil for the photometric ones).
    public func sampler(height h: Int, width w: Int, amount: Double) -> Sampler? {
        let cy = Double(h - 1) / 2, cx = Double(w - 1) / 2
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
        var sources = [Int32](repeating: -1, count: 4 * h * w), weights = [Float](repeating: 0, count: 4 * h * w)
        for oy in 0..<h {
            for ox in 0..<w {
                let y = Double(oy) - cy, xx = Double(ox) - cx
                let sy = a * y + b * xx + e + cy, sx = c * y + d * xx + f + cx
                guard sy.isFinite, sx.isFinite, abs(sy) < 1e9, abs(sx) < 1e9 else { continue }
                let y0 = sy.rounded(.down), x0 = sx.rounded(.down)
                let wy = Float(sy - y0), wx = Float(sx - x0)
                let iy = Int(y0), ix = Int(x0)
                let p = 4 * (oy * w + ox)
                for (k, (dy, dx, weight)) in [(0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx), (1, 0, wy * (1 - wx)), (1, 1, wy * wx)].enumerated() {
                    let r = iy + dy, q = ix + dx
                    // A zero weight reads nothing, so an exact copy stays exact.
                    if weight != 0 && r >= 0 && r < h && q >= 0 && q < w {
                        sources[p + k] = Int32(r * w + q)
                        weights[p + k] = weight
                    }
                }
            }
        }
        return Sampler(count: h * w, sources: sources, weights: weights)
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

    /// A separable Gaussian blur of σ pixels (radius ⌈3σ⌉), 0 outside the image; σ = 0 copies.
    static func blur(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height h: Int, width w: Int, sigma: Double) {
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
                    for k in -radius...radius where xx + k >= 0 && xx + k < w { s += line[xx + k] * kernel[k + radius] }
                    rows[(ch * h + y) * w + xx] = s
                }
            }
            for y in 0..<h {
                for xx in 0..<w {
                    var s: Float = 0
                    for k in -radius...radius where y + k >= 0 && y + k < h { s += rows[(ch * h + y + k) * w + xx] * kernel[k + radius] }
                    out[(ch * h + y) * w + xx] = s
                }
            }
        }
    }
}
