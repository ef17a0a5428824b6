import CStrataSupport
import StrataCPU
import StrataIR
import Testing

/// The float32 max-pool plane kernel against a naive loop, on every instruction set this CPU runs
/// (the AVX-512 and AVX2 loops, and the portable one): values, and switches that name the first
/// maximum in row-major window order.
@Suite("Max-pool kernel")
struct MaxPoolKernelTests {
    struct Window: CustomTestStringConvertible, Sendable {
        var h: Int, w: Int, k: (Int, Int), s: (Int, Int), p: (Int, Int), ceil = false
        var oh: Int { Self.out(h, k.0, s.0, p.0, ceil) }
        var ow: Int { Self.out(w, k.1, s.1, p.1, ceil) }
        static func out(_ n: Int, _ k: Int, _ s: Int, _ p: Int, _ ceil: Bool) -> Int {
            let span = n + 2 * p - k
            return (ceil ? (span + s - 1) / s : span / s) + 1
        }
        var testDescription: String { "\(h)×\(w), window \(k), stride \(s), pad \(p)\(ceil ? ", ceil" : "")" }
    }

    static let windows: [Window] = [
        Window(h: 9, w: 40, k: (4, 15), s: (2, 1), p: (0, 7)),     // 15 wide: AVX2's chunks of 2
        Window(h: 6, w: 50, k: (3, 20), s: (1, 2), p: (2, 10)),    // over 16 wide: AVX2 uses the portable loop
        Window(h: 28, w: 28, k: (3, 3), s: (2, 2), p: (0, 0)),            // the mini net's pool1
        Window(h: 13, w: 13, k: (3, 3), s: (2, 2), p: (0, 0)),
        Window(h: 55, w: 55, k: (3, 3), s: (2, 2), p: (0, 0)),            // AlexNet's pool1: several chunks per row
        Window(h: 110, w: 110, k: (3, 3), s: (2, 2), p: (1, 1)),          // ZFNet's pool1, padded
        Window(h: 9, w: 40, k: (2, 5), s: (1, 3), p: (1, 2), ceil: true), // rectangular, overhanging
        Window(h: 7, w: 7, k: (7, 7), s: (1, 1), p: (3, 3)),
        Window(h: 12, w: 50, k: (4, 12), s: (4, 4), p: (0, 0)),
        Window(h: 5, w: 70, k: (2, 40), s: (1, 1), p: (0, 0)),            // wider than the vector path takes
        Window(h: 10, w: 33, k: (2, 2), s: (2, 2), p: (0, 0)),            // AVX2's stride-2 path: 2 wide, a short last pass
        Window(h: 27, w: 27, k: (3, 3), s: (2, 2), p: (1, 1), ceil: true), // stride 2, padded, overhanging
        Window(h: 6, w: 37, k: (1, 3), s: (1, 2), p: (0, 1)),            // stride 2 across, 1 down
    ]

    static func reference(_ x: [Float], _ g: Window) -> ([Float], [Int32]) {
        var y = [Float](), switches = [Int32]()
        for oy in 0..<g.oh {
            for ox in 0..<g.ow {
                var best: Float = 0, at = -1
                for iy in max(oy * g.s.0 - g.p.0, 0)..<max(min(oy * g.s.0 - g.p.0 + g.k.0, g.h), 0) {
                    for ix in max(ox * g.s.1 - g.p.1, 0)..<max(min(ox * g.s.1 - g.p.1 + g.k.1, g.w), 0) {
                        let v = x[iy * g.w + ix]
                        // A NaN beats any number; the first NaN stays.
                        if at < 0 || v > best || v.isNaN && !best.isNaN { (best, at) = (v, iy * g.w + ix) }
                    }
                }
                y.append(at < 0 ? 0 : best)
                switches.append(Int32(at))
            }
        }
        return (y, switches)
    }

    @Test("matches a naive loop, switches included", arguments: windows, strataPaths)
    func matchesNaiveLoop(_ g: Window, _ isa: GEMMPath) {
        var random = SplitMix64(seed: UInt64(g.h * 1000 + g.w))
        // Few distinct values, so that ties are common; some −inf.
        let x: [Float] = (0..<(g.h * g.w)).map { _ in
            let r = Int.random(in: 0..<8, using: &random)
            return r == 0 ? -.infinity : Float(r) - 4
        }
        var y = [Float](repeating: .nan, count: g.oh * g.ow), switches = [Int32](repeating: -7, count: g.oh * g.ow)
        strata_maxpool_plane_f32(isa.code, x, Int32(g.h), Int32(g.w), Int32(g.k.0), Int32(g.k.1), Int32(g.s.0), Int32(g.s.1),
                                 Int32(g.p.0), Int32(g.p.1), Int32(g.oh), Int32(g.ow), &y, &switches)
        let (wantY, wantSwitches) = Self.reference(x, g)
        #expect(y == wantY)
        #expect(switches == wantSwitches)
    }

    @Test("NaN wins a window and the first NaN stays, as in PyTorch", arguments: windows, strataPaths)
    func nanPropagates(_ g: Window, _ isa: GEMMPath) {
        var random = SplitMix64(seed: UInt64(g.h * 7 + g.w))
        let x: [Float] = (0..<(g.h * g.w)).map { _ in
            let r = Int.random(in: 0..<24, using: &random)
            return r == 0 ? .nan : r == 1 ? .infinity : Float(r) - 12
        }
        var y = [Float](repeating: 0, count: g.oh * g.ow), switches = [Int32](repeating: -7, count: g.oh * g.ow)
        strata_maxpool_plane_f32(isa.code, x, Int32(g.h), Int32(g.w), Int32(g.k.0), Int32(g.k.1), Int32(g.s.0), Int32(g.s.1),
                                 Int32(g.p.0), Int32(g.p.1), Int32(g.oh), Int32(g.ow), &y, &switches)
        let (wantY, wantSwitches) = Self.reference(x, g)
        #expect(zip(y, wantY).allSatisfy { $0 == $1 || $0.isNaN && $1.isNaN })
        #expect(wantY.contains { $0.isNaN })
        #expect(switches == wantSwitches)
    }

    @Test("an all −inf window keeps its first element; an empty one gives 0 and −1", arguments: strataPaths)
    func edgeCases(_ isa: GEMMPath) {
        let x = [Float](repeating: -.infinity, count: 4)
        var y = [Float](repeating: .nan, count: 4), switches = [Int32](repeating: 9, count: 4)
        // 2×2 plane, 1×1 window, stride 2, pad 1: outputs (0,0) and (1,1) see (−1,−1)… only (1,1) is inside.
        strata_maxpool_plane_f32(isa.code, x, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, &y, &switches)
        #expect(switches == [-1, -1, -1, 3])
        #expect(y[0] == 0 && y[3] == -.infinity)
        var y2: [Float] = [0], s2: [Int32] = [0]
        strata_maxpool_plane_f32(isa.code, x, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, &y2, &s2)
        #expect(s2 == [0] && y2 == [-.infinity])
    }
}
