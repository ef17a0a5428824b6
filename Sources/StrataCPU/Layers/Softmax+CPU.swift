import StrataIR
import StrataPlan

/// `softmax_forward`, `softmax_backward`, and the loss: `softmax_cross_entropy` (the mean over
/// the batch of log Σ exp(z) − z[label], computed from the logits so it never takes log 0) and
/// `softmax_cross_entropy_backward` ((softmax − one-hot) / N). Rows of F values, one per image.
enum SoftmaxKernel<T: CPUScalar> {
    static func forward(_ z: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, rows: Int, width: Int, threads: Int) {
        Parallel.chunks(rows, threads: threads) { r, _ in
            for n in r {
                let zi = z + n * width, yi = y + n * width
                var m = -T.infinity
                for j in 0..<width { m = max(m, zi[j]) }
                var s: T = 0
                for j in 0..<width { let e = T.exp(zi[j] - m); yi[j] = e; s += e }
                let inv = 1 / s
                for j in 0..<width { yi[j] *= inv }
            }
        }
    }

    static func backward(_ dy: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, rows: Int, width: Int, threads: Int) {
        Parallel.chunks(rows, threads: threads) { r, _ in
            for n in r {
                let o = n * width
                var dot: T = 0
                for j in 0..<width { dot += dy[o + j] * y[o + j] }
                for j in 0..<width { dx[o + j] = y[o + j] * (dy[o + j] - dot) }
            }
        }
    }

    /// Labels must be in 0..<width (the caller checks).
    static func crossEntropy(_ z: UnsafePointer<T>, _ labels: UnsafePointer<Int32>, rows: Int, width: Int) -> T {
        var total: Double = 0
        for n in 0..<rows {
            let zi = z + n * width
            var m = -T.infinity
            for j in 0..<width { m = max(m, zi[j]) }
            var s: T = 0
            for j in 0..<width { s += T.exp(zi[j] - m) }
            total += Double(T.log(s) + m - zi[Int(labels[n])])
        }
        return T(total / Double(rows))
    }

    static func crossEntropyBackward(_ p: UnsafePointer<T>, _ labels: UnsafePointer<Int32>, _ dz: UnsafeMutablePointer<T>, rows: Int, width: Int) {
        let inv = 1 / T(rows)
        for n in 0..<rows {
            for j in 0..<width { dz[n * width + j] = p[n * width + j] * inv }
            dz[n * width + Int(labels[n])] -= inv
        }
    }
}
