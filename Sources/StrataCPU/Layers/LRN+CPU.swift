import StrataIR
import StrataPlan

/// `lrn_forward` / `lrn_backward`: the paper's formula, fused. Forward is one pass over the
/// channels with a running window sum of squares (add the plane entering the window, subtract the
/// one leaving); backward is one more pass of the same kind. Images split across threads.
///
/// Shapes: x, y, scale (N, C, H, W); scale = k + alpha·Σ_window x².
struct LRNKernel<T: CPUScalar> {
    let lrn: LRNConstants
    let threads: Int
    var c: Int { lrn.channels }
    var hw: Int { lrn.planeSize }

    var parameters: LRNParameters { LRNParameters(size: lrn.size, alpha: lrn.alpha, beta: lrn.beta, k: lrn.k) }

    func forward(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, scale: UnsafeMutablePointer<T>?, batch: Int) {
        let p = parameters
        Parallel.chunks(batch, threads: threads) { images, _ in
            let work = UnsafeMutablePointer<T>.allocate(capacity: hw)
            defer { work.deallocate() }
            for n in images {
                let o = n * c * hw
                T.lrnForward(x + o, channels: c, planeSize: hw, p, y + o, scale.map { $0 + o }, work: work)
            }
        }
    }

    /// dx[i] = dy[i]·s[i]^−β − 2αβ·x[i]·Σ_{j: i ∈ window(j)} dy[j]·y[j]/s[j]; the window is symmetric,
    /// so that sum is the same running window over t[j] = dy[j]·y[j]/s[j].
    func backward(dy: UnsafePointer<T>, x: UnsafePointer<T>, y: UnsafePointer<T>, scale: UnsafePointer<T>,
                  dx: UnsafeMutablePointer<T>, batch: Int) {
        let p = parameters
        Parallel.chunks(batch, threads: threads) { images, _ in
            let work = UnsafeMutablePointer<T>.allocate(capacity: (c + 1) * hw)
            defer { work.deallocate() }
            for n in images {
                let o = n * c * hw
                T.lrnBackward(dy + o, x + o, y + o, scale + o, channels: c, planeSize: hw, p, dx + o, work: work)
            }
        }
    }
}
