/// A mean with its 95% interval: over images, seeds or draws.
public struct Interval: Sendable, Equatable {
    public var mean: Double
    public var low: Double, high: Double

    /// The mean of `values` ± 1.96 s/√n (Student's t would be wider below ~30 images; the CSV gives n).
    public init(values: [Double]) {
        let n = Double(values.count)
        mean = values.reduce(0, +) / max(n, 1)
        let m = mean
        let sd = values.count > 1 ? (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot() : 0
        let half = 1.96 * sd / max(n, 1).squareRoot()
        (low, high) = (mean - half, mean + half)
    }

    /// A proportion of `successes` in `n`: Wilson's 95% score interval (sound at 0 and 1, unlike ± 1.96 s/√n).
    public init(successes: Int, of n: Int) {
        let z = 1.96, trials = Double(max(n, 1)), p = Double(successes) / trials
        let centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
        let half = z / (1 + z * z / trials) * (p * (1 - p) / trials + z * z / (4 * trials * trials)).squareRoot()
        mean = p
        (low, high) = (max(0, centre - half), min(1, centre + half))
    }
}
