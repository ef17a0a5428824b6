/// `sgd_update` and `filter_rms_clip`: the optimizer's steps, in place on a parameter.
///
/// Shapes: weight, gradient, velocity (the parameter's shape); a clipped weight is (filters, size).
enum OptimizerKernel<T: CPUScalar> {
    /// One fused pass, the AlexNet paper's rule:
    /// v ← momentum·v − weightDecay·lr·w − lr·∂L/∂w,  w ← w + v.
    static func sgd(weight w: UnsafeMutablePointer<T>, gradient g: UnsafePointer<T>, velocity v: UnsafeMutablePointer<T>, count: Int,
                    learningRate lr: T, momentum m: T, weightDecay wd: T, threads: Int) {
        let decay = wd * lr
        Parallel.chunks(count, threads: threads) { r, _ in
            T.sgd(w + r.lowerBound, g + r.lowerBound, v + r.lowerBound, r.count, learningRate: lr, momentum: m, decay: decay)
        }
    }

    /// ZF's feature-scale clipping: every filter whose RMS exceeds `radius` is scaled back to it.
    static func clipFilters(_ w: UnsafeMutablePointer<T>, filters: Int, size: Int, radius: Double) {
        for f in 0..<filters {
            let row = w + f * size
            var squares = 0.0
            for j in 0..<size { squares += Double(row[j]) * Double(row[j]) }
            let rms = (squares / Double(size)).squareRoot()
            if rms > radius {
                let scale = T(radius / rms)
                for j in 0..<size { row[j] *= scale }
            }
        }
    }
}
