import Dispatch
import COpenBLAS
import CStrataSupport
#if canImport(Glibc)
import Glibc
#endif

/// The CPU backend's threads. Work is split into one contiguous chunk per thread; OpenBLAS itself
/// runs single-threaded inside each chunk, so its threads and ours never compete. The thread count
/// is an executor setting (`CPUSettings.threads`).
public enum Parallel {
    /// `STRATA_THREADS`, else every core: the default of `CPUSettings.threads`.
    public static let defaultThreads: Int = {
        if let s = getenv("STRATA_THREADS"), let n = Int(String(cString: s)), n >= 1 { return min(n, 256) }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    /// Makes OpenBLAS single-threaded (once): parallelism comes from `Parallel.for`.
    static let blasConfigured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Runs `body(range)` over `count` items split into at most `threads` contiguous ranges.
    @inline(__always)
    public static func chunks(_ count: Int, threads: Int, _ body: (Range<Int>, Int) -> Void) {
        let parts = max(1, min(threads, count))
        if parts == 1 {
            strata_flush_denormals()
            body(0..<count, 0)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            strata_flush_denormals()
            let start = count * p / parts, end = count * (p + 1) / parts
            body(start..<end, p)
        }
    }
}
