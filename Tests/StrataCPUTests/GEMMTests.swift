import COpenBLAS
import Glibc
import CStrataSupport
import StrataCPU
import StrataIR
import StrataPlan
import Testing

/// Strata's own float32 GEMM (CStrataSupport/gemm.c) against a float64 reference: every
/// transpose, edge tiles in every direction, K across several packing blocks, leading dimensions
/// wider than the matrices, alpha and beta.
/// Every instruction set this CPU runs (portable C everywhere), so a machine with AVX-512 checks
/// the AVX2 and portable paths too.
let strataPaths = GEMMPath.supported.filter { $0 != .openblas }

@Suite("GEMM (Strata's kernels, every instruction set this CPU has)")
struct GEMMTests {
    /// (m, n, k): full tiles (8×48, K = 384), one past them, and one short of them; K split in
    /// unequal blocks (1201 = 3 × 301 + 298).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (3, 5, 2), (8, 48, 384), (9, 49, 385), (7, 47, 383), (16, 96, 768),
        (17, 500, 769), (64, 1000, 20), (130, 33, 900), (2, 481, 10), (13, 35, 1201),
    ]

    struct Problem {
        var transA: Bool, transB: Bool, m: Int, n: Int, k: Int
        var lda: Int, ldb: Int, ldc: Int
        var a: [Float], b: [Float], c: [Float]

        init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, seed: UInt64) {
            (self.transA, self.transB, self.m, self.n, self.k) = (transA, transB, m, n, k)
            // Leading dimensions 3 wider than needed, so that stride mistakes show.
            lda = (transA ? m : k) + 3
            ldb = (transB ? k : n) + 3
            ldc = n + 3
            var random = SplitMix64(seed: seed)
            func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &random) } }
            a = values((transA ? k : m) * lda)
            b = values((transB ? n : k) * ldb)
            c = values(m * ldc)
        }

        func opA(_ i: Int, _ p: Int) -> Double { Double(transA ? a[p * lda + i] : a[i * lda + p]) }
        func opB(_ p: Int, _ j: Int) -> Double { Double(transB ? b[j * ldb + p] : b[p * ldb + j]) }

        /// alpha·op(A)·op(B) + beta·C in float64; the padding columns of C are left as they were.
        func reference(alpha: Float, beta: Float) -> [Double] {
            var out = c.map(Double.init)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += opA(i, p) * opB(p, j) }
                    out[i * ldc + j] = Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j]))
                }
            }
            return out
        }

        func run(alpha: Float, beta: Float, cInitial: [Float]? = nil, _ gemm: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
            var out = cInitial ?? c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { c in gemm(a.baseAddress!, b.baseAddress!, c.baseAddress!) }
                }
            }
            return out
        }
    }

    static func check(_ got: [Float], _ want: [Double], k: Int, _ what: String) {
        let tolerance = 1e-5 * Double(max(k, 1)).squareRoot() * 4
        var worst = 0.0
        for (g, w) in zip(got, want) { worst = max(worst, abs(Double(g) - w)) }
        #expect(worst <= tolerance, "\(what): largest error \(worst), tolerance \(tolerance)")
    }

    @Test("matches a float64 reference", arguments: [(false, false), (true, false), (false, true), (true, true)], strataPaths)
    func matchesReference(_ trans: (Bool, Bool), _ isa: GEMMPath) {
        for (index, (m, n, k)) in Self.shapes.enumerated() {
            let problem = Problem(transA: trans.0, transB: trans.1, m: m, n: n, k: k, seed: UInt64(index + 1))
            for (alpha, beta): (Float, Float) in [(1, 0), (1, 1), (-0.5, 0.25)] {
                let got = problem.run(alpha: alpha, beta: beta) { a, b, c in
                    let status = strata_sgemm(isa.code, trans.0 ? 1 : 0, trans.1 ? 1 : 0, m, n, k, alpha, a, problem.lda, b, problem.ldb, beta, c, problem.ldc)
                    #expect(status == 0)
                }
                Self.check(got, problem.reference(alpha: alpha, beta: beta), k: k, "\(isa) trans \(trans) m \(m) n \(n) k \(k) alpha \(alpha) beta \(beta)")
            }
        }
    }

    /// A stored matrix whose columns come in groups of `group`, each group's rows `group` floats
    /// apart and the groups `rows·group + 5` apart (the planes of NCHW images, with a gap);
    /// group 0: a plain rows × cols matrix with ld cols + 3. Gaps hold NaN, which must stay.
    struct Grouped {
        var rows: Int, cols: Int, group: Int
        var data: [Float]
        var ld: Int { group == 0 ? cols + 3 : group }
        var stride: Int { rows * group + 5 }
        func index(_ r: Int, _ c: Int) -> Int { group == 0 ? r * ld + c : r * ld + (c / group) * stride + c % group }

        init(rows: Int, cols: Int, group: Int, random: inout SplitMix64) {
            (self.rows, self.cols, self.group) = (rows, cols, group)
            data = []
            data = [Float](repeating: .nan, count: group == 0 ? rows * (cols + 3) : (cols + group - 1) / group * stride)
            for r in 0..<rows { for c in 0..<cols { data[index(r, c)] = Float.random(in: -1...1, using: &random) } }
        }
        subscript(r: Int, c: Int) -> Double { Double(data[index(r, c)]) }
        var matrix: strata_matrix {
            mutating get {
                let (ld, g, s) = (ld, group, group == 0 ? 0 : stride)
                return data.withUnsafeMutableBufferPointer { strata_matrix(data: $0.baseAddress!, ld: ld, group: g, group_stride: s) }
            }
        }
    }

    @Test("reads and writes grouped columns (several images' planes) as one matrix", arguments: strataPaths)
    func groupedColumns(_ isa: GEMMPath) {
        // 100 columns in groups of 13 or 37 (or 7 along K): group boundaries inside the 16- and
        // 48-wide panels, runs shorter and longer than a vector; B plain or grouped, C plain or
        // grouped, beta 0 or not, every transpose; A's 40 columns (or 14 rows) in groups of 9 (or
        // 11), inside the 8-column blocks A is packed by.
        let (m, n, k) = (14, 100, 40)
        var random = SplitMix64(seed: 5)
        for (transA, transB) in [(false, false), (true, false), (false, true)] {
            for (groupB, groupC, beta) in [(0, 13, 0.25), (13, 0, 0.25), (13, 13, 0.25), (7, 13, 0.25), (0, 37, 0), (13, 37, 0.25)] as [(Int, Int, Float)]
            where !(transB && groupB == 13) {
                var a = Grouped(rows: transA ? k : m, cols: transA ? m : k, group: transA ? 11 : 9, random: &random)
                // Grouped along its stored columns: n for B, k for Bᵀ (7).
                var b = Grouped(rows: transB ? n : k, cols: transB ? k : n, group: transB ? (groupB == 0 ? 0 : 7) : (groupB == 7 ? 0 : groupB), random: &random)
                var c = Grouped(rows: m, cols: n, group: groupC, random: &random)
                let before = c
                for i in 0..<m { for j in 0..<n { c.data[c.index(i, j)] = 0.5 } }
                let status = strata_sgemm_grouped(isa.code, transA ? 1 : 0, transB ? 1 : 0, m, n, k, 2, a.matrix, b.matrix, beta, c.matrix)
                #expect(status == 0)
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k { s += (transA ? a[p, i] : a[i, p]) * (transB ? b[j, p] : b[p, j]) }
                        worst = max(worst, abs(Double(c.data[c.index(i, j)]) - (2 * s + 0.5 * Double(beta))))
                    }
                }
                #expect(worst < 1e-4, "\(isa) trans \(transA),\(transB) groups B \(b.group) C \(groupC): largest error \(worst)")
                let gapsKept = zip(before.data, c.data).allSatisfy { !$0.0.isNaN || $0.1.isNaN }
                #expect(gapsKept, "\(isa) trans \(transA),\(transB) groups B \(b.group) C \(groupC): a gap between groups was written")
            }
        }
    }

    @Test("does not read C when beta is 0", arguments: strataPaths)
    func betaZeroIgnoresC(_ isa: GEMMPath) {
        let problem = Problem(transA: false, transB: false, m: 9, n: 49, k: 385, seed: 7)
        let poisoned = [Float](repeating: .nan, count: problem.c.count)
        let got = problem.run(alpha: 1, beta: 0, cInitial: poisoned) { a, b, c in
            _ = strata_sgemm(isa.code, 0, 0, 9, 49, 385, 1, a, problem.lda, b, problem.ldb, 0, c, problem.ldc)
        }
        for i in 0..<9 {
            for j in 0..<49 { #expect(got[i * problem.ldc + j].isFinite, "C[\(i)][\(j)] is \(got[i * problem.ldc + j])") }
            // The padding columns past n are never written.
            for j in 49..<problem.ldc { #expect(got[i * problem.ldc + j].isNaN) }
        }
    }

    @Test("agrees with OpenBLAS on a convolution-sized product", arguments: strataPaths)
    func agreesWithOpenBLAS(_ isa: GEMMPath) {
        let (m, n, k) = (96, 1152, 576)
        let problem = Problem(transA: false, transB: false, m: m, n: n, k: k, seed: 11)
        let ours = problem.run(alpha: 1, beta: 0) { a, b, c in
            _ = strata_sgemm(isa.code, 0, 0, m, n, k, 1, a, problem.lda, b, problem.ldb, 0, c, problem.ldc)
        }
        let theirs = problem.run(alpha: 1, beta: 0) { a, b, c in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(problem.lda), b, Int32(problem.ldb), 0, c, Int32(problem.ldc))
        }
        var worst: Float = 0
        for i in 0..<m { for j in 0..<n { worst = max(worst, abs(ours[i * problem.ldc + j] - theirs[i * problem.ldc + j])) } }
        #expect(worst < 1e-4)
    }

    @Test("is the default GEMM here unless STRATA_GEMM=openblas, for the best instruction set unless STRATA_ISA names one")
    func backendUsesIt() throws {
        let env = { (name: String) in getenv(name).map { String(cString: $0) } }
        if env("STRATA_GEMM") == "openblas" { #expect(GEMMPath.default == .openblas) }
        else if let isa = env("STRATA_ISA") { #expect(GEMMPath.default.rawValue == isa) }
        else { #expect(GEMMPath.default == GEMMPath.supported[0] && GEMMPath.default != .openblas) }
        #expect(GEMMPath.supported.suffix(2) == [.generic, .openblas])
        #expect(GEMMPath.supported.contains(.avx512) == (strata_isa_supported(Int32(STRATA_ISA_AVX512)) != 0))
        #expect(GEMMPath.avx2.family == "strata" && GEMMPath.avx2.isa == "avx2" && GEMMPath.openblas.isa == nil)
    }

    @Test("a CPU without an instruction set refuses it, having written nothing")
    func unsupportedInstructionSetsAreRefused() {
        for isa in GEMMPath.allCases where !isa.isSupported {
            var c: [Float] = [7]
            let status = c.withUnsafeMutableBufferPointer { strata_sgemm(isa.code, 0, 0, 1, 1, 1, 1, [2], 1, [3], 1, 0, $0.baseAddress!, 1) }
            #expect(status == -1 && c == [7])
        }
        var c: [Float] = [7]
        let status = c.withUnsafeMutableBufferPointer { strata_sgemm(99, 0, 0, 1, 1, 1, 1, [2], 1, [3], 1, 0, $0.baseAddress!, 1) }
        #expect(strata_isa_supported(99) == 0 && status == -1 && c == [7])
    }
}

/// `strata_sgemm_conv`: the GEMM whose B operand is a convolution input's im2col matrix, packed
/// straight from the input, against that matrix built naively in the test.
@Suite("GEMM on an implicit im2col matrix (every instruction set this CPU has)")
struct ImplicitIm2colGEMMTests {
    struct Geometry: CustomTestStringConvertible, Sendable {
        var images: Int, channels: Int, h: Int, w: Int, kh: Int, kw: Int, ph: Int, pw: Int, sh = 1, sw = 1
        var oh: Int { (h + 2 * ph - kh) / sh + 1 }
        var ow: Int { (w + 2 * pw - kw) / sw + 1 }
        var strided: Bool { sh != 1 || sw != 1 }
        var testDescription: String { "\(images)×\(channels)×\(h)×\(w), window \(kh)×\(kw), pad \(ph),\(pw), stride \(sh),\(sw)" }
    }

    static let geometries: [Geometry] = [
        Geometry(images: 3, channels: 2, h: 13, w: 13, kh: 5, kw: 5, ph: 2, pw: 2),   // the mini net's conv2, 13 wide
        Geometry(images: 2, channels: 3, h: 6, w: 6, kh: 3, kw: 3, ph: 1, pw: 1),     // 6×6 outputs: runs across images
        Geometry(images: 1, channels: 2, h: 28, w: 28, kh: 5, kw: 5, ph: 2, pw: 2),   // rows over 16 wide
        Geometry(images: 2, channels: 1, h: 9, w: 40, kh: 2, kw: 7, ph: 0, pw: 3),    // rectangular, 40 wide
        Geometry(images: 4, channels: 5, h: 4, w: 5, kh: 1, kw: 1, ph: 0, pw: 0),     // pointwise
        Geometry(images: 1, channels: 1, h: 3, w: 3, kh: 3, kw: 3, ph: 2, pw: 2),     // padding wider than the plane's half
        // Short runs in full panels: a vector assembled from up to 6 (3 wide) or 8 (2 wide) pieces.
        Geometry(images: 2, channels: 6, h: 6, w: 6, kh: 3, kw: 3, ph: 1, pw: 1),
        Geometry(images: 2, channels: 30, h: 5, w: 5, kh: 2, kw: 2, ph: 0, pw: 0),
        // Strided (forward only; the transpose declines): column phases.
        Geometry(images: 2, channels: 3, h: 23, w: 23, kh: 11, kw: 11, ph: 0, pw: 0, sh: 4, sw: 4),  // AlexNet's conv1, small
        Geometry(images: 2, channels: 3, h: 17, w: 17, kh: 7, kw: 7, ph: 1, pw: 1, sh: 2, sw: 2),     // ZFNet's conv1, small
        Geometry(images: 3, channels: 2, h: 11, w: 30, kh: 3, kw: 5, ph: 1, pw: 2, sh: 2, sw: 3),     // 34 padded columns: 3 phases of 12
    ]

    @Test("matches the stored im2col matrix", arguments: geometries, strataPaths)
    func matchesStoredIm2col(_ g: Geometry, _ isa: GEMMPath) {
        // The input sits inside a larger tensor (one more channel before and after) so that the
        // offsets and image stride are exercised; the filters use channels 1...channels.
        let allChannels = g.channels + 2, imageStride = allChannels * g.h * g.w
        var random = SplitMix64(seed: 5)
        let x = (0..<(g.images * imageStride)).map { _ in Float.random(in: -1...1, using: &random) }
        let depth = g.channels * g.kh * g.kw, positions = g.images * g.oh * g.ow
        // col[e][q], built naively.
        var col = [Double](repeating: 0, count: depth * positions)
        for c in 0..<g.channels {
            for i in 0..<g.kh {
                for j in 0..<g.kw {
                    let e = (c * g.kh + i) * g.kw + j
                    for b in 0..<g.images {
                        for oy in 0..<g.oh {
                            for ox in 0..<g.ow {
                                let iy = oy * g.sh - g.ph + i, ix = ox * g.sw - g.pw + j
                                guard iy >= 0, iy < g.h, ix >= 0, ix < g.w else { continue }
                                col[e * positions + (b * g.oh + oy) * g.ow + ox] = Double(x[b * imageStride + (c + 1) * g.h * g.w + iy * g.w + ix])
                            }
                        }
                    }
                }
            }
        }
        let m = 11
        // Forward: C (m × positions) = W (m × depth) · col.
        let weights = (0..<(m * depth)).map { _ in Float.random(in: -1...1, using: &random) }
        var forward = [Float](repeating: .nan, count: m * positions)
        // Backward filter: C (m × depth) = 0.5 · C + D (m × positions) · colᵀ.
        let d = (0..<(m * positions)).map { _ in Float.random(in: -1...1, using: &random) }
        let start = (0..<(m * depth)).map { _ in Float.random(in: -1...1, using: &random) }
        var filter = start
        x.withUnsafeBufferPointer { x in
            let input = strata_conv_input(x: x.baseAddress! + g.h * g.w, image_stride: imageStride, images: Int32(g.images),
                                          channels: Int32(g.channels), h: Int32(g.h), w: Int32(g.w), kh: Int32(g.kh), kw: Int32(g.kw),
                                          sh: Int32(g.sh), sw: Int32(g.sw), ph: Int32(g.ph), pw: Int32(g.pw), oh: Int32(g.oh), ow: Int32(g.ow))
            weights.withUnsafeBufferPointer { w in
                forward.withUnsafeMutableBufferPointer { f in
                    let status = strata_sgemm_conv(isa.code, 0, m, positions, depth, 1, strata_matrix(data: UnsafeMutablePointer(mutating: w.baseAddress!), ld: depth, group: 0, group_stride: 0),
                                                   input, 0, strata_matrix(data: f.baseAddress!, ld: positions, group: 0, group_stride: 0))
                    #expect(status == 0)
                }
            }
            d.withUnsafeBufferPointer { d in
                filter.withUnsafeMutableBufferPointer { f in
                    let status = strata_sgemm_conv(isa.code, 1, m, depth, positions, 1, strata_matrix(data: UnsafeMutablePointer(mutating: d.baseAddress!), ld: positions, group: 0, group_stride: 0),
                                                   input, 0.5, strata_matrix(data: f.baseAddress!, ld: depth, group: 0, group_stride: 0))
                    #expect(status == (g.strided ? -1 : 0))
                }
            }
        }
        var worstForward = 0.0, worstFilter = 0.0
        for r in 0..<m {
            for q in 0..<positions {
                var s = 0.0
                for e in 0..<depth { s += Double(weights[r * depth + e]) * col[e * positions + q] }
                worstForward = max(worstForward, abs(s - Double(forward[r * positions + q])))
            }
            for e in 0..<depth {
                var s = 0.5 * Double(start[r * depth + e])
                for q in 0..<positions { s += Double(d[r * positions + q]) * col[e * positions + q] }
                worstFilter = max(worstFilter, abs(s - Double(filter[r * depth + e])))
            }
        }
        #expect(worstForward < 1e-4, "\(isa) forward: largest error \(worstForward)")
        if g.strided {
            #expect(filter == start, "\(isa): the declined transpose wrote to C")
        } else {
            #expect(worstFilter < 1e-4, "\(isa) filter gradient: largest error \(worstFilter)")
        }
    }

    @Test("declines the transpose with strides other than 1 and shapes that do not fit", arguments: strataPaths)
    func declines(_ isa: GEMMPath) {
        var x = [Float](repeating: 1, count: 64), out = [Float](repeating: 7, count: 64)
        x.withUnsafeMutableBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                let plain = strata_matrix(data: x.baseAddress!, ld: 4, group: 0, group_stride: 0)
                let c = strata_matrix(data: o.baseAddress!, ld: 4, group: 0, group_stride: 0)
                var input = strata_conv_input(x: x.baseAddress!, image_stride: 16, images: 1, channels: 1, h: 4, w: 4, kh: 2, kw: 2,
                                              sh: 2, sw: 2, ph: 0, pw: 0, oh: 2, ow: 2)
                #expect(strata_sgemm_conv(isa.code, 1, 1, 4, 4, 1, plain, input, 0, c) == -1)
                input.oh = 3  // more output rows than a stride of 2 gives
                #expect(strata_sgemm_conv(isa.code, 0, 1, 6, 4, 1, plain, input, 0, c) == -1)
                input.sh = 1; input.sw = 1; input.oh = 3; input.ow = 3
                #expect(strata_sgemm_conv(isa.code, 0, 1, 8, 4, 1, plain, input, 0, c) == -1)  // n should be 9
            }
        }
        #expect(out.allSatisfy { $0 == 7 })
    }
}
