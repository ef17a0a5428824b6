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

    var geometry: PlaneGeometry {
        PlaneGeometry(h: h, w: w, kh: conv.kernel.h, kw: conv.kernel.w, sh: conv.stride.h, sw: conv.stride.w,
                      ph: conv.pad.h, pw: conv.pad.w, oh: oh, ow: ow)
    }

    /// Unfolds one group of one image into columns: col[(ci·kh + i)·kw + j][y·OW + x] = x[ci][y·sh − ph + i][x·sw − pw + j].
    func im2col(_ x: UnsafePointer<T>, _ col: UnsafeMutablePointer<T>) {
        let g = geometry, rows = conv.kernel.h * conv.kernel.w
        for ci in 0..<cg { T.im2col(x + ci * h * w, g, col + ci * rows * p) }
    }

    /// Folds columns back, adding into x (the adjoint of im2col).
    func col2im(_ col: UnsafePointer<T>, _ x: UnsafeMutablePointer<T>) {
        let g = geometry, rows = conv.kernel.h * conv.kernel.w
        for ci in 0..<cg { T.col2im(col + ci * rows * p, g, x + ci * h * w) }
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
                for o in 0..<f { T.biasActivation(yn + o * p, bias?[o] ?? 0, p, relu: relu) }
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
                    for o in 0..<f { db[o] += T.sum(dyn + o * p, p) }
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
