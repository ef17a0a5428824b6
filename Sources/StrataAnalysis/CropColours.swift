import StrataFigures

/// A small planar picture of values (C × H × W, row by row): a projection cropped to a receptive
/// field, an input patch, a filter.
struct Crop: Sendable {
    var values: [Float]
    var channels: Int
    var height: Int
    var width: Int

    /// The channels summed at each pixel (one plane).
    var summed: Crop {
        let plane = height * width
        var out = [Float](repeating: 0, count: plane)
        for c in 0..<channels { for q in 0..<plane { out[q] += values[c * plane + q] } }
        return Crop(values: out, channels: 1, height: height, width: width)
    }

    /// The root mean square over the channels at each pixel (one plane): where a filter looks.
    var rms: Crop {
        let plane = height * width
        var out = [Float](repeating: 0, count: plane)
        for c in 0..<channels { for q in 0..<plane { let v = values[c * plane + q]; out[q] += v * v / Float(channels) } }
        return Crop(values: out.map { $0.squareRoot() }, channels: 1, height: height, width: width)
    }

    /// Raw pixels shown on `range`: grey for one channel, RGB for three, otherwise the mean of the
    /// channels in grey.
    func raw(range: (Float, Float)) -> RGBImage {
        let shown = channels == 1 || channels == 3 ? self : summed.scaled(1 / Float(channels))
        return RGBImage(planar: shown.values[...], channels: shown.channels, height: height, width: width, range: range)
    }

    func scaled(_ factor: Float) -> Crop { Crop(values: values.map { $0 * factor }, channels: channels, height: height, width: width) }
}

/// How a figure colours small pictures of values (projections, filters): the colour map, and the
/// range each picture is scaled to (its own or one shared, with the top `clipPercent` of
/// magnitudes clipped: `ColourRange.of`). The figure states both (`description`) and draws the
/// colour bar (`bar`).
struct CropColours {
    enum Kind {
        /// One channel of signed values: the diverging map, white at 0.
        case signed
        /// Three channels of signed values as RGB, 0 at mid-grey in each channel.
        case rgb
        /// One channel of magnitudes (≥ 0): viridis from 0.
        case magnitude
    }

    let kind: Kind
    let crops: [Crop]
    /// One per crop (the same one in each, when shared).
    let ranges: [ColourRange]
    let scale: HeatmapScale
    let clipPercent: Double

    init(_ crops: [Crop], kind: Kind, scale: HeatmapScale, clipPercent: Double) {
        self.kind = kind
        self.crops = crops
        self.scale = scale
        self.clipPercent = clipPercent
        func range(_ values: [Float]) -> ColourRange {
            let r = ColourRange.of(values, signed: true, clipPercent: clipPercent, note: "")
            return kind == .magnitude ? ColourRange(low: 0, high: r.high, note: "") : r
        }
        switch scale {
        case .perImage: ranges = crops.map { range($0.values) }
        case .shared: ranges = Array(repeating: range(crops.flatMap(\.values)), count: crops.count)
        }
    }

    /// Crop `k` coloured.
    func picture(_ k: Int) -> RGBImage {
        let c = crops[k], r = ranges[k]
        switch kind {
        case .signed: return RGBImage(values: c.values[...], rows: c.height, columns: c.width, map: .diverging, range: (r.low, r.high))
        case .magnitude: return RGBImage(values: c.values[...], rows: c.height, columns: c.width, map: .viridis, range: (r.low, r.high))
        case .rgb: return RGBImage(planar: c.values[...], channels: 3, height: c.height, width: c.width, range: (Float(r.low), Float(r.high)))
        }
    }

    var map: ColourMap {
        switch kind {
        case .signed: .diverging
        case .rgb: .grey
        case .magnitude: .viridis
        }
    }

    /// The colour bar's range: the shared range, or ±1 (0…1 for magnitudes) of each picture's own.
    var barRange: (Double, Double) {
        if scale == .shared, let r = ranges.first { return (r.low, r.high) }
        return kind == .magnitude ? (0, 1) : (-1, 1)
    }

    /// The colour bar's label: `quantity`, or `quantity ÷ own range` when scaled per picture, and
    /// `(each of R, G, B)` for RGB.
    func barLabel(_ quantity: String) -> String {
        let base = scale == .shared ? quantity : "\(quantity) ÷ own range"
        return kind == .rgb ? "\(base), each of R, G, B" : base
    }

    /// Draws the colour bar in `r` (its width is `ColourBar.width`).
    func drawBar(_ canvas: Canvas, in r: Rect, quantity: String) {
        ColourBar.draw(canvas, in: r, map: map, range: barRange, label: barLabel(quantity))
    }

    /// A caption sentence: the colours and the scaling of `count` pictures (`noun`: "projection").
    func description(noun: String, count: Int) -> String {
        let colours: String = switch kind {
        case .signed: "diverging colours, blue < 0 < red, white = 0"
        case .rgb: "RGB, each channel centred on mid-grey (= 0)"
        case .magnitude: "viridis from 0 (dark) to the top of the range (yellow)"
        }
        let clip = clipPercent > 0
            ? "range: |x| at percentile \(Ticks.short(100 - clipPercent)), the top \(Ticks.short(clipPercent))% clipped"
            : "range: the largest |x|, nothing clipped"
        switch scale {
        case .perImage:
            return "Colours: \(colours); scale per \(noun): each scaled to its own range (\(clip))."
        case .shared:
            let r = ranges.first.map { kind == .magnitude ? "0…\(Ticks.short($0.high))" : "±\(Ticks.short($0.high))" } ?? "none"
            return "Colours: \(colours); scale shared: one range, \(r), for all \(count) \(noun)s (\(clip))."
        }
    }
}
