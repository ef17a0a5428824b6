import StrataIR
import StrataPlan

/// `maxpool_forward` / `maxpool_backward` and `avgpool_forward` / `avgpool_backward`, one
/// (image, channel) plane at a time, planes split across threads.
///
/// Shapes: x (N, C, H, W); y and switches (N, C, OH, OW). A switch is the index y·W + x, within
/// its input plane, of the value that won the window.
struct PoolKernel<T: CPUScalar> {
    let pool: PoolGeometry
    let threads: Int
    /// The instruction set of the max-pool loop (STRATA_ISA_*).
    var isa: Int32 = GEMMPath.supported[0].code
    var c: Int { pool.channels }
    var h: Int { pool.height }
    var w: Int { pool.width }
    var oh: Int { pool.outHeight }
    var ow: Int { pool.outWidth }

    var geometry: PlaneGeometry {
        PlaneGeometry(h: h, w: w, kh: pool.kernel.h, kw: pool.kernel.w, sh: pool.stride.h, sw: pool.stride.w,
                      ph: pool.pad.h, pw: pool.pad.w, oh: oh, ow: ow)
    }

    func maxForward(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, switches: UnsafeMutablePointer<Int32>, batch: Int) {
        let g = geometry
        Parallel.chunks(batch * c, threads: threads) { planes, _ in
            for plane in planes { T.maxPool(isa, x + plane * h * w, g, y + plane * oh * ow, switches + plane * oh * ow) }
        }
    }

    func maxBackward(dy: UnsafePointer<T>, switches: UnsafePointer<Int32>, dx: UnsafeMutablePointer<T>, batch: Int) {
        Parallel.chunks(batch * c, threads: threads) { planes, _ in
            for plane in planes {
                let dxp = dx + plane * h * w, dyp = dy + plane * oh * ow, sp = switches + plane * oh * ow
                dxp.update(repeating: 0, count: h * w)
                for q in 0..<(oh * ow) where sp[q] >= 0 { dxp[Int(sp[q])] += dyp[q] }
            }
        }
    }

    func averageForward(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, batch: Int) {
        let g = geometry
        Parallel.chunks(batch * c, threads: threads) { planes, _ in
            for plane in planes { T.averagePool(x + plane * h * w, g, y + plane * oh * ow) }
        }
    }

    func averageBackward(dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, batch: Int) {
        let g = geometry
        Parallel.chunks(batch * c, threads: threads) { planes, _ in
            for plane in planes { T.averagePoolBackward(dy + plane * oh * ow, g, dx + plane * h * w) }
        }
    }
}
