import StrataIR

/// `conv_forward`, `conv_backward_data`, `conv_backward_filter`: im2col + GEMM, one group at a time,
/// images split across threads (each thread with its own column buffer).
///
/// Shapes: x (N, C, H, W); weight (F, C/G, kh, kw); y (N, F, OH, OW); columns (C/G·kh·kw, OH·OW).
struct ConvKernel<T: CPUScalar> {
    let conv: Conv
    let c: Int, h: Int, w: Int          // input
    let f: Int, oh: Int, ow: Int        // output

    var groups: Int { conv.groups }
    var cg: Int { c / groups }          // input channels per group
    var fg: Int { f / groups }          // filters per group
    var k: Int { cg * conv.kernel.h * conv.kernel.w }   // GEMM depth
    var p: Int { oh * ow }              // output positions
    /// 1×1, stride 1, no padding: the image itself is the column matrix.
    var isPointwise: Bool { conv.kernel == (1, 1) && conv.stride == (1, 1) && conv.pad == (0, 0) }

    /// Unfolds one group of one image into columns: col[(ci·kh + i)·kw + j][y·OW + x] = x[ci][y·sh − ph + i][x·sw − pw + j].
    func im2col(_ x: UnsafePointer<T>, _ col: UnsafeMutablePointer<T>) {
        let (kh, kw) = conv.kernel, (sh, sw) = conv.stride, (ph, pw) = conv.pad
        var row = col
        for ci in 0..<cg {
            let plane = x + ci * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    for oy in 0..<oh {
                        let iy = oy * sh - ph + i
                        let out = row + oy * ow
                        if iy < 0 || iy >= h {
                            out.update(repeating: 0, count: ow)
                            continue
                        }
                        let line = plane + iy * w
                        if sw == 1 {
                            // Contiguous: zeros at the edges, a copy in between.
                            let x0 = j - pw
                            let lo = max(0, -x0), hi = min(ow, w - x0)
                            if lo > 0 { out.update(repeating: 0, count: min(lo, ow)) }
                            if hi > lo { out.advanced(by: lo).update(from: line + (x0 + lo), count: hi - lo) }
                            if hi < ow { out.advanced(by: max(hi, lo)).update(repeating: 0, count: ow - max(hi, lo)) }
                        } else {
                            for ox in 0..<ow {
                                let ix = ox * sw - pw + j
                                out[ox] = (ix >= 0 && ix < w) ? line[ix] : 0
                            }
                        }
                    }
                    row += p
                }
            }
        }
    }

    /// Folds columns back, adding into x (the adjoint of im2col).
    func col2im(_ col: UnsafePointer<T>, _ x: UnsafeMutablePointer<T>) {
        let (kh, kw) = conv.kernel, (sh, sw) = conv.stride, (ph, pw) = conv.pad
        var row = col
        for ci in 0..<cg {
            let plane = x + ci * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    for oy in 0..<oh {
                        let iy = oy * sh - ph + i
                        guard iy >= 0 && iy < h else { continue }
                        let line = plane + iy * w
                        let src = row + oy * ow
                        for ox in 0..<ow {
                            let ix = ox * sw - pw + j
                            if ix >= 0 && ix < w { line[ix] += src[ox] }
                        }
                    }
                    row += p
                }
            }
        }
    }

    func forward(x: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>,
                 batch: Int, relu: Bool, workspace: Workspace<T>) {
        Parallel.chunks(batch) { images, thread in
            let col = workspace.columns(thread)
            for n in images {
                for g in 0..<groups {
                    let xg = x + (n * c + g * cg) * h * w
                    let yg = y + (n * f + g * fg) * p
                    let source: UnsafePointer<T>
                    if isPointwise { source = xg } else { im2col(xg, col); source = UnsafePointer(col) }
                    T.gemm(false, false, fg, p, k, 1, weight + g * fg * k, k, source, p, 0, yg, p)
                }
                let yn = y + n * f * p
                for o in 0..<f {
                    let b = bias?[o] ?? 0
                    let row = yn + o * p
                    if relu {
                        for q in 0..<p { let v = row[q] + b; row[q] = v > 0 ? v : 0 }
                    } else if b != 0 {
                        for q in 0..<p { row[q] += b }
                    }
                }
            }
        }
    }

    /// dx = col2im(Wᵀ·dY), per image.
    func backwardData(dy: UnsafePointer<T>, weight: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, batch: Int, workspace: Workspace<T>) {
        Parallel.chunks(batch) { images, thread in
            let col = workspace.columns(thread)
            for n in images {
                dx.advanced(by: n * c * h * w).update(repeating: 0, count: c * h * w)
                for g in 0..<groups {
                    let dyg = dy + (n * f + g * fg) * p
                    let dxg = dx + (n * c + g * cg) * h * w
                    if isPointwise {
                        T.gemm(true, false, k, p, fg, 1, weight + g * fg * k, k, dyg, p, 0, dxg, p)
                    } else {
                        T.gemm(true, false, k, p, fg, 1, weight + g * fg * k, k, dyg, p, 0, col, p)
                        col2im(col, dxg)
                    }
                }
            }
        }
    }

    /// dW = Σ_n dY·colᵀ and db = Σ_n Σ_q dY, each thread into its own accumulator, then summed.
    func backwardFilter(dy: UnsafePointer<T>, x: UnsafePointer<T>, dWeight: UnsafeMutablePointer<T>, dBias: UnsafeMutablePointer<T>?,
                        batch: Int, workspace: Workspace<T>) {
        let weightCount = f * k
        let threads = max(1, min(Parallel.threads, batch))
        Parallel.chunks(batch, threads: threads) { images, thread in
            let col = workspace.columns(thread)
            let acc = thread == 0 ? dWeight : workspace.accumulator(thread, count: weightCount + f)
            let accBias = thread == 0 ? nil : acc + weightCount
            acc.update(repeating: 0, count: weightCount)
            accBias?.update(repeating: 0, count: f)
            if thread == 0 { dBias?.update(repeating: 0, count: f) }
            for n in images {
                for g in 0..<groups {
                    let xg = x + (n * c + g * cg) * h * w
                    let dyg = dy + (n * f + g * fg) * p
                    let source: UnsafePointer<T>
                    if isPointwise { source = xg } else { im2col(xg, col); source = UnsafePointer(col) }
                    T.gemm(false, true, fg, k, p, 1, dyg, p, source, p, 1, acc + g * fg * k, k)
                }
                if let db = thread == 0 ? dBias : accBias {
                    let dyn = dy + n * f * p
                    for o in 0..<f {
                        var s: T = 0
                        let row = dyn + o * p
                        for q in 0..<p { s += row[q] }
                        db[o] += s
                    }
                }
            }
        }
        for t in 1..<threads {
            let acc = workspace.accumulator(t, count: weightCount + f)
            for i in 0..<weightCount { dWeight[i] += acc[i] }
            if let dBias { for o in 0..<f { dBias[o] += acc[weightCount + o] } }
        }
    }
}
