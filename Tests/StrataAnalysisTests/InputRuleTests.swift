import Foundation
import StrataAnalysis
import StrataCPU
import StrataFormats
import StrataIR
import StrataTrain
import Testing

/// The one input rule: raw pixels → the analysis' change → the mean subtracted.
@Suite("Input rule")
struct InputRuleTests {
    let c = 2, h = 8, w = 8

    /// A rule that subtracts `mean` (C×H×W at the input size).
    func rule(mean: [Float]) -> InputRule {
        InputRule(preprocessing: Preprocessing(stored: (c, h, w), input: (h, w), mean: mean, flip: false, randomCrop: false, pcaColor: 0,
                                               pcaValues: [], pcaVectors: []), description: "a test mean")
    }

    /// x shifted right by `d` whole pixels, black (0) where uncovered.
    func shifted(_ x: ArraySlice<Float>, by d: Int) -> [Float] {
        let x = Array(x)
        var out = [Float](repeating: 0, count: x.count)
        for ch in 0..<c { for y in 0..<h { for xx in d..<w { out[(ch * h + y) * w + xx] = x[(ch * h + y) * w + xx - d] } } }
        return out
    }

    /// The sweep computes T(x) − μ (the paper's order), not T(x − μ): its distances and
    /// probabilities are those of a forward pass of the shifted raw image minus the mean.
    @Test func theSweepTransformsTheRawImageThenSubtractsTheMean() throws {
        let graph = try compile(smallNet)
        let mean = randomImages(1, c * h * w, seed: 9).map { 0.3 + 0.4 * $0 }
        let input = AnalysisInput(raw: randomImages(3, c * h * w), count: 3, labels: [0, 2, 1], names: ["a", "b", "c"], rule: rule(mean: mean))
        #expect(input.images == zip(input.raw, mean + mean + mean).map { $0 - $1 })
        let layers = [1, 4]
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 2, keeping: layers + [6], weights: randomWeights(graph))
        let rows = try Sweep.run(input, runner: runner, layers: layers, transforms: [(.translateX, [3])])
        let clean = try runner.outputs(input.images, count: 3, nodes: layers + [6])
        for i in 0..<3 {
            let paper = zip(shifted(input.rawImage(i), by: 3), mean).map { $0 - $1 }       // T(x) − μ
            let old = shifted(input.image(i), by: 3)                                       // T(x − μ)
            let expected = try runner.outputs(paper, count: 1, nodes: layers + [6]), wrong = try runner.outputs(old, count: 1, nodes: layers)
            for (k, node) in layers.enumerated() {
                let size = graph.nodes[node].shape!.elementCount!
                let reference = Array(clean[k][(i * size)..<((i + 1) * size)])
                let d = zip(expected[k], reference).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
                let dOld = zip(wrong[k], reference).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
                let row = rows.first { $0.image == i && $0.layer == graph.nodes[node].name }!
                #expect(abs(row.distance - d) <= 1e-5 * max(1, d))
                #expect(abs(row.distance - dOld) > 1e-3 * max(1, d), "T(x − μ) must differ here, else the test cannot tell the orders apart")
                #expect(row.trueProbability == Double(expected[layers.count][input.labels![i]]))
            }
        }
        // --fill mean puts the mean image where the image is uncovered: 0 in the network's input there.
        let byMean = try Sweep.run(input, runner: runner, layers: layers, transforms: [(.translateX, [3])], fill: .mean)
        var filled = zip(shifted(input.rawImage(0), by: 3), mean).map { $0 - $1 }
        for ch in 0..<c { for y in 0..<h { for x in 0..<3 { filled[(ch * h + y) * w + x] = 0 } } }
        let out = try runner.outputs(filled, count: 1, nodes: [layers[0]])[0]
        let size = graph.nodes[layers[0]].shape!.elementCount!
        let d = zip(out, clean[0][0..<size]).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
        #expect(abs(byMean.first { $0.image == 0 && $0.layer == graph.nodes[layers[0]].name }!.distance - d) <= 1e-5 * max(1, d))
    }

    /// The summary carries the absolute distance, the relative one, p(true) and top-1, each with a 95% interval.
    @Test func theSweepSummaryHasIntervalsForEveryQuantity() {
        let rows = (0..<4).map { (i: Int) -> SweepRow in
            SweepRow(image: i, transform: .rotate, amount: 30, layer: "c1", distance: Double(i + 1), relativeDistance: Double(i + 1) / 10,
                     trueProbability: 0.25 * Double(i), topLabel: i % 2)
        }
        let s = Sweep.summary(rows, labels: [0, 0, 0, 0])[0]
        #expect(s.distance.mean == 2.5 && abs(s.relativeDistance.mean - 0.25) < 1e-12)
        let half = 1.96 * (5.0 / 3).squareRoot() / 2   // s of 1, 2, 3, 4 is √(5/3)
        #expect(abs(s.distance.low - (2.5 - half)) < 1e-12 && abs(s.distance.high - (2.5 + half)) < 1e-12)
        #expect(s.accuracy.mean == 0.5 && s.accuracy.low > 0.1 && s.accuracy.high < 0.9)
        let csv = Sweep.summaryCSV([s]).split(separator: "\n")
        #expect(csv[0].split(separator: ",").count == csv[1].split(separator: ",").count)
        #expect(csv[0].contains("mean_distance,distance_ci95_low,distance_ci95_high,mean_relative_distance"))
        // Wilson's interval stays inside [0, 1] where every image is right.
        let all = Interval(successes: 5, of: 5)
        #expect(all.mean == 1 && all.high == 1 && all.low > 0.5 && all.low < 1)
    }

    /// The occluder is drawn on the raw image, then the mean subtracted: a grey patch is 0.5 − μ in the input.
    @Test func occlusionDrawsTheGreySquareOnTheRawImage() throws {
        let graph = try compile(smallNet)
        let mean = randomImages(1, c * h * w, seed: 5)
        let input = AnalysisInput(raw: randomImages(2, c * h * w), count: 2, labels: [1, 0], names: ["a", "b"], rule: rule(mean: mean))
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 4, keeping: [4, 6], weights: randomWeights(graph))
        let r = try Occlusion.run(input, runner: runner, layer: 4, patch: 3, stride: 2)
        var raw = Array(input.rawImage(1))
        for ch in 0..<c { for y in 2..<5 { for x in 4..<7 { raw[(ch * h + y) * w + x] = 0.5 } } }   // position (1, 2)
        let out = try runner.outputs(zip(raw, mean).map { $0 - $1 }, count: 1, nodes: [6])[0]
        #expect(r.probability[9 + 1 * 3 + 2] == out[0])
    }

    /// A plain weights file carries no mean: the user must say what to subtract, and what was chosen is recorded.
    @Test func plainWeightsNeedAMeanAndTheChoiceIsRecorded() throws {
        let plain = Safetensors.File(tensors: [("c1.weight", .init(shape: [1], values: [0]))])
        #expect(throws: FormatError.self) { try InputRule.resolve(weights: plain, path: "w.safetensors", mean: nil, input: (c, h, w)) }
        do {
            _ = try InputRule.resolve(weights: plain, path: "w.safetensors", mean: nil, input: (c, h, w))
        } catch {
            #expect("\(error)".contains("--mean FILE") && "\(error)".contains("--mean none"))
        }
        let none = try InputRule.resolve(weights: plain, path: "w.safetensors", mean: MeanChoice.none, input: (c, h, w))
        #expect(none.inputMean.allSatisfy { $0 == 0 } && none.description.contains("--mean none"))
        // A per-channel mean from an .npy, broadcast over the image.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-rule-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try NumpyArray.write(.init(shape: [2], values: [0.25, 0.75]), path: folder + "/m.npy")
        let perChannel = try InputRule.resolve(weights: plain, path: "w.safetensors", mean: .file(folder + "/m.npy"), input: (c, h, w))
        #expect(perChannel.inputMean == [Float](repeating: 0.25, count: h * w) + [Float](repeating: 0.75, count: h * w))
        // A checkpoint's stored mean (at a larger stored size) is centre-cropped to the input.
        var stored = [Float](repeating: 0, count: c * 10 * 10)
        for k in stored.indices { stored[k] = Float(k) }
        let checkpoint = Safetensors.File(tensors: [("data/mean", .init(shape: [c, 10, 10], values: stored))])
        let own = try InputRule.resolve(weights: checkpoint, path: "ck.safetensors", mean: nil, input: (c, h, w))
        #expect(own.inputMean[0] == 11 && own.inputMean[h * w] == 111 && own.description.contains("data/mean of ck.safetensors"))
        // --mean with a checkpoint replaces its mean, and says so.
        let replaced = try InputRule.resolve(weights: checkpoint, path: "ck.safetensors", mean: MeanChoice.none, input: (c, h, w))
        #expect(replaced.description.contains("instead of the mean image stored in ck.safetensors"))
        // A wrong-sized mean is refused with the sizes it takes.
        try NumpyArray.write(.init(shape: [3], values: [0, 0, 0]), path: folder + "/bad.npy")
        #expect(throws: FormatError.self) { try InputRule.resolve(weights: plain, path: "w", mean: .file(folder + "/bad.npy"), input: (c, h, w)) }
    }
}

@Suite("Correspondence control")
struct CorrespondenceControlTests {
    /// The object is what differs from the border colour; the control patch is at least half on it.
    @Test func theControlPatchCoversTheObject() {
        let (h, w) = (12, 12)
        var image = [Float](repeating: 0.1, count: h * w)
        for y in 6..<10 { for x in 1..<5 { image[y * w + x] = 0.9 } }   // a 4×4 object, bottom left
        let mask = Correspondence.objectMask(image[...], channels: 1, height: h, width: w)
        #expect(mask.filter { $0 }.count == 16)
        var random = SplitMix64(seed: 3)
        for _ in 0..<50 {
            let (rect, fallback) = Correspondence.controlRect(mask: mask, height: h, width: w, size: (3, 3), random: &random)
            #expect(!fallback)
            var on = 0
            for y in rect[0]..<(rect[0] + 3) { for x in rect[1]..<(rect[1] + 3) where mask[y * w + x] { on += 1 } }
            #expect(2 * on >= 9)
        }
        // A patch larger than the object falls back to where it covers most of it.
        let (big, fallback) = Correspondence.controlRect(mask: mask, height: h, width: w, size: (10, 10), random: &random)
        #expect(fallback && big[0] <= 6 && big[1] <= 1)
    }

    /// The part and the control are the same statistic: mean and std over image pairs, the
    /// control's pairs pooled over its draws.
    @Test func partAndControlAreTheSameStatistic() throws {
        let graph = try compile(smallNet)
        var raw = [Float](repeating: 0, count: 3 * 128)
        for i in 0..<3 { for ch in 0..<2 { for y in 2..<7 { for x in 1..<6 { raw[i * 128 + (ch * 8 + y) * 8 + x] = 0.2 + 0.1 * Float(i + ch) } } } }
        let input = AnalysisInput(images: raw, count: 3, labels: nil, names: ["a", "b", "c"], perImage: 128)
        let runner = try BatchRunner(graph: graph, backend: CPUBackend(), batch: 3, keeping: [1, 4], weights: randomWeights(graph))
        let rects = [[2, 1, 2, 2], [3, 2, 2, 2], [2, 3, 2, 2]]
        let rows = try Correspondence.run(input, parts: [("corner", rects)], runner: runner, layers: [1, 4], fill: .grey, draws: 4, seed: 1)
        #expect(rows.count == 2 && rows.allSatisfy { $0.score.pairs == 3 && $0.control.pairs == 4 * 3 && $0.controlFallbacks == 0 })
        // The part's Δ is the pair statistic of its difference vectors.
        let clean = try runner.outputs(input.images, count: 3, nodes: [1])[0]
        var covered = raw
        covered.withUnsafeMutableBufferPointer { x in
            for i in 0..<3 { OccluderFill.grey.draw(x.baseAddress! + i * 128, channels: 2, height: 8, width: 8, rect: rects[i], meanImage: []) }
        }
        let hidden = try runner.outputs(covered, count: 3, nodes: [1])[0]
        let size = clean.count / 3
        let d = (0..<3).map { i in (0..<size).map { clean[i * size + $0] - hidden[i * size + $0] } }
        let expected = Correspondence.meanAndStd(Correspondence.pairValues(d))
        #expect(rows[0].score.mean == expected.mean && rows[0].score.std == expected.std)
        let md = Correspondence.markdown(rows, parts: ["corner"], layers: ["r1", "r2"], draws: 4)
        #expect(md.contains("| corner |") && md.contains("| random (corner's size, 4 draws) |") && md.contains("Δ r1 | Δ r2"))
    }
}
