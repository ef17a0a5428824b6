import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFormats
import StrataIR
import StrataTrain

/// `strata sweep SPEC --weights W (--input X --labels Y | --data DATA) --transform T --layers ... --out DIR`.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Invariance sweep (ZF Fig. 5): how far each layer's output moves, and the true-class probability, as inputs are transformed.",
        discussion: """
            Transforms act on the network input after preprocessing, by inverse bilinear mapping about \
            the centre (0 outside, the mean): translate-y and translate-x by d pixels (positive: down, \
            right), scale by s (s > 1 zooms in), rotate by θ degrees (counter-clockwise), and the \
            photometric contrast (x·c), blur (Gaussian σ pixels) and noise (uniform ±w/2, seeded per \
            image). Default amounts: translation ±27% of the height in 21 steps, scale 1…1.8, rotation \
            0…350° by 10°. Writes DIR/sweep.csv (image,transform,amount,layer,distance,relative_distance,\
            true_prob,top_label), DIR/summary.csv (per transform, amount and layer: the mean relative \
            distance with its 95% interval, the mean true-class probability and the top-1 accuracy), \
            DIR/TRANSFORM.png (the first images at each amount) and DIR/run.json.
            """)

    @OptionGroup var network: NetworkArguments
    @OptionGroup var analysis: AnalysisArguments

    @Option(help: "Transforms, comma-separated: translate-y, translate-x, scale, rotate, contrast, blur, noise.")
    var transform: String

    @Option(help: "Amounts (with one transform), e.g. --amounts=-6,0,6; default: the paper's range scaled to the input.")
    var amounts: String?

    @Option(help: "Comma-separated layers whose outputs are compared (default: each conv and fc layer's rectified output: the ReLU right after it, else the layer).")
    var layers: String?

    @Option(help: "Seed of the noise transform.")
    var seed: UInt64 = 0

    @Option(help: "Images drawn in DIR/TRANSFORM.png.")
    var show = 4

    func validate() throws {
        let names = transform.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names where Transform(rawValue: name) == nil {
            throw ValidationError("unknown transform '\(name)'; the transforms are \(Transform.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let amounts {
            guard names.count == 1 else { throw ValidationError("--amounts goes with one --transform") }
            let t = Transform(rawValue: names[0])!
            for a in try numbers(amounts, option: "--amounts") where !t.accepts(a) {
                throw ValidationError("\(t.rawValue) cannot take the amount \(a)\(t == .scale || t == .contrast ? " (it must be positive)" : " (it must be 0 or more)")")
            }
        }
        guard show >= 0 else { throw ValidationError("--show must be 0 or more") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("sweep", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let nodes = try layers.map { try CommandSupport.layers($0, in: graph) } ?? graph.nodes.indices.filter { ["conv", "fc"].contains(graph.nodes[$0].op) }.map { i in
                graph.nodes.firstIndex { $0.op == "relu" && $0.inputs == [.node(i)] } ?? i
            }
            let (file, input) = try analysis.load(graph)
            guard let labels = input.labels else { throw CommandError("a sweep needs labels: give --labels with --input, or use --data") }
            let chosen = transform.split(separator: ",").map { Transform(rawValue: $0.trimmingCharacters(in: .whitespaces))! }
            let plan = try chosen.map { t in (t, try amounts.map { try numbers($0, option: "--amounts") } ?? t.defaultAmounts(height: graph.input.height)) }
            let runner = try BatchRunner(graph: graph, backend: network.backend, batch: analysis.batchSize(spec),
                                         keeping: nodes + [graph.nodes.count - 1], weights: file.parameterTensors)
            _ = try runner.executor(min(runner.batch, input.count))   // plans made before the clock starts
            let started = Date()
            let rows = try Sweep.run(input, runner: runner, layers: nodes, transforms: plan, noiseSeed: seed, progress: progress.update)
            let rate = Double(input.count * plan.reduce(0) { $0 + $1.1.count }) / max(Date().timeIntervalSince(started), 1e-9)
            try makeDirectory(analysis.out)
            var text = "image,transform,amount,layer,distance,relative_distance,true_prob,top_label\n"
            for r in rows {
                text += "\(r.image),\(r.transform.rawValue),\(csv(r.amount)),\(r.layer),\(csv(r.distance)),\(csv(r.relativeDistance)),\(csv(r.trueProbability)),\(r.topLabel)\n"
            }
            try AtomicFile.write(Data(text.utf8), to: "\(analysis.out)/sweep.csv")
            var summary = "transform,amount,layer,images,mean_relative_distance,ci95_low,ci95_high,mean_true_prob,top1_accuracy\n"
            for s in Sweep.summary(rows, labels: labels) {
                summary += "\(s.transform.rawValue),\(csv(s.amount)),\(s.layer),\(s.images),\(csv(s.meanRelativeDistance)),\(csv(s.low)),\(csv(s.high)),"
                    + "\(csv(s.meanTrueProbability)),\(csv(s.accuracy))\n"
            }
            try AtomicFile.write(Data(summary.utf8), to: "\(analysis.out)/summary.csv")
            // A strip per transform: the first images (rows) at every amount (columns).
            let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
            let factor = max(1, 64 / max(h, w))
            for (t, list) in plan where show > 0 {
                var cells: [Images.Image?] = []
                for i in 0..<min(show, input.count) {
                    let original = input.image(i)
                    let range = Picture.range(original)
                    var moved = [Float](repeating: 0, count: input.perImage)
                    for a in list {
                        Array(original).withUnsafeBufferPointer { x in
                            moved.withUnsafeMutableBufferPointer { t.apply(x.baseAddress!, $0.baseAddress!, channels: c, height: h, width: w, amount: a, seed: seed ^ UInt64(i) &* 0x9E37_79B9_7F4A_7C15) }
                        }
                        cells.append(Picture.enlarge(Picture.display(moved[...], channels: c, height: h, width: w, range: range), factor))
                    }
                }
                try Picture.write(Picture.grid(cells, columns: list.count), to: "\(analysis.out)/\(t.rawValue).png")
            }
            try RunRecord.write(to: analysis.out, command: "sweep", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: analysis.weights,
                                parameters: [("transforms", plan.map { "\($0.0.rawValue): \($0.1.map(csv).joined(separator: ","))" }.joined(separator: "; ")),
                                             ("layers", nodes.map { graph.nodes[$0].name }.joined(separator: ",")), ("images", "\(input.count)"),
                                             ("noise_seed", "\(seed)"), ("batch", "\(runner.batch)")])
            output.write("swept \(input.count) images × \(plan.reduce(0) { $0 + $1.1.count }) transformed copies × \(nodes.count) layers "
                         + "(\(Int(rate.rounded())) transformed images/s); wrote \(analysis.out)/sweep.csv, summary.csv\n")
            return 0
        }
    }
}
