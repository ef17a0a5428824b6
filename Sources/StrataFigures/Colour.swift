/// A colour, each channel 0…1.
public struct Colour: Sendable, Equatable {
    public var r: Double, g: Double, b: Double, a: Double

    public init(_ r: Double, _ g: Double, _ b: Double, alpha: Double = 1) {
        self.r = r
        self.g = g
        self.b = b
        self.a = alpha
    }

    /// From 0…255 bytes.
    public init(bytes r: Int, _ g: Int, _ b: Int) { self.init(Double(r) / 255, Double(g) / 255, Double(b) / 255) }

    public func withAlpha(_ alpha: Double) -> Colour { Colour(r, g, b, alpha: alpha) }

    /// The colour as 0…255 bytes.
    public var byte: (r: UInt8, g: UInt8, b: UInt8) {
        func q(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }
        return (q(r), q(g), q(b))
    }

    public static let black = Colour(0, 0, 0)
    public static let white = Colour(1, 1, 1)
    public static let grey = Colour(0.5, 0.5, 0.5)
    public static let lightGrey = Colour(0.85, 0.85, 0.85)
    public static let darkGrey = Colour(0.3, 0.3, 0.3)
    /// The occluder and marks drawn over pictures.
    public static let highlight = Colour(bytes: 255, 64, 32)

    /// Matplotlib's `tab10`: ten distinct colours for series and classes.
    public static let categorical: [Colour] = [
        Colour(bytes: 31, 119, 180), Colour(bytes: 255, 127, 14), Colour(bytes: 44, 160, 44), Colour(bytes: 214, 39, 40),
        Colour(bytes: 148, 103, 189), Colour(bytes: 140, 86, 75), Colour(bytes: 227, 119, 194), Colour(bytes: 127, 127, 127),
        Colour(bytes: 188, 189, 34), Colour(bytes: 23, 190, 207),
    ]

    /// The colour of series or class `k`: `categorical` for the first ten, then evenly spaced hues.
    public static func series(_ k: Int) -> Colour {
        if k < categorical.count { return categorical[k] }
        let hue = (Double(k - categorical.count) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
        return hsv(hue, 0.65, 0.85)
    }

    static func hsv(_ h: Double, _ s: Double, _ v: Double) -> Colour {
        let i = Int(h * 6) % 6, f = h * 6 - Double(Int(h * 6))
        let (p, q, t) = (v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s))
        switch i {
        case 0: return Colour(v, t, p)
        case 1: return Colour(q, v, p)
        case 2: return Colour(p, v, t)
        case 3: return Colour(p, q, v)
        case 4: return Colour(t, p, v)
        default: return Colour(v, p, q)
        }
    }
}

/// How values become colours in a heat map.
public enum ColourMap: String, Sendable, CaseIterable {
    /// Perceptually uniform, dark blue (low) to yellow (high): for magnitudes.
    case viridis
    /// Blue (negative) through white (0) to red (positive), for signed values on a range centred on 0.
    case diverging
    /// Black to white.
    case grey

    /// The colour at t ∈ [0, 1] (clipped).
    public func colour(_ t: Double) -> Colour {
        let t = t.isFinite ? max(0, min(1, t)) : 0
        let stops: [(Int, Int, Int)]
        switch self {
        case .viridis:
            // Matplotlib's viridis at 0, 1/8, …, 1.
            stops = [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141), (39, 173, 129), (92, 200, 99),
                     (170, 220, 50), (253, 231, 37)]
        case .diverging:
            // ColorBrewer's RdBu, reversed: blue, white at the centre, red.
            stops = [(5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (247, 247, 247), (244, 165, 130), (214, 96, 77),
                     (178, 24, 43), (103, 0, 31)]
        case .grey:
            stops = [(0, 0, 0), (255, 255, 255)]
        }
        let x = t * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        func mix(_ u: Int, _ v: Int) -> Double { (Double(u) + (Double(v) - Double(u)) * f) / 255 }
        return Colour(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// The range a heat map's colours span, and how it was chosen: written on the figure.
public struct ColourRange: Sendable, Equatable {
    public var low: Double
    public var high: Double
    /// E.g. `per image, 99th percentile of |x|` or `shared over 3 images`.
    public var note: String

    public init(low: Double, high: Double, note: String) {
        self.low = low
        self.high = high
        self.note = note
    }

    /// Values' range with the top `clipPercent` of magnitudes clipped (Captum's outlier
    /// percentile): for `signed`, symmetric about 0 at that percentile of |x|; otherwise from
    /// the smallest value to that percentile of the values. Non-finite values are ignored.
    public static func of(_ values: some Collection<Float>, signed: Bool, clipPercent: Double, note: String) -> ColourRange {
        let finite = values.filter(\.isFinite).map(Double.init)
        guard !finite.isEmpty else { return ColourRange(low: signed ? -1 : 0, high: 1, note: note) }
        let keep = max(0, min(100, 100 - clipPercent)) / 100
        if signed {
            let magnitudes = finite.map(abs).sorted()
            let m = percentile(magnitudes, keep)
            return ColourRange(low: -(m > 0 ? m : 1), high: m > 0 ? m : 1, note: note)
        }
        let sorted = finite.sorted()
        let lo = sorted[0], hi = percentile(sorted, keep)
        return ColourRange(low: lo, high: hi > lo ? hi : lo + 1, note: note)
    }

    /// The value at fraction q of sorted values (nearest rank).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }
}
