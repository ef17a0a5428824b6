import ArgumentParser
import Foundation
import StrataAnalysis
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataMPI
import StrataTrain

/// `strata sweep SPEC --weights W (--input X --labels Y | --data DATA) --transform T --layers ... --out DIR`.
struct SweepCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Invariance sweep (ZF Fig. 5): how far each layer's output moves, and the true-class probability, as inputs are transformed.",
        discussion: """
            \(MeanChoice.help) Here the change is the transform: T(x) − μ, as the paper transforms \
            the image itself. Geometric transforms map inversely about the centre, bilinear (or \
            --interpolation nearest), uncovered pixels --fill black (default), mean or edge: \
            translate-y and translate-x by d pixels (positive: down, right; whole pixels are exact \
            copies), scale by s (s > 1 zooms in), rotate by θ degrees (counter-clockwise; multiples of \
            90° are exact copies, other angles are resampled, which blurs the image and lowers p(true) \
            by itself: compare --interpolation nearest). Photometric: contrast ((x − m)·c + m, m the \
            image's mean), blur (Gaussian σ pixels) and noise (uniform ±w/2, seeded per image). \
            Default amounts: translation ±27% of the height in 21 steps, scale 1…1.8, rotation \
            0…350° by 10°. Writes DIR/sweep.csv (per image, amount and layer: image,transform,amount,\
            layer,distance,relative_distance,true_prob,top_label; distance = ‖f(T(x)) − f(x)‖, relative \
            = that over ‖f(x)‖), DIR/summary.csv (per transform, amount and layer: the mean absolute \
            and relative distance, true-class probability and top-1 accuracy over the images, each \
            with its 95% interval), per transform DIR/sweep-TRANSFORM.FORMAT (ZF Fig. 5: the distance \
            at the lowest swept layer and at the highest before the classifier, and p(true class), \
            against the amount; a line per shown image and the mean over all images with its 95% \
            interval) and DIR/TRANSFORM.FORMAT (the first --show images at each amount, raw pixels, \
            before the mean is subtracted), and DIR/run.json (with the preprocessing, fill and \
            interpolation). --scale and --clip-percentile change nothing here: these figures have \
            no heat maps.

            strata sweep SWEEP.yaml runs a sweep file instead, naming the same things for several \
            transforms at once (paths relative to the file; --out on the command line overrides):

              spec: ../networks/zfnet-mini.yaml
              weights: ../runs/mini/checkpoints/latest.safetensors
              data: /usr/share/datasets/fashion-mnist     # or input: X.npy and labels: Y.npy
              limit: 200
              layers: [conv1, conv5, fc7]
              out: sweep
              transforms:
                - {transform: translate-y, amounts: [-6, -3, 0, 3, 6]}
                - {transform: rotate}                      # the default amounts
            """)

    @OptionGroup var network: NetworkArguments
    @OptionGroup var analysis: AnalysisArguments

    @Option(help: "Transforms, comma-separated: translate-y, translate-x, scale, rotate, contrast, blur, noise.")
    var transform: String?

    @Option(help: "Amounts (with one transform), e.g. --amounts=-6,0,6; default: the paper's range scaled to the input.")
    var amounts: String?

    @Option(help: "Comma-separated layers whose outputs are compared (default: each conv and fc layer's rectified output: the ReLU right after it, else the layer).")
    var layers: String?

    @Option(help: "Seed of the noise transform.")
    var seed: UInt64 = 0

    @Option(help: "Images drawn in DIR/TRANSFORM.FORMAT (rows) and as lines in DIR/sweep-TRANSFORM.FORMAT.")
    var show = 4

    @OptionGroup var figure: FigureArguments

    @Option(help: "What a geometric transform puts where it uncovers the image: black (0), mean (the mean image: 0 after subtraction) or edge (the nearest pixel).")
    var fill: Fill = .black

    @Option(help: "bilinear, or nearest (no resampling blur: shows how much of a drop is interpolation).")
    var interpolation: Interpolation = .bilinear

    func validate() throws {
        guard (0...64).contains(show) else { throw ValidationError("--show must be between 0 and 64 (the images drawn in each strip)") }
        // A sweep file, or a file that is not YAML at all: execute reports what is wrong, located.
        if SweepFile.isSweepFile(network.spec) || !SweepFile.parses(network.spec) { return }
        try analysis.require()
        guard let transform else { throw ValidationError("missing --transform (or give a sweep file instead of a spec)") }
        let names = transform.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names where Transform(rawValue: name) == nil {
            throw ValidationError("unknown transform '\(name)'; the transforms are \(Transform.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let amounts {
            guard names.count == 1 else { throw ValidationError("--amounts goes with one --transform") }
            let t = Transform(rawValue: names[0])!
            let values = try numbers(amounts, option: "--amounts")
            for a in values where !t.accepts(a) {
                throw ValidationError("\(t.rawValue) cannot take the amount \(a)\(t == .scale || t == .contrast ? " (it must be positive)" : " (it must be 0 or more)")")
            }
            if let twice = Sweep.repeated(values) { throw ValidationError("--amounts gives \(twice) twice; each amount once") }
        }
        if let twice = Sweep.repeated(names) { throw ValidationError("--transform names \(twice) twice; each transform once") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard SweepFile.isSweepFile(network.spec) else {
            let names = (transform ?? "").split(separator: ",").map { Transform(rawValue: $0.trimmingCharacters(in: .whitespaces))! }
            let amounts = try? self.amounts.map { try numbers($0, option: "--amounts") }
            return perform(specPath: network.spec, analysis: analysis, layers: layers, transforms: names.map { ($0, amounts) }, noiseSeed: seed,
                           fill: fill, interpolation: interpolation, output: &output, errors: &errors)
        }
        let file: SweepFile
        do { file = try SweepFile.load(network.spec, maximumBatch: CommandSupport.maximumBatch) } catch let error as DiagnosticError {
            errors.write(DiagnosticRenderer(sources: [network.spec: (try? String(contentsOfFile: network.spec, encoding: .utf8)) ?? ""]).render(error.diagnostics))
            return 1
        } catch {
            errors.write("error: \(error)\n")
            return 1
        }
        let options: AnalysisArguments
        do { options = try AnalysisArguments.parse(Self.arguments(file, out: analysis.out)); try options.require() } catch {
            errors.write("error: \(network.spec): \(AnalysisArguments.message(for: error))\n")
            return 1
        }
        return perform(specPath: file.spec, analysis: options, layers: file.layers?.joined(separator: ","), transforms: file.transforms.map { ($0.transform, $0.amounts) },
                       noiseSeed: file.seed ?? seed, fill: file.fill ?? fill, interpolation: file.interpolation ?? interpolation, output: &output, errors: &errors)
    }

    /// A sweep file's images, weights and output as the options they stand for, checked as the
    /// command line's are; `out` (the command line's --out) overrides the file's.
    static func arguments(_ file: SweepFile, out: String?) -> [String] {
        let options = [("--weights", file.weights), ("--data", file.data), ("--input", file.input), ("--labels", file.labels), ("--split", file.split),
                       ("--limit", file.limit.map(String.init)), ("--batch", file.batch.map(String.init)), ("--mean", file.mean), ("--out", out ?? file.out)]
        return options.flatMap { option, value in value.map { [option, $0] } ?? [] }
    }

    func perform(specPath: String, analysis: AnalysisArguments, layers: String?, transforms: [(Transform, [Double]?)], noiseSeed seed: UInt64,
                 fill: Fill, interpolation: Interpolation, output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(specPath, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("sweep", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let nodes = try layers.map { try CommandSupport.layers($0, in: graph) } ?? Sweep.defaultLayers(graph)
            let (file, input) = try analysis.load(graph)
            guard let labels = input.labels else { throw CommandError("a sweep needs labels: give --labels with --input, or use --data") }
            let plan = transforms.map { ($0.0, $0.1 ?? $0.0.defaultAmounts(height: graph.input.height)) }
            try Sweep.check(plan, height: graph.input.height, width: graph.input.width)
            let runner = try Sweep.runner(graph: graph, backend: try network.backend, batch: analysis.batchSize(spec), layers: nodes,
                                          weights: file.parameterTensors)
            _ = try runner.executor(min(runner.batch, input.count))   // plans made before the clock starts
            let started = Date()
            // Under mpirun the images are spread over the ranks; rank 0 writes the results.
            let world = World.current
            let rows = try Sweep.run(input, runner: runner, layers: nodes, transforms: plan, noiseSeed: seed, fill: fill, interpolation: interpolation,
                                     communicator: world, progress: progress.update)
            guard world.isRoot else { return 0 }
            let rate = Double(input.count * plan.reduce(0) { $0 + $1.1.count }) / max(Date().timeIntervalSince(started), 1e-9)
            try makeDirectory(analysis.outPath)
            try AtomicFile.write(Data(Sweep.rowsCSV(rows).utf8), to: "\(analysis.outPath)/sweep.csv")
            try AtomicFile.write(Data(Sweep.summaryCSV(Sweep.summary(rows, labels: labels)).utf8), to: "\(analysis.outPath)/summary.csv")
            let shown = try writeFigures(plan, rows: rows, input: input, graph: graph, nodes: nodes, weightsPath: analysis.weightsPath, folder: analysis.outPath,
                                         noiseSeed: seed, fill: fill, interpolation: interpolation)
            try RunRecord.write(to: analysis.outPath, command: "sweep", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: analysis.weightsPath,
                                rule: input.rule,
                                parameters: [("order", "transform the raw image, then subtract the mean: T(x) − μ"), ("fill", fill.rawValue),
                                             ("interpolation", interpolation.rawValue), ("transforms", plan.map { "\($0.0.rawValue): \($0.1.map(csv).joined(separator: ","))" }.joined(separator: "; ")),
                                             ("layers", nodes.map { graph.nodes[$0].name }.joined(separator: ",")), ("images", "\(input.count)"),
                                             ("noise_seed", "\(seed)"), ("batch", "\(runner.batch)")] + (shown.isEmpty ? [] : [("strips", shown.joined(separator: "; "))]))
            for line in shown { output.write("note: \(line)\n") }
            output.write("swept \(input.count) images × \(plan.reduce(0) { $0 + $1.1.count }) transformed copies × \(nodes.count) layers "
                         + "(\(Int(rate.rounded())) transformed images/s); wrote \(analysis.outPath)/sweep.csv, summary.csv\n")
            return 0
        }
    }
}

extension SweepCommand {
    /// Per transform, sweep-TRANSFORM.FORMAT (Fig. 5) and, with --show, the strip TRANSFORM.FORMAT;
    /// returns a note for each strip that shows a sample of the amounts.
    func writeFigures(_ plan: [(Transform, [Double])], rows: [SweepRow], input: AnalysisInput, graph: Graph, nodes: [Int], weightsPath: String,
                      folder: String, noiseSeed: UInt64, fill: Fill, interpolation: Interpolation) throws -> [String] {
        let ext = figure.format.fileExtension
        let panels = Sweep.figureLayers(graph, layers: nodes).map { graph.nodes[$0].name }
        var notes: [String] = []
        for (t, all) in plan {
            let curves = SweepFigure(transform: t, amounts: all, rows: rows, input: input, shown: show, layers: panels, swept: nodes.map { graph.nodes[$0].name },
                                     network: graph.name, checkpoint: (weightsPath as NSString).lastPathComponent, fill: fill, interpolation: interpolation,
                                     noiseSeed: noiseSeed)
            try curves.write(to: "\(folder)/sweep-\(t.rawValue).\(ext)", format: figure.format)
            guard show > 0 else { continue }
            let strip = SweepStrip(input, shape: graph.input, transform: t, amounts: all, images: show, noiseSeed: noiseSeed, fill: fill, interpolation: interpolation)
            if strip.amounts.count < all.count { notes.append("\(t.rawValue).\(ext) shows \(strip.amounts.count) of the \(all.count) amounts, evenly spaced") }
            try strip.write(to: "\(folder)/\(t.rawValue).\(ext)", format: figure.format)
        }
        return notes
    }
}

extension Fill: ExpressibleByArgument {}
extension Interpolation: ExpressibleByArgument {}
