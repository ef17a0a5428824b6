import StrataFormats
import StrataIR

/// Fig. 6 of the ZF paper: a conv layer's filters' RMS (the quantity ZF's feature-scale clipping
/// bounds); `FiltersFigure` draws the filters.
public enum Filters {
    /// Weight [F, C/g, kh, kw] → per filter its RMS over C/g·kh·kw values.
    public static func rms(_ weight: [Float], filters: Int) -> [Double] {
        let size = weight.count / max(filters, 1)
        return (0..<filters).map { f in
            var s = 0.0
            for v in weight[(f * size)..<((f + 1) * size)] { s += Double(v) * Double(v) }
            return (s / Double(max(size, 1))).squareRoot()
        }
    }

    /// LAYER-rms.csv: per filter its group (of `groups`), its RMS and, given the spec's clip
    /// `radius`, whether it is at the radius (within 1%: 1, else 0).
    public static func rmsCSV(_ rms: [Double], groups: Int, radius: Double?) -> String {
        let perGroup = rms.count / groups
        var text = "filter,group,rms,at_clip_radius\n"
        for (k, r) in rms.enumerated() {
            text += "\(k),\(k / perGroup),\(csv(r)),\(radius.map { r >= 0.99 * $0 ? "1" : "0" } ?? "")\n"
        }
        return text
    }
}
