import StrataIR
import StrataPlan
#if canImport(Glibc)
import Glibc
#endif

/// How a CPU executor runs: its threads, its float32 GEMM and its element type. Each executor has
/// its own, so one process (a test suite, say) can run every path the machine supports; the
/// environment (`STRATA_THREADS`, `STRATA_GEMM=openblas`) only sets the defaults.
public struct CPUSettings: Sendable, Equatable {
    public enum Precision: String, Sendable { case float32, float64 }

    public var threads: Int
    public var gemm: GEMMPath
    /// Float32 for work; float64 for gradient checks (always through OpenBLAS).
    public var precision: Precision

    public init(threads: Int = Parallel.defaultThreads, gemm: GEMMPath = .default, precision: Precision = .float32) {
        self.threads = max(1, min(threads, 256))
        self.gemm = gemm
        self.precision = precision
    }
}

/// What a CPU kernel needs besides its buffers and constants: how many threads split the work and
/// which GEMM runs.
struct CPUContext {
    let threads: Int
    let gemm: GEMMPath
}

/// The CPU backend: plans get its traits (64-byte alignment for AVX-512 loads, one im2col scratch
/// area per thread, sized as `ConvTiling` tiles each conv), and its executors run them.
public struct CPUBackend: Backend {
    public var settings: CPUSettings

    public init(_ settings: CPUSettings = CPUSettings()) { self.settings = settings }

    public var traits: BackendTraits {
        BackendTraits(name: "cpu", alignment: 64, threads: settings.threads) { step in
            guard case .conv(let g) = step.constants,
                  [.conv_forward, .conv_backward_data, .conv_backward_filter].contains(step.kernel) else { return 0 }
            return ConvTiling.scratchElements(depth: g.channels / g.groups * g.kernel.h * g.kernel.w, filtersPerGroup: g.filters / g.groups,
                                              positions: g.outHeight * g.outWidth)
        }
    }

    /// An executor for a plan made with these traits, or an error when the plan needs more memory
    /// than the machine has (checked before allocating).
    public func makeExecutor(_ plan: ExecutionPlan) throws -> any Executor {
        try CPUExecutor(plan: plan, settings: settings)
    }

    /// Why `plan` cannot run on this machine (it needs more memory than the machine has), or nil.
    public func memoryProblem(_ plan: ExecutionPlan) -> String? {
        let scale = settings.precision == .float32 ? 1 : 2
        let needed = plan.peakBytes * scale
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return nil }
        let available = Int(pages) * Int(pageSize)
        guard needed > available else { return nil }
        return "'\(plan.networkName)' at batch \(plan.batch) needs \(ExecutionPlan.size(needed)) but this machine has "
            + "\(ExecutionPlan.size(available)) of memory; use a smaller batch"
    }
}

/// How the CPU backend tiles a convolution's GEMMs, shared with the planner through the backend's
/// traits so that the plan's scratch figure is the one the backend allocates.
///
/// A small output (AlexNet's 13×13 = 169 positions, the mini nets' 6×6 = 36) makes a GEMM too
/// narrow to run fast, so several images' columns go side by side into one GEMM of about
/// `targetColumns` columns.
public enum ConvTiling {
    public static let targetColumns = 1024

    /// Images per GEMM for `positions` = OH·OW output positions.
    public static func imagesPerGEMM(positions: Int) -> Int {
        max(1, targetColumns / max(positions, 1))
    }

    /// Scratch per thread: the columns (depth × images·positions) and a GEMM output for one group.
    public static func scratchElements(depth: Int, filtersPerGroup: Int, positions: Int) -> Int {
        let images = imagesPerGEMM(positions: positions)
        return (depth + (images > 1 ? filtersPerGroup : 0)) * images * positions
    }
}
