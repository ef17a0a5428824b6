import StrataIR
import StrataPlan

/// `conv_forward`, `conv_backward_data`, `conv_backward_filter`: im2col + GEMM, one group at a time.
/// Images are split across threads; within a thread, `ConvTiling.imagesPerGEMM` images share one
/// GEMM (their columns side by side) when the output is small, so the GEMM stays wide.
///
/// Shapes: x (N, C, H, W); weight (F, C/G, kh, kw); y (N, F, OH, OW);
/// columns (C/G·kh·kw, B·OH·OW) for a tile of B images. Where the grouped GEMM runs, it reads and
/// writes the tile's output planes in place; elsewhere they are copied through scratch.
struct ConvKernel<T: CPUScalar> {
    let conv: ConvGeometry
    let context: CPUContext
    var threads: Int { context.threads }
    var gemm: GEMMPath { context.gemm }
    var c: Int { conv.channels }        // input
    var h: Int { conv.height }
    var w: Int { conv.width }
    var f: Int { conv.filters }         // output
    var oh: Int { conv.outHeight }
    var ow: Int { conv.outWidth }

    var groups: Int { conv.groups }
    var cg: Int { c / groups }          // input channels per group
    var fg: Int { f / groups }          // filters per group
    var k: Int { cg * conv.kernel.h * conv.kernel.w }   // GEMM depth
    var p: Int { oh * ow }              // output positions per image
    var tile: Int { ConvTiling.imagesPerGEMM(positions: p) }

    /// 1×1, stride 1, no padding: one image is its own column matrix.
    var isPointwise: Bool { conv.kernel == (1, 1) && conv.stride == (1, 1) && conv.pad == (0, 0) }

    var geometry: PlaneGeometry {
        PlaneGeometry(h: h, w: w, kh: conv.kernel.h, kw: conv.kernel.w, sh: conv.stride.h, sw: conv.stride.w,
                      ph: conv.pad.h, pw: conv.pad.w, oh: oh, ow: ow)
    }

    /// Columns of group g of `images` (consecutive images from `first`), side by side:
    /// col[(ci·kh + i)·kw + j][b·P + q] for image first + b.
    func im2col(_ x: UnsafePointer<T>, first: Int, images: Int, group g: Int, _ col: UnsafeMutablePointer<T>) {
        let geometry = geometry, rows = conv.kernel.h * conv.kernel.w, width = images * p
        for b in 0..<images {
            let xg = x + ((first + b) * c + g * cg) * h * w
            for ci in 0..<cg { T.im2col(xg + ci * h * w, geometry, col + ci * rows * width + b * p, rowStride: width) }
        }
    }

    /// The adjoint: adds the columns back into each image's planes of group g.
    func col2im(_ col: UnsafePointer<T>, first: Int, images: Int, group g: Int, _ x: UnsafeMutablePointer<T>) {
        let geometry = geometry, rows = conv.kernel.h * conv.kernel.w, width = images * p
        for b in 0..<images {
            let xg = x + ((first + b) * c + g * cg) * h * w
            for ci in 0..<cg { T.col2im(col + ci * rows * width + b * p, geometry, xg + ci * h * w, rowStride: width) }
        }
    }

    /// One image's column matrix for group g: the image itself for a pointwise conv, else im2col into `col`.
    func columns(_ x: UnsafePointer<T>, image: Int, group g: Int, _ col: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        if isPointwise { return x + (image * c + g * cg) * h * w }
        im2col(x, first: image, images: 1, group: g, col)
        return UnsafePointer(col)
    }

    /// Calls `body(first, count)` for consecutive tiles of at most `tile` images within `images`.
    @inline(__always)
    func tiles(_ images: Range<Int>, _ body: (Int, Int) -> Void) {
        var first = images.lowerBound
        while first < images.upperBound {
            let count = min(tile, images.upperBound - first)
            body(first, count)
            first += count
        }
    }

    func forward(x: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>,
                 batch: Int, relu: Bool, workspace: Workspace<T>) {
        Parallel.chunks(batch, threads: threads) { images, thread in
            let col = workspace.columns(thread)
            tiles(images) { first, count in
                for g in 0..<groups {
                    if !isPointwise, T.gemmConv(gemm, false, fg, count * p, k, 1, GroupedMatrix(weight + g * fg * k, ld: k),
                                                convInput(x, first: first, images: count, group: g), 0, planes(y, first: first, group: g)) {
                        continue
                    }
                    if count == 1 {
                        // One image: the GEMM writes straight into y.
                        let source = columns(x, image: first, group: g, col)
                        T.gemm(gemm, false, false, fg, p, k, 1, weight + g * fg * k, k, source, p, 0, y + (first * f + g * fg) * p, p)
                    } else {
                        let width = count * p
                        im2col(x, first: first, images: count, group: g, col)
                        if !T.gemmGrouped(gemm, false, false, fg, width, k, 1, GroupedMatrix(weight + g * fg * k, ld: k),
                                          GroupedMatrix(col, ld: width), 0, planes(y, first: first, group: g)) {
                            // No grouped GEMM here: multiply into scratch, then copy each image's planes out.
                            let out = col + k * width
                            T.gemm(gemm, false, false, fg, width, k, 1, weight + g * fg * k, k, col, width, 0, out, width)
                            for b in 0..<count {
                                for o in 0..<fg {
                                    (y + ((first + b) * f + g * fg + o) * p).update(from: out + o * width + b * p, count: p)
                                }
                            }
                        }
                    }
                }
                for n in first..<(first + count) {
                    let yn = y + n * f * p
                    for o in 0..<f { T.biasActivation(yn + o * p, bias?[o] ?? 0, p, relu: relu) }
                }
            }
        }
    }

    /// dx = col2im(Wᵀ·dY).
    ///
    /// For stride 1, where the implicit-im2col GEMM runs, dx is computed instead as what it also is:
    /// the convolution of dY, padded by (kh − 1 − ph, kw − 1 − pw), with the filters flipped in
    /// both directions and their input and output channels swapped. That is a forward convolution
    /// whose im2col matrix is never stored, and it writes dx once, with no col2im and no zeroing.
    func backwardData(dy: UnsafePointer<T>, weight: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, batch: Int, workspace: Workspace<T>) {
        let (kh, kw) = conv.kernel
        // Measured (docs/performance.md): the flipped convolution is the faster way for 64 input
        // channels per group or more; with fewer, its GEMM has too few rows to pay for packing dY
        // (AlexNet's conv2, 48: 80 against 75 ms at batch 32), and col2im is kept.
        let flippable = conv.stride == (1, 1) && !isPointwise && conv.pad.h < kh && conv.pad.w < kw && cg >= 64
            && workspace.columnCapacity >= f * cg * kh * kw
        Parallel.chunks(batch, threads: threads) { images, thread in
            let col = workspace.columns(thread)
            var flipped = false
            var asConvolution = flippable
            tiles(images) { first, count in
                if asConvolution {
                    if !flipped { flipFilters(weight, into: col); flipped = true }
                    var done = true
                    for g in 0..<groups where done {
                        done = T.gemmConv(gemm, false, cg, count * h * w, fg * kh * kw, 1, GroupedMatrix(col + g * cg * fg * kh * kw, ld: fg * kh * kw),
                                          transposedInput(dy, first: first, images: count, group: g), 0,
                                          GroupedMatrix(dx + (first * c + g * cg) * h * w, ld: h * w, group: h * w, groupStride: c * h * w))
                    }
                    if done { return }
                    asConvolution = false  // Not available here (it declines on its first call): col2im below.
                }
                dx.advanced(by: first * c * h * w).update(repeating: 0, count: count * c * h * w)
                for g in 0..<groups {
                    if count == 1 {
                        let dyg = dy + (first * f + g * fg) * p
                        if isPointwise {
                            T.gemm(gemm, true, false, k, p, fg, 1, weight + g * fg * k, k, dyg, p, 0, dx + (first * c + g * cg) * h * w, p)
                        } else {
                            T.gemm(gemm, true, false, k, p, fg, 1, weight + g * fg * k, k, dyg, p, 0, col, p)
                            col2im(col, first: first, images: 1, group: g, dx)
                        }
                    } else {
                        let width = count * p
                        if !T.gemmGrouped(gemm, true, false, k, width, fg, 1, GroupedMatrix(weight + g * fg * k, ld: k),
                                          planes(dy, first: first, group: g), 0, GroupedMatrix(col, ld: width)) {
                            let gathered = col + k * width
                            gather(dy, first: first, images: count, group: g, into: gathered)
                            T.gemm(gemm, true, false, k, width, fg, 1, weight + g * fg * k, k, gathered, width, 0, col, width)
                        }
                        col2im(col, first: first, images: count, group: g, dx)
                    }
                }
            }
        }
    }

    /// Group g of `images` images from `first` of x, read as their im2col matrix by `T.gemmConv`.
    func convInput(_ x: UnsafePointer<T>, first: Int, images: Int, group g: Int) -> ConvInput<T> {
        ConvInput(x: x + (first * c + g * cg) * h * w, imageStride: c * h * w, images: images, channels: cg, h: h, w: w,
                  kh: conv.kernel.h, kw: conv.kernel.w, sh: conv.stride.h, sw: conv.stride.w, ph: conv.pad.h, pw: conv.pad.w,
                  oh: oh, ow: ow)
    }

    /// The filters of every group flipped in both directions with input and output channels swapped:
    /// out[g][ci][o][kh − 1 − i][kw − 1 − j] = weight[g·Fg + o][ci][i][j], a (Cg × Fg·kh·kw) matrix per group.
    func flipFilters(_ weight: UnsafePointer<T>, into out: UnsafeMutablePointer<T>) {
        let (kh, kw) = conv.kernel, window = kh * kw
        for g in 0..<groups {
            let wg = weight + g * fg * k, og = out + g * cg * fg * window
            for o in 0..<fg {
                for ci in 0..<cg {
                    let from = wg + (o * cg + ci) * window, to = og + (ci * fg + o) * window
                    for t in 0..<window { to[window - 1 - t] = from[t] }
                }
            }
        }
    }

    /// Group g of `images` images of dY read as the input of the flipped-filter convolution that gives dx.
    func transposedInput(_ dy: UnsafePointer<T>, first: Int, images: Int, group g: Int) -> ConvInput<T> {
        ConvInput(x: dy + (first * f + g * fg) * p, imageStride: f * p, images: images, channels: fg, h: oh, w: ow,
                  kh: conv.kernel.h, kw: conv.kernel.w, sh: 1, sw: 1, ph: conv.kernel.h - 1 - conv.pad.h,
                  pw: conv.kernel.w - 1 - conv.pad.w, oh: h, ow: w)
    }

    /// The planes of group g of `images` images from `first` of an (N, F, OH, OW) tensor, read in
    /// place as one (Fg × images·P) matrix.
    func planes(_ t: UnsafePointer<T>, first: Int, group g: Int) -> GroupedMatrix<T> {
        GroupedMatrix(UnsafeMutablePointer(mutating: t) + (first * f + g * fg) * p, ld: p, group: p, groupStride: f * p)
    }

    /// dY of group g for a tile, as (Fg, B·P): the layout the tiled GEMMs read.
    func gather(_ dy: UnsafePointer<T>, first: Int, images: Int, group g: Int, into out: UnsafeMutablePointer<T>) {
        let width = images * p
        for b in 0..<images {
            for o in 0..<fg { (out + o * width + b * p).update(from: dy + ((first + b) * f + g * fg + o) * p, count: p) }
        }
    }

    /// dW = Σ_n dY·colᵀ and db = Σ_n Σ_q dY, each thread into its own accumulator, then summed.
    func backwardFilter(dy: UnsafePointer<T>, x: UnsafePointer<T>, dWeight: UnsafeMutablePointer<T>, dBias: UnsafeMutablePointer<T>?,
                        batch: Int, workspace: Workspace<T>) {
        let weightCount = f * k
        let threads = max(1, min(self.threads, batch))
        Parallel.chunks(batch, threads: threads) { images, thread in
            let col = workspace.columns(thread)
            let acc = thread == 0 ? dWeight : workspace.accumulator(thread, count: weightCount + f)
            let accBias = thread == 0 ? nil : acc + weightCount
            acc.update(repeating: 0, count: weightCount)
            accBias?.update(repeating: 0, count: f)
            if thread == 0 { dBias?.update(repeating: 0, count: f) }
            tiles(images) { first, count in
                for g in 0..<groups {
                    // Packing the transposed im2col matrix straight from x costs more per element than
                    // im2col + a transposing pack, and wins only where the GEMM has few rows to spread
                    // that over (measured: the mini net's 64–96 filters, not AlexNet's 128–384).
                    if !isPointwise, fg < 128, T.gemmConv(gemm, true, fg, k, count * p, 1, planes(dy, first: first, group: g),
                                                convInput(x, first: first, images: count, group: g), 1, GroupedMatrix(acc + g * fg * k, ld: k)) {
                        continue
                    }
                    if count == 1 {
                        let source = columns(x, image: first, group: g, col)
                        T.gemm(gemm, false, true, fg, k, p, 1, dy + (first * f + g * fg) * p, p, source, p, 1, acc + g * fg * k, k)
                    } else {
                        let width = count * p
                        im2col(x, first: first, images: count, group: g, col)
                        if !T.gemmGrouped(gemm, false, true, fg, k, width, 1, planes(dy, first: first, group: g),
                                          GroupedMatrix(col, ld: width), 1, GroupedMatrix(acc + g * fg * k, ld: k)) {
                            let gathered = col + k * width
                            gather(dy, first: first, images: count, group: g, into: gathered)
                            T.gemm(gemm, false, true, fg, k, width, 1, gathered, width, col, width, 1, acc + g * fg * k, k)
                        }
                    }
                }
                if let db = thread == 0 ? dBias : accBias {
                    for n in first..<(first + count) {
                        let dyn = dy + n * f * p
                        for o in 0..<f { db[o] += T.sum(dyn + o * p, p) }
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
