import Foundation
import StrataFormats
import Testing

/// `strata features` and `strata grad` on a small network that uses every op, against values this
/// test computes itself: a naive float64 forward pass written from the formulas in docs/spec.md,
/// and gradients by finite differences of that forward pass. Nothing here shares code with the
/// backend.
@Suite("Every op against an independent reference")
struct ReferenceNetworkTests {
    static let spec = """
        name: every-op
        input: {channels: 2, height: 7, width: 7}
        layers:
          - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1, groups: 2}
          - {name: r1, op: relu}
          - {name: n1, op: lrn, size: 3, alpha: 0.5, beta: 0.75, k: 2}
          - {name: p1, op: maxpool, kernel: 3, stride: 2, pad: 1, ceil: true}
          - {name: a1, op: avgpool, kernel: 2, stride: 2, ceil: true, from: r1}
          - {name: j, op: concat, from: [p1, a1]}
          - {name: c2, op: conv, filters: 3, kernel: 2, stride: 2}
          - {name: t, op: tanh}
          - {name: d, op: dropout, rate: 0.5}
          - {name: f1, op: fc, units: 6}
          - {name: r2, op: relu}
          - {name: f2, op: fc, units: 3}
          - {name: prob, op: softmax}
        training:
          init: {std: 0.4, bias: 0.05}

        """

    static let layerNames = ["c1", "r1", "n1", "p1", "a1", "j", "c2", "t", "d", "f1", "r2", "f2", "prob"]

    struct Setup {
        var directory: String
        var weights: [String: Safetensors.Tensor]
        var images: [Double]
        var labels: [Int]
        let batch = 5
    }

    static func setup() throws -> Setup {
        let directory = NSTemporaryDirectory() + "strata-reference-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try spec.write(toFile: directory + "/net.yaml", atomically: true, encoding: .utf8)
        let initRun = strata("init", directory + "/net.yaml", "--out", directory + "/w.safetensors", "--seed", "3")
        #expect(initRun.status == 0, "\(initRun.errors)")
        let weights = try Safetensors.read(path: directory + "/w.safetensors").tensors
        var generator = SplitMix64(seed: 11)
        let images = (0..<(5 * 2 * 7 * 7)).map { _ in Double(Float(Double(generator.next() >> 11) * 0x1.0p-53 * 2 - 1)) }
        try NumpyArray.write(.init(shape: [5, 2, 7, 7], values: images.map(Float.init)), path: directory + "/x.npy")
        let labels = [2, 0, 1, 1, 2]
        try writeInt64Npy(labels, path: directory + "/y.npy")
        return Setup(directory: directory, weights: weights, images: images, labels: labels)
    }

    @Test func featuresMatchTheReference() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let run = strata("features", s.directory + "/net.yaml", "--weights", s.directory + "/w.safetensors", "--mean", "none", "--input", s.directory + "/x.npy",
                         "--layers", Self.layerNames.joined(separator: ","), "--out", s.directory + "/features", "--batch", "4")
        #expect(run.status == 0, "\(run.errors)")
        let params = s.weights.mapValues { $0.values.map(Double.init) }
        for n in 0..<s.batch {
            let image = Array(s.images[(n * 98)..<((n + 1) * 98)])
            let reference = Reference.forward(image, params)
            for name in Self.layerNames {
                let array = try NumpyArray.readFloats(path: s.directory + "/features/\(name).npy")
                let expected = reference[name]!
                #expect(array.shape == [s.batch] + expected.shape, "\(name) shape")
                let got = Array(array.values[(n * expected.values.count)..<((n + 1) * expected.values.count)])
                let worst = zip(got, expected.values).map { abs(Double($0) - $1) }.max() ?? 0
                // float32 against float64 through a few layers: 1e-5 of the values' scale.
                let scale = max(1, expected.values.map(abs).max() ?? 0)
                #expect(worst < 1e-5 * scale, "\(name), image \(n): largest difference \(worst)")
            }
        }
    }

    /// With Strata's own GEMM (where the CPU has AVX-512) in this process, and with OpenBLAS
    /// forced (`STRATA_GEMM=openblas`) in a child process: each path is checked on its own.
    @Test(arguments: ["strata", "openblas"])
    func gradientsMatchFiniteDifferencesOfTheReference(gemm: String) throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let arguments = ["grad", s.directory + "/net.yaml", "--weights", s.directory + "/w.safetensors", "--input", s.directory + "/x.npy",
                         "--labels", s.directory + "/y.npy", "--out", s.directory + "/g.safetensors", "--batch", "4"]
        let run = gemm == "openblas" ? try strataProcess(arguments, environment: ["STRATA_GEMM": "openblas"]) : strata(arguments)
        #expect(run.status == 0, "\(run.errors)")
        let gradients = try Safetensors.read(path: s.directory + "/g.safetensors")
        var params = s.weights.mapValues { $0.values.map(Double.init) }
        func loss() -> Double {
            (0..<s.batch).map { n in
                let out = Reference.forward(Array(s.images[(n * 98)..<((n + 1) * 98)]), params)
                return -log(out["prob"]!.values[s.labels[n]])
            }.reduce(0, +) / Double(s.batch)
        }
        let reportedLoss = Double(gradients.metadata["loss"] ?? "") ?? .nan
        #expect(abs(reportedLoss - loss()) < 1e-5)
        let h = 1e-6
        for name in params.keys.sorted() {
            let analytic = try #require(gradients.tensors[name]).values
            #expect(analytic.count == params[name]!.count)
            for i in params[name]!.indices {
                let original = params[name]![i]
                params[name]![i] = original + h
                let plus = loss()
                params[name]![i] = original - h
                let minus = loss()
                params[name]![i] = original
                let numeric = (plus - minus) / (2 * h)
                // float32 gradients against float64 finite differences.
                #expect(abs(Double(analytic[i]) - numeric) < 1e-5 + 1e-3 * abs(numeric), "\(name)[\(i)]: \(analytic[i]) vs \(numeric)")
            }
        }
    }
}

/// A plain float64 forward pass, one image at a time, straight from the formulas.
enum Reference {
    struct Tensor {
        var shape: [Int]
        var values: [Double]
        subscript(c: Int, y: Int, x: Int) -> Double { values[(c * shape[1] + y) * shape[2] + x] }
    }

    static func forward(_ image: [Double], _ p: [String: [Double]]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let x = Tensor(shape: [2, 7, 7], values: image)
        out["c1"] = conv(x, p["c1.weight"]!, p["c1.bias"]!, filters: 4, k: 3, stride: 1, pad: 1, groups: 2)
        out["r1"] = map(out["c1"]!) { max($0, 0) }
        out["n1"] = lrn(out["r1"]!, size: 3, alpha: 0.5, beta: 0.75, k: 2)
        out["p1"] = pool(out["n1"]!, k: 3, stride: 2, pad: 1, ceil: true, max: true)
        out["a1"] = pool(out["r1"]!, k: 2, stride: 2, pad: 0, ceil: true, max: false)
        out["j"] = Tensor(shape: [8, 4, 4], values: out["p1"]!.values + out["a1"]!.values)
        out["c2"] = conv(out["j"]!, p["c2.weight"]!, p["c2.bias"]!, filters: 3, k: 2, stride: 2, pad: 0, groups: 1)
        out["t"] = map(out["c2"]!) { Foundation.tanh($0) }
        out["d"] = out["t"]!                       // dropout is the identity in inference (and off in grad)
        out["f1"] = fc(out["d"]!, p["f1.weight"]!, p["f1.bias"]!)
        out["r2"] = map(out["f1"]!) { max($0, 0) }
        out["f2"] = fc(out["r2"]!, p["f2.weight"]!, p["f2.bias"]!)
        let z = out["f2"]!.values, m = z.max()!
        let e = z.map { exp($0 - m) }, s = e.reduce(0, +)
        out["prob"] = Tensor(shape: [3], values: e.map { $0 / s })
        return out
    }

    static func map(_ t: Tensor, _ f: (Double) -> Double) -> Tensor { Tensor(shape: t.shape, values: t.values.map(f)) }

    static func conv(_ x: Tensor, _ w: [Double], _ b: [Double], filters: Int, k: Int, stride: Int, pad: Int, groups: Int) -> Tensor {
        let (c, h, wd) = (x.shape[0], x.shape[1], x.shape[2])
        let oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1
        let cg = c / groups, fg = filters / groups
        var y = [Double](repeating: 0, count: filters * oh * ow)
        for f in 0..<filters {
            let g = f / fg
            for oy in 0..<oh { for ox in 0..<ow {
                var s = b[f]
                for ci in 0..<cg { for i in 0..<k { for j in 0..<k {
                    let iy = oy * stride - pad + i, ix = ox * stride - pad + j
                    if iy >= 0 && iy < h && ix >= 0 && ix < wd { s += w[((f * cg + ci) * k + i) * k + j] * x[g * cg + ci, iy, ix] }
                } } }
                y[(f * oh + oy) * ow + ox] = s
            } }
        }
        return Tensor(shape: [filters, oh, ow], values: y)
    }

    static func lrn(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        var y = x.values
        for ch in 0..<c { for yy in 0..<h { for xx in 0..<w {
            var s = 0.0
            for j in max(0, ch - size / 2)...min(c - 1, ch + size / 2) { s += x[j, yy, xx] * x[j, yy, xx] }
            y[(ch * h + yy) * w + xx] = x[ch, yy, xx] / Foundation.pow(k + alpha * s, beta)
        } } }
        return Tensor(shape: x.shape, values: y)
    }

    static func pool(_ x: Tensor, k: Int, stride: Int, pad: Int, ceil: Bool, max isMax: Bool) -> Tensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        func size(_ n: Int) -> Int {
            let span = n + 2 * pad - k
            var out = (ceil ? (span + stride - 1) / stride : span / stride) + 1
            if ceil && (out - 1) * stride >= n + pad { out -= 1 }
            return out
        }
        let oh = size(h), ow = size(w)
        var y = [Double](repeating: 0, count: c * oh * ow)
        for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
            let ys = oy * stride - pad, xs = ox * stride - pad
            var best = -Double.infinity, sum = 0.0
            for iy in ys..<(ys + k) { for ix in xs..<(xs + k) where iy >= 0 && iy < h && ix >= 0 && ix < w {
                best = Swift.max(best, x[ch, iy, ix]); sum += x[ch, iy, ix]
            } }
            let area = (Swift.min(ys + k, h + pad) - ys) * (Swift.min(xs + k, w + pad) - xs)
            y[(ch * oh + oy) * ow + ox] = isMax ? best : sum / Double(area)
        } } }
        return Tensor(shape: [c, oh, ow], values: y)
    }

    static func fc(_ x: Tensor, _ w: [Double], _ b: [Double]) -> Tensor {
        let units = b.count, f = x.values.count
        return Tensor(shape: [units], values: (0..<units).map { u in b[u] + (0..<f).reduce(0) { $0 + w[u * f + $1] * x.values[$1] } })
    }
}

/// A little-endian int64 .npy file, written by hand (as NumPy would write `np.array(labels)`).
func writeInt64Npy(_ values: [Int], path: String) throws {
    var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (\(values.count),), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0])
    data.append(contentsOf: Array(header.utf8))
    for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { data.append(contentsOf: $0) } }
    try data.write(to: URL(fileURLWithPath: path))
}
