import COpenBLAS
import CStrataSupport
import StrataPlan
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

/// Which float32 GEMM an executor runs: Strata's own (CStrataSupport/gemm.c) for an instruction set
/// (AVX-512, AVX2 + FMA, or portable C), or OpenBLAS's `cblas_sgemm`. Float64 always uses OpenBLAS.
public enum GEMMPath: String, Sendable, CaseIterable {
    case avx512, avx2, generic, openblas

    /// `strata` or `openblas`: whose GEMM (what `bench` reports as "gemm").
    public var family: String { self == .openblas ? "openblas" : "strata" }
    /// The instruction set of Strata's GEMM (what `bench` reports as "isa"); nil for OpenBLAS.
    public var isa: String? { self == .openblas ? nil : rawValue }

    /// The instruction set as gemm.c numbers it (STRATA_ISA_*).
    public var code: Int32 {
        switch self {
        case .avx512: Int32(STRATA_ISA_AVX512)
        case .avx2: Int32(STRATA_ISA_AVX2)
        case .generic, .openblas: Int32(STRATA_ISA_GENERIC)
        }
    }

    /// The instruction set of the hand-vectorised loops besides the GEMM (max-pooling): this path's,
    /// or with OpenBLAS the best the CPU has.
    public var vectorISA: Int32 { self == .openblas ? GEMMPath.supported[0].code : code }

    /// Whether this CPU can run the path (OpenBLAS and portable C always can).
    public var isSupported: Bool { self == .openblas || strata_isa_supported(code) != 0 }

    /// The paths this CPU can run, the fastest first: every one is tested.
    public static var supported: [GEMMPath] { allCases.filter(\.isSupported) }

    /// Strata's GEMM for the best instruction set this CPU has, unless `STRATA_ISA` names another
    /// (`checkEnvironment` refuses one the CPU lacks) or `STRATA_GEMM=openblas` asks for OpenBLAS.
    public static let `default`: GEMMPath = {
        if let s = getenv("STRATA_GEMM"), String(cString: s) == "openblas" { return .openblas }
        if let forced = try? fromEnvironment() { return forced }
        return supported[0]
    }()

    /// The path `STRATA_ISA` (avx512, avx2 or generic) asks for, nil when it is not set; an error in
    /// words for another value or an instruction set this CPU does not have.
    public static func fromEnvironment() throws -> GEMMPath? {
        guard let raw = getenv("STRATA_ISA") else { return nil }
        let value = String(cString: raw)
        let has = supported.compactMap(\.isa).joined(separator: ", ")
        guard let path = GEMMPath(rawValue: value), path != .openblas else {
            throw ExecutorError("STRATA_ISA=\(value): expected avx512, avx2 or generic (this CPU runs \(has))")
        }
        guard path.isSupported else { throw ExecutorError("STRATA_ISA=\(value): this CPU does not have \(value); it runs \(has)") }
        return path
    }
}

extension Float: CPUScalar {
    @inline(__always)
    public static func gemm(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if path != .openblas,
           strata_sgemm(path.code, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always)
    public static func gemmGrouped(_ path: GEMMPath, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                   _ a: GroupedMatrix<Float>, _ b: GroupedMatrix<Float>, _ beta: Float, _ c: GroupedMatrix<Float>) -> Bool {
        guard path != .openblas else { return false }
        func matrix(_ x: GroupedMatrix<Float>) -> strata_matrix { strata_matrix(data: x.data, ld: x.ld, group: x.group, group_stride: x.groupStride) }
        return strata_sgemm_grouped(path.code, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, matrix(a), matrix(b), beta, matrix(c)) == 0
    }
    @inline(__always)
    public static func gemmConv(_ path: GEMMPath, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: GroupedMatrix<Float>,
                                _ input: ConvInput<Float>, _ beta: Float, _ c: GroupedMatrix<Float>) -> Bool {
        guard path != .openblas else { return false }
        func matrix(_ x: GroupedMatrix<Float>) -> strata_matrix { strata_matrix(data: x.data, ld: x.ld, group: x.group, group_stride: x.groupStride) }
        let i = input
        let source = strata_conv_input(x: i.x, image_stride: i.imageStride, images: Int32(i.images), channels: Int32(i.channels),
                                       h: Int32(i.h), w: Int32(i.w), kh: Int32(i.kh), kw: Int32(i.kw), sh: Int32(i.sh), sw: Int32(i.sw),
                                       ph: Int32(i.ph), pw: Int32(i.pw), oh: Int32(i.oh), ow: Int32(i.ow))
        return strata_sgemm_conv(path.code, transB ? 1 : 0, m, n, k, alpha, matrix(a), source, beta, matrix(c)) == 0
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
