import StrataIR

/// `relu_*`, `tanh_*`, `dropout_*` and `add`: elementwise passes over whole buffers, split
/// across threads. Any of them may run in place (output == input).
enum ElementwiseKernel<T: CPUScalar> {
    static func reluForward(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ count: Int) {
        Parallel.chunks(count) { r, _ in T.relu(x + r.lowerBound, y + r.lowerBound, r.count) }
    }

    static func reluBackward(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int) {
        Parallel.chunks(count) { r, _ in T.reluBackward(dy + r.lowerBound, y + r.lowerBound, dx + r.lowerBound, r.count) }
    }

    static func tanhForward(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ count: Int) {
        Parallel.chunks(count) { r, _ in for i in r { y[i] = T.tanh(x[i]) } }
    }

    static func tanhBackward(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int) {
        Parallel.chunks(count) { r, _ in for i in r { dx[i] = dy[i] * (1 - y[i] * y[i]) } }
    }

    /// Inverted dropout. The mask depends only on (seed, element index), not on the thread count:
    /// each block of 4096 elements draws from its own stream.
    static func dropoutForward(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ mask: UnsafeMutablePointer<T>,
                               _ count: Int, rate: Double, seed: UInt64) {
        let keep = T(1 / (1 - rate))
        let block = 4096
        let blocks = (count + block - 1) / block
        Parallel.chunks(blocks) { r, _ in
            for b in r {
                var generator = SplitMix64(seed: seed ^ (UInt64(b) &* 0x9E37_79B9_7F4A_7C15))
                for i in (b * block)..<min(count, (b + 1) * block) {
                    let u = Double(generator.next() >> 11) * 0x1.0p-53
                    let m: T = u < rate ? 0 : keep
                    mask[i] = m
                    y[i] = x[i] * m
                }
            }
        }
    }

    static func dropoutBackward(_ dy: UnsafePointer<T>, _ mask: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int) {
        Parallel.chunks(count) { r, _ in T.multiply(dy + r.lowerBound, mask + r.lowerBound, dx + r.lowerBound, r.count) }
    }

    static func add(_ inputs: [UnsafePointer<T>], _ out: UnsafeMutablePointer<T>, _ count: Int) {
        Parallel.chunks(count) { r, _ in
            for i in r {
                var s: T = 0
                for input in inputs { s += input[i] }
                out[i] = s
            }
        }
    }
}

/// A small, fast, seedable generator (SplitMix64): dropout masks and weight initialisation.
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
}
