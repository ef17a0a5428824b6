import Dispatch
import Foundation

/// One batch ready for the network.
public struct Batch: Sendable {
    public var images: [Float]
    public var labels: [Int32]
    /// Images that could not be read and were replaced by the next readable one.
    public var skipped: [String]
}

/// Makes batches on a background thread, up to `depth` ahead of the training loop, so the
/// compute waits for data as little as possible. `next()` returns them in order and measures how
/// long the caller waited.
public final class BatchQueue: @unchecked Sendable {
    private let lock = NSCondition()
    private var ready: [Int: Result<Batch, Error>] = [:]
    private var nextToTake: Int
    private var stopped = false
    private let depth: Int
    private let total: Int
    public private(set) var waitSeconds = 0.0

    /// - Parameter make: builds batch k (k from `first` to `total − 1`); runs on the background thread.
    public init(first: Int, total: Int, depth: Int = 3, make: @escaping @Sendable (Int) throws -> Batch) {
        self.nextToTake = first
        self.total = total
        self.depth = depth
        let thread = Thread { [weak self] in
            var k = first
            while k < total {
                guard let self else { return }
                self.lock.lock()
                while !self.stopped && self.ready.count >= self.depth { self.lock.wait() }
                let stop = self.stopped
                self.lock.unlock()
                if stop { return }
                let result = Result { try make(k) }
                self.lock.lock()
                self.ready[k] = result
                self.lock.broadcast()
                self.lock.unlock()
                k += 1
            }
        }
        thread.start()
    }

    /// The next batch in order (blocking until it is made).
    public func next() throws -> Batch {
        let start = DispatchTime.now().uptimeNanoseconds
        lock.lock()
        while ready[nextToTake] == nil { lock.wait() }
        let result = ready.removeValue(forKey: nextToTake)!
        nextToTake += 1
        lock.broadcast()
        lock.unlock()
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return try result.get()
    }

    public func stop() {
        lock.lock()
        stopped = true
        lock.broadcast()
        lock.unlock()
    }

    deinit { stop() }
}
