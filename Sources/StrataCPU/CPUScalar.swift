import COpenBLAS
import CStrataSupport
#if canImport(Glibc)
import Glibc
#endif

/// The element types the CPU backend computes in: `Float` for real work, `Double` for the
/// finite-difference gradient checks. Kernels are generic over this and specialised for both.
public protocol CPUScalar: BinaryFloatingPoint, Sendable, CPUPrimitives where Self.RawSignificand: FixedWidthInteger, Element == Self {
    /// C = alpha·op(A)·op(B) + beta·C, row-major.
    static func gemm(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self,
                     _ a: UnsafePointer<Self>, _ lda: Int, _ b: UnsafePointer<Self>, _ ldb: Int,
                     _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
    /// The same on matrices whose columns come in groups stored apart (see `GroupedMatrix`);
    /// returns false, having done nothing, where this type or CPU has no such GEMM.
    static func gemmGrouped(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self,
                            _ a: GroupedMatrix<Self>, _ b: GroupedMatrix<Self>, _ beta: Self, _ c: GroupedMatrix<Self>) -> Bool
    /// C = alpha·A·col + beta·C (transB false) or alpha·A·colᵀ + beta·C (transB true), where col is
    /// `input`'s im2col matrix, packed straight from the input and never stored; returns false,
    /// having done nothing, where this type, CPU or convolution (stride 1 only) has no such GEMM.
    static func gemmConv(_ path: GEMMPath, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self, _ a: GroupedMatrix<Self>,
                         _ input: ConvInput<Self>, _ beta: Self, _ c: GroupedMatrix<Self>) -> Bool
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
}

/// A row-major matrix whose columns may come in groups stored apart: element (r, c) is at
/// `data[r·ld + (c / group)·groupStride + c % group]`. The outputs of several images of one conv
/// layer form one (filters × images·positions) matrix this way, read and written in place in NCHW.
public struct GroupedMatrix<T> {
    public var data: UnsafeMutablePointer<T>
    public var ld: Int, group: Int, groupStride: Int

    /// A plain matrix (one group).
    public init(_ data: UnsafeMutablePointer<T>, ld: Int) { (self.data, self.ld, group, groupStride) = (data, ld, 0, 0) }
    public init(_ data: UnsafePointer<T>, ld: Int) { self.init(UnsafeMutablePointer(mutating: data), ld: ld) }
    public init(_ data: UnsafeMutablePointer<T>, ld: Int, group: Int, groupStride: Int) {
        (self.data, self.ld, self.group, self.groupStride) = (data, ld, group, groupStride)
    }
}

/// A convolution's input read as its im2col matrix (see `strata_conv_input`): `x` at the first
/// channel of the group in the first image.
public struct ConvInput<T> {
    public var x: UnsafePointer<T>
    public var imageStride: Int
    public var images: Int, channels: Int, h: Int, w: Int
    public var kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int, oh: Int, ow: Int
}

/// Which float32 GEMM an executor runs: Strata's own (CStrataSupport/gemm.c, where the CPU has
/// AVX-512) or OpenBLAS's `cblas_sgemm`. Float64 always uses OpenBLAS.
public enum GEMMPath: String, Sendable, CaseIterable {
    case strata, openblas

    /// Whether this CPU can run the path (OpenBLAS always can).
    public var isSupported: Bool { self == .openblas || strata_sgemm_supported() != 0 }

    /// The paths this CPU can run, the fastest first.
    public static var supported: [GEMMPath] { allCases.filter(\.isSupported) }

    /// Strata's where the CPU has it, unless `STRATA_GEMM=openblas` asks for OpenBLAS.
    public static let `default`: GEMMPath = {
        if let s = getenv("STRATA_GEMM"), String(cString: s) == "openblas" { return .openblas }
        return GEMMPath.strata.isSupported ? .strata : .openblas
    }()
}

extension Float: CPUScalar {
    @inline(__always)
    public static func gemm(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if path == .strata,
           strata_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always)
    public static func gemmGrouped(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                   _ a: GroupedMatrix<Float>, _ b: GroupedMatrix<Float>, _ beta: Float, _ c: GroupedMatrix<Float>) -> Bool {
        guard path == .strata else { return false }
        func matrix(_ x: GroupedMatrix<Float>) -> strata_matrix { strata_matrix(data: x.data, ld: x.ld, group: x.group, group_stride: x.groupStride) }
        return strata_sgemm_grouped(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, matrix(a), matrix(b), beta, matrix(c)) == 0
    }
    @inline(__always)
    public static func gemmConv(_ path: GEMMPath, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: GroupedMatrix<Float>,
                                _ input: ConvInput<Float>, _ beta: Float, _ c: GroupedMatrix<Float>) -> Bool {
        guard path == .strata else { return false }
        func matrix(_ x: GroupedMatrix<Float>) -> strata_matrix { strata_matrix(data: x.data, ld: x.ld, group: x.group, group_stride: x.groupStride) }
        let i = input
        let source = strata_conv_input(x: i.x, image_stride: i.imageStride, images: Int32(i.images), channels: Int32(i.channels),
                                       h: Int32(i.h), w: Int32(i.w), kh: Int32(i.kh), kw: Int32(i.kw), sh: Int32(i.sh), sw: Int32(i.sw),
                                       ph: Int32(i.ph), pw: Int32(i.pw), oh: Int32(i.oh), ow: Int32(i.ow))
        return strata_sgemm_conv(transB ? 1 : 0, m, n, k, alpha, matrix(a), source, beta, matrix(c)) == 0
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func sqrt(_ x: Float) -> Float { sqrtf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
}

extension Double: CPUScalar {
    @inline(__always)
    public static func gemm(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                            _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                            _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always)
    public static func gemmGrouped(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                                   _ a: GroupedMatrix<Double>, _ b: GroupedMatrix<Double>, _ beta: Double, _ c: GroupedMatrix<Double>) -> Bool {
        false
    }
    @inline(__always)
    public static func gemmConv(_ path: GEMMPath, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double, _ a: GroupedMatrix<Double>,
                                _ input: ConvInput<Double>, _ beta: Double, _ c: GroupedMatrix<Double>) -> Bool {
        false
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inline(__always) public static func sqrt(_ x: Double) -> Double { Glibc.sqrt(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
}
