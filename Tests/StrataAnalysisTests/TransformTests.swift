import StrataAnalysis
import StrataCPU
import StrataFormats
import StrataIR
import Testing

@Suite("Transforms")
struct TransformTests {
    let c = 2, h = 7, w = 7

    func apply(_ t: Transform, _ x: [Float], _ amount: Double, height: Int? = nil, width: Int? = nil, fill: Fill = .black,
               interpolation: Interpolation = .bilinear, meanImage: [Float]? = nil) -> [Float] {
        let (hh, ww) = (height ?? h, width ?? w)
        var out = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer {
                t.apply(i.baseAddress!, $0.baseAddress!, channels: c, height: hh, width: ww, amount: amount, fill: fill, interpolation: interpolation, meanImage: meanImage)
            }
        }
        return out
    }

    /// Uncovered pixels: black is 0, mean is the mean image's pixel there, edge repeats the border.
    @Test func theFillOfUncoveredPixels() {
        let x = randomImages(1, c * h * w), mean = randomImages(1, c * h * w)
        let black = apply(.translateX, x, 2), byMean = apply(.translateX, x, 2, fill: .mean, meanImage: mean), edge = apply(.translateX, x, 2, fill: .edge)
        for ch in 0..<c {
            for y in 0..<h {
                let row = (ch * h + y) * w
                for xx in 0..<2 {
                    #expect(black[row + xx] == 0)
                    #expect(byMean[row + xx] == mean[row + xx])
                    #expect(edge[row + xx] == x[row])   // the first column, repeated
                }
                for xx in 2..<w { #expect(black[row + xx] == x[row + xx - 2] && byMean[row + xx] == black[row + xx] && edge[row + xx] == black[row + xx]) }
            }
        }
        // Half a pixel: the border pixel mixes the first column with half the fill.
        let half = apply(.translateX, x, 0.5, fill: .mean, meanImage: mean)
        #expect(abs(half[0] - (0.5 * x[0] + 0.5 * mean[0])) < 1e-6)
        #expect(abs(apply(.translateX, x, 0.5)[0] - 0.5 * x[0]) < 1e-6)
    }

    /// Nearest interpolation reads one source pixel: every output value is an input value or the fill.
    @Test func nearestInterpolationDoesNotBlend() {
        let x = randomImages(1, c * h * w)
        let values = Set(x + [0])
        for (t, amount) in [(Transform.rotate, 30.0), (.scale, 1.3), (.translateY, 0.4)] {
            let near = apply(t, x, amount, interpolation: .nearest)
            #expect(near.allSatisfy { values.contains($0) }, "\(t) \(amount)")
            #expect(apply(t, x, amount).contains { !values.contains($0) }, "bilinear \(t) \(amount) blends")
        }
        // Whole-pixel shifts are the same either way.
        #expect(apply(.translateX, x, 2, interpolation: .nearest) == apply(.translateX, x, 2))
    }

    @Test(arguments: Transform.allCases)
    func theIdentityAmountCopies(_ t: Transform) {
        let x = randomImages(1, c * h * w)
        #expect(apply(t, x, t.identity) == x)
    }

    @Test func integerTranslationsShiftExactly() {
        let x = randomImages(1, c * h * w)
        let down = apply(.translateY, x, 2), left = apply(.translateX, x, -3)
        for ch in 0..<c { for y in 0..<h { for xx in 0..<w {
            let i = (ch * h + y) * w + xx
            #expect(down[i] == (y >= 2 ? x[(ch * h + y - 2) * w + xx] : 0))
            #expect(left[i] == (xx + 3 < w ? x[(ch * h + y) * w + xx + 3] : 0))
        } } }
    }

    /// 90° counter-clockwise as displayed: the output at (y, x) is the input at (x, W−1−y)… for a
    /// square image, so the top row becomes the left column, read bottom to top.
    @Test func rotationsBy90DegreesAreExactOnSquareImages() {
        let x = randomImages(1, c * h * w)
        let r = apply(.rotate, x, 90), r360 = apply(.rotate, x, 360), r180 = apply(.rotate, x, 180)
        for ch in 0..<c { for y in 0..<h { for xx in 0..<w {
            #expect(r[(ch * h + y) * w + xx] == x[(ch * h + xx) * w + (w - 1 - y)])
            #expect(r180[(ch * h + y) * w + xx] == x[(ch * h + h - 1 - y) * w + (w - 1 - xx)])
        } } }
        #expect(r360 == x)
    }

    @Test func scaleZoomsAboutTheCentre() {
        // Zooming by 2 about the centre of a 7×7 image: the centre stays, (y, x) reads (c + (y−c)/2).
        let x = randomImages(1, c * h * w)
        let z = apply(.scale, x, 2)
        #expect(z[3 * w + 3] == x[3 * w + 3])
        #expect(z[1 * w + 1] == x[2 * w + 2])
        #expect(abs(z[0] - (x[w + 1] + x[w + 2] + x[2 * w + 1] + x[2 * w + 2]) / 4) < 1e-6)
    }

    @Test func photometricTransforms() {
        let x = randomImages(1, c * h * w)
        // Contrast about each channel's mean: the mean stays, the deviations halve.
        let lower = apply(.contrast, x, 0.5)
        for ch in 0..<c {
            let plane = (ch * h * w)..<((ch + 1) * h * w)
            let m = x[plane].reduce(0, +) / Float(h * w)
            #expect(abs(lower[plane].reduce(0, +) / Float(h * w) - m) < 1e-5)
            for i in plane { #expect(abs(lower[i] - (m + (x[i] - m) * 0.5)) < 1e-5) }
        }
        let noisy = apply(.noise, x, 0.2)
        #expect(zip(noisy, x).allSatisfy { abs($0 - $1) <= 0.1 } && noisy != x)
        // A blur keeps a constant interior and spreads an impulse into a normalised bump.
        var impulse = [Float](repeating: 0, count: c * 15 * 15)
        impulse[7 * 15 + 7] = 1
        let blurred = apply(.blur, impulse, 1.5, height: 15, width: 15)
        #expect(abs(blurred[0..<225].reduce(0, +) - 1) < 1e-5)
        #expect(blurred[7 * 15 + 7] == blurred[0..<225].max())
    }

    @Test func defaultAmountsFollowThePaperScaledToTheInput() {
        let t = Transform.translateY.defaultAmounts(height: 224)
        #expect(t.first == -60 && t.last == 60 && t.count == 21)
        #expect(Transform.scale.defaultAmounts(height: 224).last == 1.8)
        #expect(Transform.rotate.defaultAmounts(height: 28).count == 36)
    }
}

@Suite("Sweep")
struct SweepTests {
    @Test func identityAmountsGiveZeroDistanceAndTheOriginalProbabilities() throws {
        let graph = try compile(smallNet)
        let images = randomImages(5, 128)
        let input = AnalysisInput(images: images, count: 5, labels: [0, 1, 2, 0, 1], names: (0..<5).map { "\($0)" }, perImage: 128)
        let layers = [0, 3, 5]
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 2, keeping: layers + [6], weights: randomWeights(graph))
        let rows = try Sweep.run(input, runner: runner, layers: layers,
                                 transforms: [(.translateX, [0, 1]), (.scale, [1]), (.rotate, [0, 90]), (.contrast, [1])])
        #expect(rows.count == 5 * 6 * 3)
        let probabilities = try runner.outputs(images, count: 5, nodes: [6])[0]
        for r in rows where r.amount == r.transform.identity {
            #expect(r.distance == 0 && r.relativeDistance == 0)
            #expect(r.trueProbability == Double(probabilities[r.image * 3 + input.labels![r.image]]))
        }
        #expect(rows.contains { $0.transform == .rotate && $0.amount == 90 && $0.distance > 0 })
        // Observing the layers during the run (memory reused) gives the same rows as keeping them.
        let observing = try Sweep.runner(graph: graph, backend: CPUBackend(), batch: 2, layers: layers, weights: randomWeights(graph))
        #expect(try observing.executor(2).plan.arenaBytes < runner.executor(2).plan.arenaBytes)
        let observed = try Sweep.run(input, runner: observing, layers: layers,
                                     transforms: [(.translateX, [0, 1]), (.scale, [1]), (.rotate, [0, 90]), (.contrast, [1])])
        #expect(observed.map(\.distance) == rows.map(\.distance) && observed.map(\.trueProbability) == rows.map(\.trueProbability))
        let summary = Sweep.summary(rows, labels: input.labels!)
        #expect(summary.count == 6 * 3 && summary.allSatisfy { $0.images == 5 && $0.relativeDistance.low <= $0.relativeDistance.mean && $0.relativeDistance.mean <= $0.relativeDistance.high })
    }
}

@Suite("What a sweep writes")
struct SweepOutputTests {
    @Test func theDefaultLayersAreEachConvAndFcRectified() throws {
        let graph = try compile(smallNet)
        // c1 → r1, c2 → r2, f1 (no ReLU after it) itself.
        #expect(Sweep.defaultLayers(graph) == [1, 4, 5])
    }

    @Test func aBlurWiderThanTheImageIsRefused() {
        #expect(throws: Never.self) { try Sweep.check([(.blur, [0, 8]), (.rotate, [90])], height: 8, width: 6) }
        let error = #expect(throws: SweepError.self) { try Sweep.check([(.blur, [1, 9])], height: 8, width: 6) }
        #expect(error?.description == "blur σ 9.0 is wider than the image (8 pixels), where a blur shows nothing more; give σ between 0 and 8")
        #expect(Sweep.repeated([1, 2, 3, 2, 1]) == 2 && Sweep.repeated(["a", "b"]) == nil)
    }

    @Test func sweepCSVHasAHeaderAndALinePerRow() {
        let rows = [SweepRow(image: 0, transform: .rotate, amount: 90, layer: "c1", distance: 1.5, relativeDistance: 0.25, trueProbability: 0.5, topLabel: 2),
                    SweepRow(image: 1, transform: .blur, amount: 0.5, layer: "f1", distance: 0, relativeDistance: .infinity, trueProbability: 1, topLabel: 0)]
        let lines = Sweep.rowsCSV(rows).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines == ["image,transform,amount,layer,distance,relative_distance,true_prob,top_label",
                          "0,rotate,90.0,c1,1.5,0.25,0.5,2", "1,blur,0.5,f1,0.0,inf,1.0,0", ""])
        #expect(Sweep.rowsCSV([]) == "image,transform,amount,layer,distance,relative_distance,true_prob,top_label\n")
    }
}
