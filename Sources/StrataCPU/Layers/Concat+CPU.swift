import StrataIR
import StrataPlan

/// `concat_forward` / `concat_backward`: copies of per-image blocks. Each input contributes
/// `sizes[k]` consecutive values (its C·H·W, or F) to each image of the output.
struct ConcatKernel<T: CPUScalar> {
    let sizes: [Int]
    let threads: Int
    var total: Int { sizes.reduce(0, +) }

    func forward(_ inputs: [UnsafePointer<T>], _ y: UnsafeMutablePointer<T>, batch: Int) {
        Parallel.chunks(batch, threads: threads) { images, _ in
            for n in images {
                var offset = n * total
                for (k, input) in inputs.enumerated() {
                    (y + offset).update(from: input + n * sizes[k], count: sizes[k])
                    offset += sizes[k]
                }
            }
        }
    }

    /// The gradient of input `part`: its slice of dy.
    func backward(_ dy: UnsafePointer<T>, part: Int, _ dx: UnsafeMutablePointer<T>, batch: Int) {
        let start = sizes[..<part].reduce(0, +)
        Parallel.chunks(batch, threads: threads) { images, _ in
            for n in images { (dx + n * sizes[part]).update(from: dy + n * total + start, count: sizes[part]) }
        }
    }
}
