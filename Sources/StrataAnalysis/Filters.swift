import StrataFormats
import StrataIR

/// Fig. 6 of the ZF paper: a conv layer's filters as pictures, and their RMS (the quantity ZF's
/// feature-scale clipping bounds).
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

    /// One filter as a picture, normalised to its own range: RGB when it has 3 input channels, grey
    /// with 1; otherwise the root-mean-square over its input channels at each tap (where it looks).
    public static func picture(_ weight: [Float], filter f: Int, channels: Int, height kh: Int, width kw: Int) -> Images.Image {
        let size = channels * kh * kw
        let values = weight[(f * size)..<((f + 1) * size)]
        if channels == 1 || channels == 3 {
            return Picture.display(values, channels: channels, height: kh, width: kw)
        }
        var energy = [Float](repeating: 0, count: kh * kw)
        for c in 0..<channels { for q in 0..<(kh * kw) { let v = values[values.startIndex + c * kh * kw + q]; energy[q] += v * v / Float(channels) } }
        return Picture.display(energy.map { $0.squareRoot() }[...], channels: 1, height: kh, width: kw)
    }

    /// A conv layer's filters (weight [F, C/g, kh, kw]) as one picture: each filter as `picture`
    /// draws it, enlarged to about 48 pixels, at most 16 across; each of the `groups` starts a row.
    public static func montage(_ weight: [Float], filters: Int, channels: Int, height kh: Int, width kw: Int, groups: Int) throws -> Images.Image {
        let perGroup = filters / groups
        let columns = min(perGroup, 16)
        let factor = max(1, 48 / max(kh, kw))
        var cells: [Images.Image?] = []
        for g in 0..<groups {
            for k in (g * perGroup)..<((g + 1) * perGroup) {
                cells.append(Picture.enlarge(picture(weight, filter: k, channels: channels, height: kh, width: kw), factor))
            }
            while cells.count % columns != 0 { cells.append(nil) }
        }
        return try Picture.grid(cells, columns: columns)
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
