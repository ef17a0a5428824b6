import StrataIR
import StrataPlan

/// `relu_*` (with `relu_backward_guided`), `tanh_*`, `dropout_*` and `add`: elementwise passes over whole buffers, split
/// across threads. Any of them may run in place (output == input).
enum ElementwiseKernel<T: CPUScalar> {
    static func reluForward(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in T.relu(x + r.lowerBound, y + r.lowerBound, r.count) }
    }

    static func reluBackward(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in T.reluBackward(dy + r.lowerBound, y + r.lowerBound, dx + r.lowerBound, r.count) }
    }

    /// Guided backpropagation: dx = dy where y > 0 and dy > 0, else 0.
    static func reluBackwardGuided(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in for i in r { dx[i] = y[i] <= 0 || dy[i] <= 0 ? 0 : dy[i] } }
    }

    static func tanhForward(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in for i in r { y[i] = T.tanh(x[i]) } }
    }

    static func tanhBackward(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in for i in r { dx[i] = dy[i] * (1 - y[i] * y[i]) } }
    }

    /// Inverted dropout. The mask depends only on (seed, element index in the whole batch), not on
    /// the thread count: each block of 4096 elements of the whole batch draws from its own stream.
    /// `offset` is the index in the whole batch of element 0 (a data-parallel rank's share starts
    /// inside a block: its stream is skipped ahead to the element).
    static func dropoutForward(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ mask: UnsafeMutablePointer<T>,
                               _ count: Int, rate: Double, seed: UInt64, offset: Int = 0, threads: Int) {
        guard count > 0 else { return }
        let keep = T(1 / (1 - rate))
        let block = 4096, gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
        let first = offset / block, blocks = (offset + count - 1) / block - first + 1
        Parallel.chunks(blocks, threads: threads) { r, _ in
            for k in r {
                let b = first + k
                let lo = max(offset, b * block), hi = min(offset + count, (b + 1) * block)
                var generator = SplitMix64(seed: seed ^ (UInt64(b) &* gamma))
                generator.state &+= UInt64(lo - b * block) &* gamma   // skip to element lo
                for g in lo..<hi {
                    let i = g - offset
                    let u = Double(generator.next() >> 11) * 0x1.0p-53
                    let m: T = u < rate ? 0 : keep
                    mask[i] = m
                    y[i] = x[i] * m
                }
            }
        }
    }

    static func dropoutBackward(_ dy: UnsafePointer<T>, _ mask: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in T.multiply(dy + r.lowerBound, mask + r.lowerBound, dx + r.lowerBound, r.count) }
    }

    static func add(_ inputs: [UnsafePointer<T>], _ out: UnsafeMutablePointer<T>, _ count: Int, threads: Int) {
        Parallel.chunks(count, threads: threads) { r, _ in
            for i in r {
                var s: T = 0
                for input in inputs { s += input[i] }
                out[i] = s
            }
        }
    }
}
