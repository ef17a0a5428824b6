import Foundation

/// Table 1 of the ZF paper: do the features of different images change the same way when the same
/// part of the object is hidden? For a part and a layer, ε_i = f(image i) − f(image i with the part
/// zeroed); the score is the mean over image pairs i < j of the fraction of feature positions where
/// sign(ε_i) ≠ sign(ε_j) (sign ∈ {−1, 0, 1}), ± its standard deviation over pairs. Lower is more
/// consistent.
public enum Correspondence {
    /// (mean, std over pairs) of the sign disagreement of the difference vectors.
    public static func score(_ differences: [[Float]]) -> (mean: Double, std: Double) {
        var values: [Double] = []
        for i in 0..<differences.count {
            for j in (i + 1)..<differences.count {
                let (a, b) = (differences[i], differences[j])
                var disagree = 0
                for k in a.indices where sign(a[k]) != sign(b[k]) { disagree += 1 }
                values.append(Double(disagree) / Double(max(a.count, 1)))
            }
        }
        return meanAndStd(values)
    }

    public static func sign(_ x: Float) -> Int { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    /// Mean and (population) standard deviation; (0, 0) for none.
    public static func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
        guard !values.isEmpty else { return (0, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        return (mean, (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot())
    }

    /// A rectangle [row, column, height, width] zeroed in every channel of a C×H×W image.
    public static func zero(_ image: inout [Float], channels: Int, height: Int, width: Int, rect: [Int]) {
        let (r, c, h, w) = (rect[0], rect[1], rect[2], rect[3])
        for ch in 0..<channels {
            for y in max(0, r)..<min(height, r + h) { for x in max(0, c)..<min(width, c + w) { image[(ch * height + y) * width + x] = 0 } }
        }
    }
}
