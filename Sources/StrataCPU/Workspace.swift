/// Per-thread scratch memory: im2col columns, and private accumulators for reductions over the
/// batch. Grown on demand, reused across steps and runs.
final class Workspace<T: CPUScalar>: @unchecked Sendable {
    private var columnBuffers: [UnsafeMutablePointer<T>]
    let columnCapacity: Int
    private var accumulators: [Int: (UnsafeMutablePointer<T>, Int)] = [:]
    private let lock = NSLockLike()

    init(columnsPerThread: Int, threads: Int) {
        columnCapacity = max(columnsPerThread, 1)
        columnBuffers = (0..<threads).map { _ in
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(columnsPerThread, 1))
            return p
        }
    }

    deinit {
        for p in columnBuffers { p.deallocate() }
        for (p, _) in accumulators.values { p.deallocate() }
    }

    func columns(_ thread: Int) -> UnsafeMutablePointer<T> { columnBuffers[thread] }

    /// A buffer of at least `count` elements private to `thread` (thread ≥ 1).
    func accumulator(_ thread: Int, count: Int) -> UnsafeMutablePointer<T> {
        lock.lock()
        defer { lock.unlock() }
        if let (p, capacity) = accumulators[thread], capacity >= count { return p }
        accumulators[thread]?.0.deallocate()
        let p = UnsafeMutablePointer<T>.allocate(capacity: count)
        accumulators[thread] = (p, count)
        return p
    }
}

/// A pthread mutex, without Foundation.
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func lock() { pthread_mutex_lock(&mutex) }
    func unlock() { pthread_mutex_unlock(&mutex) }
}

#if canImport(Glibc)
import Glibc
#endif
