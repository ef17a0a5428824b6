import StrataIR
import StrataPlan

/// `fc_forward`, `fc_backward_data`, `fc_backward_filter`: one GEMM each, its output columns (or
/// rows) split across threads.
///
/// Shapes: x (N, F) (a (C, H, W) input read flat, C·H·W = F); weight (U, F); y (N, U).
struct FullyConnectedKernel<T: CPUScalar> {
    let fc: FCGeometry
    let context: CPUContext
    var units: Int { fc.units }
    var features: Int { fc.features }
    var threads: Int { context.threads }
    var gemm: GEMMPath { context.gemm }

    /// y = x·Wᵀ + b.
    func forward(x: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>,
                 batch: Int, relu: Bool) {
        let (u, f) = (units, features)
        Parallel.chunks(u, threads: threads) { r, _ in
            guard !r.isEmpty else { return }
            T.gemm(gemm, false, true, batch, r.count, f, 1, x, f, weight + r.lowerBound * f, f, 0, y + r.lowerBound, u)
            for n in 0..<batch {
                let row = y + n * u
                for o in r {
                    let v = row[o] + (bias?[o] ?? 0)
                    row[o] = relu && v < 0 ? 0 : v
                }
            }
        }
    }

    /// dx = dy·W.
    func backwardData(dy: UnsafePointer<T>, weight: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, batch: Int) {
        let (u, f) = (units, features)
        Parallel.chunks(f, threads: threads) { r, _ in
            guard !r.isEmpty else { return }
            T.gemm(gemm, false, false, batch, r.count, u, 1, dy, u, weight + r.lowerBound, f, 0, dx + r.lowerBound, f)
        }
    }

    /// dW = dyᵀ·x, db = Σ_n dy.
    func backwardFilter(dy: UnsafePointer<T>, x: UnsafePointer<T>, dWeight: UnsafeMutablePointer<T>, dBias: UnsafeMutablePointer<T>?, batch: Int) {
        let (u, f) = (units, features)
        Parallel.chunks(u, threads: threads) { r, _ in
            guard !r.isEmpty else { return }
            T.gemm(gemm, true, false, r.count, f, batch, 1, dy + r.lowerBound, u, x, f, 0, dWeight + r.lowerBound * f, f)
            if let dBias {
                for o in r {
                    var s: T = 0
                    for n in 0..<batch { s += dy[n * u + o] }
                    dBias[o] = s
                }
            }
        }
    }
}
