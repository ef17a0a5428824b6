import StrataFigures

/// What a transform's amount measures, for the axes and column titles of the sweep figures.
extension Transform {
    /// What the transform does, as a noun for a title: `rotation`, `vertical translation`.
    public var noun: String {
        switch self {
        case .translateY: "vertical translation"
        case .translateX: "horizontal translation"
        case .scale: "scaling"
        case .rotate: "rotation"
        case .contrast: "contrast"
        case .blur: "blur"
        case .noise: "noise"
        }
    }

    /// The amount's unit as written after a number: `px` (translations, blur σ), `×` (scale and
    /// contrast factors), `°` (rotation), empty for noise (a width in pixel values, [0, 1] units).
    public var unit: String {
        switch self {
        case .translateY, .translateX, .blur: "px"
        case .scale, .contrast: "×"
        case .rotate: "°"
        case .noise: ""
        }
    }

    /// The x-axis title of a sweep plot: what the amount is, its unit and its sign convention.
    public var axisLabel: String {
        switch self {
        case .translateY: "vertical shift d (pixels; d > 0 moves the content down)"
        case .translateX: "horizontal shift d (pixels; d > 0 moves the content right)"
        case .scale: "scale factor s (s > 1 zooms in)"
        case .rotate: "rotation θ (degrees, counter-clockwise)"
        case .contrast: "contrast factor c (deviation from the image's mean × c)"
        case .blur: "Gaussian blur σ (pixels)"
        case .noise: "uniform noise width w (pixel values, ±w/2)"
        }
    }

    /// An amount with its unit, as a column title: `-3 px`, `1.2×`, `30°`, `σ 2 px`, `w 0.1`.
    public func label(_ amount: Double) -> String {
        let number = Ticks.short(amount)
        switch self {
        case .translateY, .translateX: return "\(number) px"
        case .scale, .contrast: return "\(number)×"
        case .rotate: return "\(number)°"
        case .blur: return "σ \(number) px"
        case .noise: return "w \(number)"
        }
    }
}
