/// A small, fast, seedable generator (SplitMix64): dropout masks (every backend draws
/// the same ones), weight initialisation, data order.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` of `items` drawn without replacement (a partial Fisher–Yates shuffle), in draw order;
    /// all of them when there are fewer.
    public mutating func sample<T>(_ items: [T], count: Int) -> [T] {
        var pool = items
        let take = min(count, pool.count)
        for k in 0..<take { pool.swapAt(k, k + Int(next() % UInt64(pool.count - k))) }
        return Array(pool.prefix(take))
    }
}
