import StrataIR

/// `maxpool_forward` / `maxpool_backward` and `avgpool_forward` / `avgpool_backward`, one
/// (image, channel) plane at a time, planes split across threads.
///
/// Shapes: x (N, C, H, W); y and switches (N, C, OH, OW). A switch is the index y·W + x, within
/// its input plane, of the value that won the window.
struct PoolKernel<T: CPUScalar> {
    let window: PoolWindow
    let c: Int, h: Int, w: Int
    let oh: Int, ow: Int

    /// The window of output (oy, ox), clipped to the input: rows ys..<ye, columns xs..<xe.
    @inline(__always)
    func bounds(_ oy: Int, _ ox: Int) -> (ys: Int, ye: Int, xs: Int, xe: Int) {
        let ys = oy * window.stride.h - window.pad.h, xs = ox * window.stride.w - window.pad.w
        return (max(ys, 0), min(ys + window.kernel.h, h), max(xs, 0), min(xs + window.kernel.w, w))
    }

    func maxForward(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, switches: UnsafeMutablePointer<Int32>, batch: Int) {
        Parallel.chunks(batch * c) { planes, _ in
            for plane in planes {
                let xp = x + plane * h * w, yp = y + plane * oh * ow, sp = switches + plane * oh * ow
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let b = bounds(oy, ox)
                        var best = -T.infinity, at = -1
                        for iy in b.ys..<max(b.ys, b.ye) {
                            for ix in b.xs..<max(b.xs, b.xe) where xp[iy * w + ix] > best || at < 0 {
                                best = xp[iy * w + ix]
                                at = iy * w + ix
                            }
                        }
                        yp[oy * ow + ox] = at < 0 ? 0 : best
                        sp[oy * ow + ox] = Int32(at)
                    }
                }
            }
        }
    }

    func maxBackward(dy: UnsafePointer<T>, switches: UnsafePointer<Int32>, dx: UnsafeMutablePointer<T>, batch: Int) {
        Parallel.chunks(batch * c) { planes, _ in
            for plane in planes {
                let dxp = dx + plane * h * w, dyp = dy + plane * oh * ow, sp = switches + plane * oh * ow
                dxp.update(repeating: 0, count: h * w)
                for q in 0..<(oh * ow) where sp[q] >= 0 { dxp[Int(sp[q])] += dyp[q] }
            }
        }
    }

    /// The divisor of output (oy, ox): the window's area within the padded input, so padding counts
    /// as zeros (Caffe's rule and PyTorch's default).
    @inline(__always)
    func area(_ oy: Int, _ ox: Int) -> Int {
        let ys = oy * window.stride.h - window.pad.h, xs = ox * window.stride.w - window.pad.w
        let ye = min(ys + window.kernel.h, h + window.pad.h), xe = min(xs + window.kernel.w, w + window.pad.w)
        return max(1, (ye - ys) * (xe - xs))
    }

    func averageForward(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, batch: Int) {
        Parallel.chunks(batch * c) { planes, _ in
            for plane in planes {
                let xp = x + plane * h * w, yp = y + plane * oh * ow
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let b = bounds(oy, ox)
                        var sum: T = 0
                        for iy in b.ys..<max(b.ys, b.ye) { for ix in b.xs..<max(b.xs, b.xe) { sum += xp[iy * w + ix] } }
                        yp[oy * ow + ox] = sum / T(area(oy, ox))
                    }
                }
            }
        }
    }

    func averageBackward(dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, batch: Int) {
        Parallel.chunks(batch * c) { planes, _ in
            for plane in planes {
                let dxp = dx + plane * h * w, dyp = dy + plane * oh * ow
                dxp.update(repeating: 0, count: h * w)
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let b = bounds(oy, ox)
                        let g = dyp[oy * ow + ox] / T(area(oy, ox))
                        for iy in b.ys..<max(b.ys, b.ye) { for ix in b.xs..<max(b.xs, b.xe) { dxp[iy * w + ix] += g } }
                    }
                }
            }
        }
    }
}
