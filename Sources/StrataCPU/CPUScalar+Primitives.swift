import CStrataSupport

/// The inner loops every kernel is built from: one buffer, one row or one plane at a time.
/// Float32 runs them in C (`CStrataSupport/kernels.c`), where the compiler vectorises them;
/// these generic versions are the reference, and what float64 runs.
public protocol CPUPrimitives {
    associatedtype Element
    static func relu(_ x: UnsafePointer<Element>, _ y: UnsafeMutablePointer<Element>, _ n: Int)
    static func reluBackward(_ dy: UnsafePointer<Element>, _ y: UnsafePointer<Element>, _ dx: UnsafeMutablePointer<Element>, _ n: Int)
    static func biasActivation(_ row: UnsafeMutablePointer<Element>, _ bias: Element, _ n: Int, relu: Bool)
    static func sum(_ x: UnsafePointer<Element>, _ n: Int) -> Element
    static func multiply(_ x: UnsafePointer<Element>, _ m: UnsafePointer<Element>, _ y: UnsafeMutablePointer<Element>, _ n: Int)
    static func sgd(_ w: UnsafeMutablePointer<Element>, _ g: UnsafePointer<Element>, _ v: UnsafeMutablePointer<Element>, _ n: Int,
                    learningRate: Element, momentum: Element, decay: Element)
    static func im2col(_ plane: UnsafePointer<Element>, _ g: PlaneGeometry, _ columns: UnsafeMutablePointer<Element>, rowStride: Int)
    static func col2im(_ columns: UnsafePointer<Element>, _ g: PlaneGeometry, _ plane: UnsafeMutablePointer<Element>, rowStride: Int)
    /// `isa`: the instruction set of the hand-vectorised loop (STRATA_ISA_*), where there is one.
    static func maxPool(_ isa: Int32, _ x: UnsafePointer<Element>, _ g: PlaneGeometry, _ y: UnsafeMutablePointer<Element>, _ switches: UnsafeMutablePointer<Int32>)
    static func averagePool(_ x: UnsafePointer<Element>, _ g: PlaneGeometry, _ y: UnsafeMutablePointer<Element>)
    static func averagePoolBackward(_ dy: UnsafePointer<Element>, _ g: PlaneGeometry, _ dx: UnsafeMutablePointer<Element>)
    static func lrnForward(_ x: UnsafePointer<Element>, channels: Int, planeSize: Int, _ p: LRNParameters,
                           _ y: UnsafeMutablePointer<Element>, _ scale: UnsafeMutablePointer<Element>?, work: UnsafeMutablePointer<Element>)
    static func lrnBackward(_ dy: UnsafePointer<Element>, _ x: UnsafePointer<Element>, _ y: UnsafePointer<Element>, _ scale: UnsafePointer<Element>,
                            channels: Int, planeSize: Int, _ p: LRNParameters, _ dx: UnsafeMutablePointer<Element>, work: UnsafeMutablePointer<Element>)
}

/// A window sliding over one (h, w) plane: convolution and pooling share it.
public struct PlaneGeometry: Sendable {
    public var h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int, oh: Int, ow: Int
}

public struct LRNParameters: Sendable {
    public var size: Int, alpha: Double, beta: Double, k: Double
}

// MARK: - The generic reference versions

extension CPUPrimitives where Element: CPUScalar {
    public static func relu(_ x: UnsafePointer<Element>, _ y: UnsafeMutablePointer<Element>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] < 0 ? 0 : x[i] }   // NaN passes through
    }

    public static func reluBackward(_ dy: UnsafePointer<Element>, _ y: UnsafePointer<Element>, _ dx: UnsafeMutablePointer<Element>, _ n: Int) {
        for i in 0..<n { dx[i] = y[i] <= 0 ? 0 : dy[i] }
    }

    public static func biasActivation(_ row: UnsafeMutablePointer<Element>, _ bias: Element, _ n: Int, relu: Bool) {
        for i in 0..<n {
            let v = row[i] + bias
            row[i] = relu && v < 0 ? 0 : v
        }
    }

    public static func sum(_ x: UnsafePointer<Element>, _ n: Int) -> Element {
        var s: Element = 0
        for i in 0..<n { s += x[i] }
        return s
    }

    public static func multiply(_ x: UnsafePointer<Element>, _ m: UnsafePointer<Element>, _ y: UnsafeMutablePointer<Element>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] * m[i] }
    }

    public static func sgd(_ w: UnsafeMutablePointer<Element>, _ g: UnsafePointer<Element>, _ v: UnsafeMutablePointer<Element>, _ n: Int,
                           learningRate: Element, momentum: Element, decay: Element) {
        for i in 0..<n {
            let step = momentum * v[i] - decay * w[i] - learningRate * g[i]
            v[i] = step
            w[i] += step
        }
    }

    /// columns[(i·kw + j)][oy·ow + ox] = plane[oy·sh − ph + i][ox·sw − pw + j], zero outside the plane.
    public static func im2col(_ plane: UnsafePointer<Element>, _ g: PlaneGeometry, _ columns: UnsafeMutablePointer<Element>, rowStride: Int) {
        var row = columns
        for i in 0..<g.kh {
            for j in 0..<g.kw {
                for oy in 0..<g.oh {
                    let iy = oy * g.sh - g.ph + i
                    for ox in 0..<g.ow {
                        let ix = ox * g.sw - g.pw + j
                        row[oy * g.ow + ox] = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? plane[iy * g.w + ix] : 0
                    }
                }
                row += rowStride
            }
        }
    }

    public static func col2im(_ columns: UnsafePointer<Element>, _ g: PlaneGeometry, _ plane: UnsafeMutablePointer<Element>, rowStride: Int) {
        var row = columns
        for i in 0..<g.kh {
            for j in 0..<g.kw {
                for oy in 0..<g.oh {
                    let iy = oy * g.sh - g.ph + i
                    guard iy >= 0 && iy < g.h else { continue }
                    for ox in 0..<g.ow {
                        let ix = ox * g.sw - g.pw + j
                        if ix >= 0 && ix < g.w { plane[iy * g.w + ix] += row[oy * g.ow + ox] }
                    }
                }
                row += rowStride
            }
        }
    }

    /// The window of output (oy, ox) clipped to the plane.
    @inline(__always)
    static func window(_ g: PlaneGeometry, _ oy: Int, _ ox: Int) -> (Range<Int>, Range<Int>) {
        let ys = oy * g.sh - g.ph, xs = ox * g.sw - g.pw
        let y0 = max(ys, 0), y1 = max(y0, min(ys + g.kh, g.h)), x0 = max(xs, 0), x1 = max(x0, min(xs + g.kw, g.w))
        return (y0..<y1, x0..<x1)
    }

    /// The average's divisor: the window's area within the padded plane (padding counts as zeros).
    @inline(__always)
    static func area(_ g: PlaneGeometry, _ oy: Int, _ ox: Int) -> Element {
        let ys = oy * g.sh - g.ph, xs = ox * g.sw - g.pw
        return Element(max(1, (min(ys + g.kh, g.h + g.ph) - ys) * (min(xs + g.kw, g.w + g.pw) - xs)))
    }

    public static func maxPool(_ isa: Int32, _ x: UnsafePointer<Element>, _ g: PlaneGeometry, _ y: UnsafeMutablePointer<Element>, _ switches: UnsafeMutablePointer<Int32>) {
        for oy in 0..<g.oh {
            for ox in 0..<g.ow {
                let (rows, columns) = window(g, oy, ox)
                var best = -Element.infinity, at = -1
                // A NaN wins over any number, and the first NaN stays (as in PyTorch).
                for iy in rows {
                    for ix in columns where at < 0 || !(x[iy * g.w + ix] <= best) && !best.isNaN { best = x[iy * g.w + ix]; at = iy * g.w + ix }
                }
                y[oy * g.ow + ox] = at < 0 ? 0 : best
                switches[oy * g.ow + ox] = Int32(at)
            }
        }
    }

    public static func averagePool(_ x: UnsafePointer<Element>, _ g: PlaneGeometry, _ y: UnsafeMutablePointer<Element>) {
        for oy in 0..<g.oh {
            for ox in 0..<g.ow {
                let (rows, columns) = window(g, oy, ox)
                var s: Element = 0
                for iy in rows { for ix in columns { s += x[iy * g.w + ix] } }
                y[oy * g.ow + ox] = s / area(g, oy, ox)
            }
        }
    }

    public static func averagePoolBackward(_ dy: UnsafePointer<Element>, _ g: PlaneGeometry, _ dx: UnsafeMutablePointer<Element>) {
        dx.update(repeating: 0, count: g.h * g.w)
        for oy in 0..<g.oh {
            for ox in 0..<g.ow {
                let (rows, columns) = window(g, oy, ox)
                let v = dy[oy * g.ow + ox] / area(g, oy, ox)
                for iy in rows { for ix in columns { dx[iy * g.w + ix] += v } }
            }
        }
    }

    @inline(__always)
    static func negativePower(_ s: Element, _ beta: Double) -> Element {
        if beta == 0.75 { let r = 1 / Element.sqrt(s); return r * Element.sqrt(r) }
        return Element.pow(s, -Element(beta))
    }

    /// Running window over channel planes: `add(j, sign)` adds (or subtracts) plane j's contribution.
    @inline(__always)
    static func slide(channels c: Int, size: Int, _ sum: UnsafeMutablePointer<Element>, planeSize hw: Int,
                      contribution: (Int) -> UnsafePointer<Element>, squared: Bool, _ body: (Int) -> Void) {
        let half = size / 2
        sum.update(repeating: 0, count: hw)
        func add(_ j: Int, _ sign: Element) {
            let p = contribution(j)
            if squared { for q in 0..<hw { sum[q] += sign * p[q] * p[q] } } else { for q in 0..<hw { sum[q] += sign * p[q] } }
        }
        for j in 0..<min(half, c) { add(j, 1) }
        for ch in 0..<c {
            if ch + half < c { add(ch + half, 1) }
            if ch - half - 1 >= 0 { add(ch - half - 1, -1) }
            body(ch)
        }
    }

    public static func lrnForward(_ x: UnsafePointer<Element>, channels c: Int, planeSize hw: Int, _ p: LRNParameters,
                                  _ y: UnsafeMutablePointer<Element>, _ scale: UnsafeMutablePointer<Element>?, work sum: UnsafeMutablePointer<Element>) {
        let alpha = Element(p.alpha), k = Element(p.k)
        slide(channels: c, size: p.size, sum, planeSize: hw, contribution: { x + $0 * hw }, squared: true) { ch in
            let o = ch * hw
            for q in 0..<hw {
                let s = k + alpha * sum[q]
                scale?[o + q] = s
                y[o + q] = x[o + q] * negativePower(s, p.beta)
            }
        }
    }

    /// dx[i] = dy[i]·s[i]^−β − 2αβ·x[i]·Σ_{j: i ∈ window(j)} dy[j]·y[j]/s[j] (the window is symmetric).
    public static func lrnBackward(_ dy: UnsafePointer<Element>, _ x: UnsafePointer<Element>, _ y: UnsafePointer<Element>, _ scale: UnsafePointer<Element>,
                                   channels c: Int, planeSize hw: Int, _ p: LRNParameters, _ dx: UnsafeMutablePointer<Element>,
                                   work: UnsafeMutablePointer<Element>) {
        let factor = 2 * Element(p.alpha) * Element(p.beta)
        let sum = work, t = work + hw
        for q in 0..<(c * hw) { t[q] = dy[q] * y[q] / scale[q] }
        slide(channels: c, size: p.size, sum, planeSize: hw, contribution: { UnsafePointer(t) + $0 * hw }, squared: false) { ch in
            let o = ch * hw
            for q in 0..<hw { dx[o + q] = dy[o + q] * negativePower(scale[o + q], p.beta) - factor * x[o + q] * sum[q] }
        }
    }
}

extension Double: CPUPrimitives { public typealias Element = Double }

// MARK: - Float32: the C loops

extension Float: CPUPrimitives {
    public typealias Element = Float

    public static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { strata_relu_f32(x, y, n) }
    public static func reluBackward(_ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        strata_relu_backward_f32(dy, y, dx, n)
    }
    public static func biasActivation(_ row: UnsafeMutablePointer<Float>, _ bias: Float, _ n: Int, relu: Bool) {
        strata_bias_activation_f32(row, bias, n, relu ? 1 : 0)
    }
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float { strata_sum_f32(x, n) }
    public static func multiply(_ x: UnsafePointer<Float>, _ m: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        strata_multiply_f32(x, m, y, n)
    }
    public static func sgd(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int,
                           learningRate: Float, momentum: Float, decay: Float) {
        strata_sgd_f32(w, g, v, n, learningRate, momentum, decay)
    }
    public static func im2col(_ plane: UnsafePointer<Float>, _ g: PlaneGeometry, _ columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        strata_im2col_plane_f32(plane, Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw), Int32(g.sh), Int32(g.sw), Int32(g.ph), Int32(g.pw),
                                Int32(g.oh), Int32(g.ow), columns, rowStride)
    }
    public static func col2im(_ columns: UnsafePointer<Float>, _ g: PlaneGeometry, _ plane: UnsafeMutablePointer<Float>, rowStride: Int) {
        strata_col2im_plane_f32(columns, Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw), Int32(g.sh), Int32(g.sw), Int32(g.ph), Int32(g.pw),
                                Int32(g.oh), Int32(g.ow), plane, rowStride)
    }
    public static func maxPool(_ isa: Int32, _ x: UnsafePointer<Float>, _ g: PlaneGeometry, _ y: UnsafeMutablePointer<Float>, _ switches: UnsafeMutablePointer<Int32>) {
        strata_maxpool_plane_f32(isa, x, Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw), Int32(g.sh), Int32(g.sw), Int32(g.ph), Int32(g.pw),
                                 Int32(g.oh), Int32(g.ow), y, switches)
    }
    public static func averagePool(_ x: UnsafePointer<Float>, _ g: PlaneGeometry, _ y: UnsafeMutablePointer<Float>) {
        strata_avgpool_plane_f32(x, Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw), Int32(g.sh), Int32(g.sw), Int32(g.ph), Int32(g.pw),
                                 Int32(g.oh), Int32(g.ow), y)
    }
    public static func averagePoolBackward(_ dy: UnsafePointer<Float>, _ g: PlaneGeometry, _ dx: UnsafeMutablePointer<Float>) {
        strata_avgpool_backward_plane_f32(dy, Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw), Int32(g.sh), Int32(g.sw), Int32(g.ph), Int32(g.pw),
                                          Int32(g.oh), Int32(g.ow), dx)
    }
    public static func lrnForward(_ x: UnsafePointer<Float>, channels: Int, planeSize: Int, _ p: LRNParameters,
                                  _ y: UnsafeMutablePointer<Float>, _ scale: UnsafeMutablePointer<Float>?, work: UnsafeMutablePointer<Float>) {
        strata_lrn_forward_f32(x, Int32(channels), planeSize, Int32(p.size), Float(p.alpha), Float(p.beta), Float(p.k), y, scale, work)
    }
    public static func lrnBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ scale: UnsafePointer<Float>,
                                   channels: Int, planeSize: Int, _ p: LRNParameters, _ dx: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        strata_lrn_backward_f32(dy, x, y, scale, Int32(channels), planeSize, Int32(p.size), Float(p.alpha), Float(p.beta), dx, work)
    }
}
