import Foundation
import StrataFormats

/// Pictures the analyses draw: images scaled for display, heatmaps, grids. Values 0…255, planar,
/// written as PNG (`Images.encodePNG`).
public enum Picture {
    /// A network input (or a projection) scaled linearly so that `range` maps to 0…255.
    public static func display(_ values: ArraySlice<Float>, channels: Int, height: Int, width: Int, range: (Float, Float)? = nil) -> Images.Image {
        let (lo, hi) = range ?? Self.range(values)
        let scale = hi > lo ? 255 / (hi - lo) : 0
        let pixels = values.map { v -> Float in hi > lo ? max(0, min(255, (v - lo) * scale)) : 128 }
        return Images.Image(channels: channels, height: height, width: width, pixels: pixels)
    }

    /// The smallest and largest finite value.
    public static func range(_ values: some Collection<Float>) -> (Float, Float) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        return lo <= hi ? (lo, hi) : (0, 0)
    }

    /// The range to show raw pixels over: [0, 1] (no per-image stretch), widened only where values
    /// lie outside it (an .npy given with --mean none may hold any values).
    public static func rawRange(_ values: some Collection<Float>) -> (Float, Float) {
        let (lo, hi) = range(values)
        return (min(lo, 0), max(hi, 1))
    }

    /// A projection for display as in the ZF paper: centred on 0 and scaled by its largest magnitude,
    /// so 0 is mid-grey.
    public static func signed(_ values: ArraySlice<Float>, channels: Int, height: Int, width: Int) -> Images.Image {
        let m = values.reduce(Float(0)) { max($0, $1.isFinite ? abs($1) : 0) }
        return display(values, channels: channels, height: height, width: width, range: m > 0 ? (-m, m) : nil)
    }

    /// Viridis at t ∈ [0, 1] (five stops, linear between them), as RGB 0…255.
    public static func viridis(_ t: Float) -> (Float, Float, Float) {
        let stops: [(Float, Float, Float)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = max(0, min(1, t.isFinite ? t : 0)) * Float(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Float(i)
        let (a, b) = (stops[i], stops[i + 1])
        return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
    }

    /// A heatmap of `rows` × `columns` values, each cell `cell` pixels, coloured by viridis over `range`.
    public static func heatmap(_ values: ArraySlice<Float>, rows: Int, columns: Int, range: (Float, Float), cell: Int = 1) -> Images.Image {
        let (h, w) = (rows * cell, columns * cell)
        var pixels = [Float](repeating: 0, count: 3 * h * w)
        let span = range.1 > range.0 ? range.1 - range.0 : 1
        for y in 0..<h {
            for x in 0..<w {
                let v = values[values.startIndex + (y / cell) * columns + x / cell]
                let (r, g, b) = viridis((v - range.0) / span)
                pixels[y * w + x] = r
                pixels[h * w + y * w + x] = g
                pixels[2 * h * w + y * w + x] = b
            }
        }
        return Images.Image(channels: 3, height: h, width: w, pixels: pixels)
    }

    /// An image enlarged `factor` times (nearest neighbour), for small inputs.
    public static func enlarge(_ image: Images.Image, _ factor: Int) -> Images.Image {
        guard factor > 1 else { return image }
        let (h, w) = (image.height * factor, image.width * factor)
        var pixels = [Float](repeating: 0, count: image.channels * h * w)
        for c in 0..<image.channels { for y in 0..<h { for x in 0..<w {
            pixels[(c * h + y) * w + x] = image.pixels[(c * image.height + y / factor) * image.width + x / factor]
        } } }
        return Images.Image(channels: image.channels, height: h, width: w, pixels: pixels)
    }

    /// Images laid out in a grid (row-major, `columns` across), `gap` pixels of white between,
    /// in RGB; each cell as large as the largest image (smaller ones top-left).
    /// The most pixels a picture may have (a 8192×8192 image): its size is checked before anything
    /// is allocated.
    public static let maximumPixels = 8192 * 8192

    public struct TooLarge: Error, CustomStringConvertible {
        public var height: Int, width: Int
        public var description: String {
            "a picture of \(width)×\(height) pixels is larger than the \(Picture.maximumPixels / 1_000_000) million pixels a picture may have; show fewer images or amounts"
        }
    }

    public static func grid(_ images: [Images.Image?], columns: Int, gap: Int = 2) throws -> Images.Image {
        let columns = max(1, columns)
        let rows = max(1, (images.count + columns - 1) / columns)
        let ch = images.compactMap { $0?.height }.max() ?? 1, cw = images.compactMap { $0?.width }.max() ?? 1
        let (h, w) = (rows * ch + (rows + 1) * gap, columns * cw + (columns + 1) * gap)
        guard h <= maximumPixels / max(w, 1) else { throw TooLarge(height: h, width: w) }
        var pixels = [Float](repeating: 255, count: 3 * h * w)
        for (k, image) in images.enumerated() {
            guard let image else { continue }
            let top = gap + (k / columns) * (ch + gap), left = gap + (k % columns) * (cw + gap)
            for c in 0..<3 {
                let source = min(c, image.channels - 1)
                for y in 0..<image.height { for x in 0..<image.width {
                    pixels[(c * h + top + y) * w + left + x] = image.pixels[(source * image.height + y) * image.width + x]
                } }
            }
        }
        return Images.Image(channels: 3, height: h, width: w, pixels: pixels)
    }

    /// Writes a picture as PNG, atomically.
    public static func write(_ image: Images.Image, to path: String) throws {
        try AtomicFile.write(Images.encodePNG(image), to: path)
    }
}
