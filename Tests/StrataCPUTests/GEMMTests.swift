import COpenBLAS
import Glibc
import CStrataSupport
import StrataCPU
import Testing

/// Strata's own float32 GEMM (CStrataSupport/gemm.c) against a float64 reference: every
/// transpose, edge tiles in every direction, K across several packing blocks, leading dimensions
/// wider than the matrices, alpha and beta.
@Suite("GEMM (Strata's AVX-512 kernel)", .enabled(if: strata_sgemm_supported() != 0, "needs a CPU with AVX-512"))
struct GEMMTests {
    /// (m, n, k): full tiles (8×48, K = 384), one past them, and one short of them.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (3, 5, 2), (8, 48, 384), (9, 49, 385), (7, 47, 383), (16, 96, 768),
        (17, 500, 769), (64, 1000, 20), (130, 33, 900), (2, 481, 10),
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

    @Test("matches a float64 reference", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesReference(_ trans: (Bool, Bool)) {
        for (index, (m, n, k)) in Self.shapes.enumerated() {
            let problem = Problem(transA: trans.0, transB: trans.1, m: m, n: n, k: k, seed: UInt64(index + 1))
            for (alpha, beta): (Float, Float) in [(1, 0), (1, 1), (-0.5, 0.25)] {
                let got = problem.run(alpha: alpha, beta: beta) { a, b, c in
                    let status = strata_sgemm(trans.0 ? 1 : 0, trans.1 ? 1 : 0, m, n, k, alpha, a, problem.lda, b, problem.ldb, beta, c, problem.ldc)
                    #expect(status == 0)
                }
                Self.check(got, problem.reference(alpha: alpha, beta: beta), k: k, "trans \(trans) m \(m) n \(n) k \(k) alpha \(alpha) beta \(beta)")
            }
        }
    }

    @Test("does not read C when beta is 0")
    func betaZeroIgnoresC() {
        let problem = Problem(transA: false, transB: false, m: 9, n: 49, k: 385, seed: 7)
        let poisoned = [Float](repeating: .nan, count: problem.c.count)
        let got = problem.run(alpha: 1, beta: 0, cInitial: poisoned) { a, b, c in
            _ = strata_sgemm(0, 0, 9, 49, 385, 1, a, problem.lda, b, problem.ldb, 0, c, problem.ldc)
        }
        for i in 0..<9 {
            for j in 0..<49 { #expect(got[i * problem.ldc + j].isFinite, "C[\(i)][\(j)] is \(got[i * problem.ldc + j])") }
            // The padding columns past n are never written.
            for j in 49..<problem.ldc { #expect(got[i * problem.ldc + j].isNaN) }
        }
    }

    @Test("agrees with OpenBLAS on a convolution-sized product")
    func agreesWithOpenBLAS() {
        let (m, n, k) = (96, 1152, 576)
        let problem = Problem(transA: false, transB: false, m: m, n: n, k: k, seed: 11)
        let ours = problem.run(alpha: 1, beta: 0) { a, b, c in
            _ = strata_sgemm(0, 0, m, n, k, 1, a, problem.lda, b, problem.ldb, 0, c, problem.ldc)
        }
        let theirs = problem.run(alpha: 1, beta: 0) { a, b, c in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(problem.lda), b, Int32(problem.ldb), 0, c, Int32(problem.ldc))
        }
        var worst: Float = 0
        for i in 0..<m { for j in 0..<n { worst = max(worst, abs(ours[i * problem.ldc + j] - theirs[i * problem.ldc + j])) } }
        #expect(worst < 1e-4)
    }

    @Test("is the GEMM the CPU backend uses here")
    func backendUsesIt() {
        #expect(GEMM.strataEnabled == (getenv("STRATA_GEMM").map { String(cString: $0) } != "openblas"))
    }
}
