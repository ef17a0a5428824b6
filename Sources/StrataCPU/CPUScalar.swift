import COpenBLAS
import CStrataSupport
#if canImport(Glibc)
import Glibc
#endif

/// The element types the CPU backend computes in: `Float` for real work, `Double` for the
/// finite-difference gradient checks. Kernels are generic over this and specialised for both.
public protocol CPUScalar: BinaryFloatingPoint, Sendable, CPUPrimitives where Self.RawSignificand: FixedWidthInteger, Element == Self {
    /// C = alpha·op(A)·op(B) + beta·C, row-major.
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self,
                     _ a: UnsafePointer<Self>, _ lda: Int, _ b: UnsafePointer<Self>, _ ldb: Int,
                     _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
}

/// Which float32 GEMM runs: Strata's own (CStrataSupport/gemm.c) where the CPU has AVX-512, else
/// OpenBLAS. `STRATA_GEMM=openblas` forces OpenBLAS (for comparisons).
public enum GEMM {
    /// Whether Strata's GEMM is in use in this process.
    public static let strataEnabled: Bool = {
        if let s = getenv("STRATA_GEMM"), String(cString: s) == "openblas" { return false }
        return strata_sgemm_supported() != 0
    }()

    /// Strata's GEMM, except for op(B) transposed with few rows in A (a fully connected layer's
    /// forward pass at a small batch): there, packing the large transposed B costs more than the
    /// multiplication, and OpenBLAS is faster.
    @inline(__always)
    static func strata(transB: Bool, m: Int) -> Bool {
        strataEnabled && !(transB && m < 64)
    }
}

extension Float: CPUScalar {
    @inline(__always)
    public static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if GEMM.strata(transB: transB, m: m),
           strata_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func sqrt(_ x: Float) -> Float { sqrtf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
}

extension Double: CPUScalar {
    @inline(__always)
    public static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                            _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                            _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inline(__always) public static func sqrt(_ x: Double) -> Double { Glibc.sqrt(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
}
