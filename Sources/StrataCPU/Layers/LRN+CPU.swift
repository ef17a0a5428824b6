import StrataIR

/// `lrn_forward` / `lrn_backward`: the paper's formula, fused. Forward is one pass over the
/// channels with a running window sum of squares (add the plane entering the window, subtract the
/// one leaving); backward is one more pass of the same kind. Images split across threads.
///
/// Shapes: x, y, scale (N, C, H, W); scale = k + alpha·Σ_window x².
struct LRNKernel<T: CPUScalar> {
    let lrn: LRN
    let c: Int, hw: Int

    /// s^−β, with a fast path for the paper's β = 0.75: s^−0.75 = r·√r where r = 1/√s.
    @inline(__always)
    func negativePower(_ s: T) -> T {
        if lrn.beta == 0.75 {
            let r = 1 / T.sqrt(s)
            return r * T.sqrt(r)
        }
        return T.pow(s, -T(lrn.beta))
    }

    /// Running sum over channel planes: calls `body(channel, sum)` where sum is Σ plane(j)² (or
    /// Σ plane(j)) over j in the window centred on `channel`.
    @inline(__always)
    func slidingWindow(_ source: (Int) -> UnsafePointer<T>, squared: Bool, sum: UnsafeMutablePointer<T>,
                       _ body: (Int, UnsafeMutablePointer<T>) -> Void) {
        let half = lrn.size / 2
        sum.update(repeating: 0, count: hw)
        for j in 0..<min(half, c) {
            let plane = source(j)
            if squared { for q in 0..<hw { sum[q] += plane[q] * plane[q] } } else { for q in 0..<hw { sum[q] += plane[q] } }
        }
        for channel in 0..<c {
            let entering = channel + half
            if entering < c {
                let plane = source(entering)
                if squared { for q in 0..<hw { sum[q] += plane[q] * plane[q] } } else { for q in 0..<hw { sum[q] += plane[q] } }
            }
            let leaving = channel - half - 1
            if leaving >= 0 {
                let plane = source(leaving)
                if squared { for q in 0..<hw { sum[q] -= plane[q] * plane[q] } } else { for q in 0..<hw { sum[q] -= plane[q] } }
            }
            body(channel, sum)
        }
    }

    func forward(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, scale: UnsafeMutablePointer<T>?, batch: Int) {
        let alpha = T(lrn.alpha), k = T(lrn.k)
        Parallel.chunks(batch) { images, _ in
            let sum = UnsafeMutablePointer<T>.allocate(capacity: hw)
            defer { sum.deallocate() }
            for n in images {
                let xn = x + n * c * hw, yn = y + n * c * hw
                slidingWindow({ xn + $0 * hw }, squared: true, sum: sum) { channel, sum in
                    let xc = xn + channel * hw, yc = yn + channel * hw
                    let sc = scale.map { $0 + n * c * hw + channel * hw }
                    for q in 0..<hw {
                        let s = k + alpha * sum[q]
                        sc?[q] = s
                        yc[q] = xc[q] * negativePower(s)
                    }
                }
            }
        }
    }

    /// dx[i] = dy[i]·s[i]^−β − 2αβ·x[i]·Σ_{j: i ∈ window(j)} dy[j]·y[j]/s[j]; the window is symmetric,
    /// so that sum is the same running window over t[j] = dy[j]·y[j]/s[j].
    func backward(dy: UnsafePointer<T>, x: UnsafePointer<T>, y: UnsafePointer<T>, scale: UnsafePointer<T>,
                  dx: UnsafeMutablePointer<T>, batch: Int) {
        let factor = 2 * T(lrn.alpha) * T(lrn.beta)
        Parallel.chunks(batch) { images, _ in
            let sum = UnsafeMutablePointer<T>.allocate(capacity: hw)
            let t = UnsafeMutablePointer<T>.allocate(capacity: c * hw)
            defer { sum.deallocate(); t.deallocate() }
            for n in images {
                let base = n * c * hw
                for q in 0..<(c * hw) { t[q] = dy[base + q] * y[base + q] / scale[base + q] }
                slidingWindow({ UnsafePointer(t) + $0 * hw }, squared: false, sum: sum) { channel, sum in
                    let o = base + channel * hw
                    for q in 0..<hw {
                        dx[o + q] = dy[o + q] * negativePower(scale[o + q]) - factor * x[o + q] * sum[q]
                    }
                }
            }
        }
    }
}
