import ArgumentParser
import Foundation
import StrataAnalysis
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataMPI
import StrataSpec
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
            with its 95% interval), DIR/TRANSFORM.png (the first images at each amount, raw pixels) \
            and DIR/run.json (with the preprocessing, fill and interpolation).

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

    @Option(help: "Images drawn in DIR/TRANSFORM.png.")
    var show = 4

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
            if let twice = Self.repeated(values) { throw ValidationError("--amounts gives \(twice) twice; each amount once") }
        }
        if let twice = Self.repeated(names) { throw ValidationError("--transform names \(twice) twice; each transform once") }
    }

    /// The most amounts a strip shows across.
    static let stripColumns = 40

    /// `count` of `values`, evenly spaced, the first and the last included (all when there are no more).
    static func sample<T>(_ values: [T], count: Int) -> [T] {
        guard values.count > count, count >= 2 else { return values }
        return (0..<count).map { values[$0 * (values.count - 1) / (count - 1)] }
    }

    /// The first value given twice.
    static func repeated<T: Hashable>(_ values: [T]) -> T? {
        var seen = Set<T>()
        return values.first { !seen.insert($0).inserted }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard SweepFile.isSweepFile(network.spec) else {
            let names = (transform ?? "").split(separator: ",").map { Transform(rawValue: $0.trimmingCharacters(in: .whitespaces))! }
            let amounts = try? self.amounts.map { try numbers($0, option: "--amounts") }
            return perform(specPath: network.spec, analysis: analysis, layers: layers, transforms: names.map { ($0, amounts) }, noiseSeed: seed,
                           fill: fill, interpolation: interpolation, output: &output, errors: &errors)
        }
        let file: SweepFile
        do { file = try SweepFile.load(network.spec) } catch let error as DiagnosticError {
            errors.write(DiagnosticRenderer(sources: [network.spec: (try? String(contentsOfFile: network.spec, encoding: .utf8)) ?? ""]).render(error.diagnostics))
            return 1
        } catch {
            errors.write("error: \(error)\n")
            return 1
        }
        var arguments = file.arguments
        if let out = analysis.out { arguments += ["--out", out] }
        let options: AnalysisArguments
        do { options = try AnalysisArguments.parse(arguments); try options.require() } catch {
            errors.write("error: \(network.spec): \(AnalysisArguments.message(for: error))\n")
            return 1
        }
        return perform(specPath: file.spec, analysis: options, layers: file.layers, transforms: file.transforms, noiseSeed: file.seed ?? seed,
                       fill: file.fill ?? fill, interpolation: file.interpolation ?? interpolation, output: &output, errors: &errors)
    }

    func perform(specPath: String, analysis: AnalysisArguments, layers: String?, transforms: [(Transform, [Double]?)], noiseSeed seed: UInt64,
                 fill: Fill, interpolation: Interpolation, output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(specPath, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("sweep", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let nodes = try layers.map { try CommandSupport.layers($0, in: graph) } ?? graph.nodes.indices.filter { ["conv", "fc"].contains(graph.nodes[$0].op) }.map { i in
                graph.nodes.firstIndex { $0.op == "relu" && $0.inputs == [.node(i)] } ?? i
            }
            let (file, input) = try analysis.load(graph)
            guard let labels = input.labels else { throw CommandError("a sweep needs labels: give --labels with --input, or use --data") }
            let plan = transforms.map { ($0.0, $0.1 ?? $0.0.defaultAmounts(height: graph.input.height)) }
            // A blur's cost grows with σ (a kernel of 6σ + 1 taps); past the image's side it shows nothing more.
            let side = max(graph.input.height, graph.input.width)
            for (t, list) in plan where t == .blur {
                if let wide = list.first(where: { $0 > Double(side) }) {
                    throw CommandError("blur σ \(csv(wide)) is wider than the image (\(side) pixels), where a blur shows nothing more; give σ between 0 and \(side)")
                }
            }
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
            var text = "image,transform,amount,layer,distance,relative_distance,true_prob,top_label\n"
            for r in rows {
                text += "\(r.image),\(r.transform.rawValue),\(csv(r.amount)),\(r.layer),\(csv(r.distance)),\(csv(r.relativeDistance)),\(csv(r.trueProbability)),\(r.topLabel)\n"
            }
            try AtomicFile.write(Data(text.utf8), to: "\(analysis.outPath)/sweep.csv")
            let summary = Sweep.summaryCSV(Sweep.summary(rows, labels: labels))
            try AtomicFile.write(Data(summary.utf8), to: "\(analysis.outPath)/summary.csv")
            // A strip per transform: the first images (rows) at every amount (columns), as raw pixels.
            let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
            let factor = max(1, 64 / max(h, w))
            let meanImage = fill == .mean ? input.rule.inputMean : nil
            var shown: [String] = []
            for (t, all) in plan where show > 0 {
                // At most 40 amounts across (every default list fits) (evenly spaced, the first and last included).
                let list = Self.sample(all, count: Self.stripColumns)
                if list.count < all.count { shown.append("\(t.rawValue).png shows \(list.count) of the \(all.count) amounts, evenly spaced") }
                var cells: [Images.Image?] = []
                for i in 0..<min(show, input.count) {
                    let original = Array(input.rawImage(i))
                    var moved = [Float](repeating: 0, count: input.perImage)
                    for a in list {
                        original.withUnsafeBufferPointer { x in
                            moved.withUnsafeMutableBufferPointer {
                                t.apply(x.baseAddress!, $0.baseAddress!, channels: c, height: h, width: w, amount: a, seed: Sweep.noiseSeed(seed, image: i),
                                        fill: fill, interpolation: interpolation, meanImage: meanImage)
                            }
                        }
                        cells.append(Picture.enlarge(Picture.display(moved[...], channels: c, height: h, width: w, range: Picture.rawRange(original)), factor))
                    }
                }
                try Picture.write(Picture.grid(cells, columns: list.count), to: "\(analysis.outPath)/\(t.rawValue).png")
            }
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

/// A sweep file: the spec, weights, data, layers and a list of `{transform, amounts}`, read with
/// located errors. Paths are relative to the file.
struct SweepFile {
    var spec: String
    var arguments: [String]
    var layers: String?
    var seed: UInt64?
    var fill: Fill?
    var interpolation: Interpolation?
    var transforms: [(Transform, [Double]?)]

    /// Whether `path` is a YAML file with a `transforms:` key (a sweep file, not a network spec).
    static func isSweepFile(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.utf8.count < YAMLReader.maximumBytes,
              let root = try? YAMLReader.parse(text: text, file: path) else { return false }
        return root.mapping?.contains { $0.key == "transforms" } == true
    }

    /// Whether `path` reads as YAML (a file that does not goes to the spec loader, which says where it breaks).
    static func parses(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return true }
        return text.utf8.count >= YAMLReader.maximumBytes || (try? YAMLReader.parse(text: text, file: path)) != nil
    }

    static func load(_ path: String) throws -> SweepFile {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let root = try YAMLReader.parse(text: text, file: path)
        let folder = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || folder.isEmpty ? p : "\(folder)/\(p)" }
        var problems: [Diagnostic] = []
        let entries = root.mapping ?? []
        let known = ["spec", "weights", "mean", "data", "input", "labels", "split", "limit", "batch", "layers", "out", "seed", "fill", "interpolation", "transforms"]
        for e in entries where !known.contains(e.key) {
            let hint = Spelling.suggestion(for: e.key, among: known).map { "; did you mean '\($0)'?" } ?? ""
            problems.append(.error("unknown key '\(e.key)' in a sweep file\(hint) (keys: \(known.joined(separator: ", ")))", at: e.keyLocation))
        }
        func scalar(_ key: String) -> String? {
            guard let e = entries.first(where: { $0.key == key }) else { return nil }
            guard let v = e.value.scalar else { problems.append(.error("'\(key)' must be a single value", at: e.value.location)); return nil }
            return v
        }
        guard let spec = scalar("spec") else {
            throw DiagnosticError(problems + [.error("a sweep file names its network: 'spec: PATH'", at: root.location)])
        }
        var arguments: [String] = []
        for key in ["weights", "data", "input", "labels"] { if let v = scalar(key) { arguments += ["--\(key)", resolve(v)] } }
        if let v = scalar("split") { arguments += ["--split", v] }
        for (key, range) in [("limit", 1...100_000_000), ("batch", 1...CommandSupport.maximumBatch)] {
            guard let v = scalar(key) else { continue }
            guard let n = Int(v), range.contains(n) else {
                problems.append(.error("'\(key)' must be a whole number between \(range.lowerBound) and \(range.upperBound), got '\(v)'", at: entries.first { $0.key == key }!.value.location))
                continue
            }
            arguments += ["--\(key)", "\(n)"]
        }
        // A mean is a path unless it is one of the words.
        if let v = scalar("mean") { arguments += ["--mean", ["none", "train"].contains(v) ? v : resolve(v)] }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) -> T? where T.RawValue == String {
            guard let v = scalar(key) else { return nil }
            guard let value = T(rawValue: v) else {
                let names = T.allCases.map(\.rawValue)
                let hint = Spelling.suggestion(for: v, among: names).map { "; did you mean '\($0)'?" } ?? ""
                problems.append(.error("'\(key)' is one of \(names.joined(separator: ", ")), not '\(v)'\(hint)", at: entries.first { $0.key == key }!.value.location))
                return nil
            }
            return value
        }
        let fill = choice("fill", Fill.self), interpolation = choice("interpolation", Interpolation.self)
        if let v = scalar("out") { arguments += ["--out", resolve(v)] }
        var layers: String?
        if let e = entries.first(where: { $0.key == "layers" }) {
            if let list = e.value.sequence, list.allSatisfy({ $0.scalar != nil }) { layers = list.compactMap(\.scalar).joined(separator: ",") }
            else if let one = e.value.scalar { layers = one }
            else { problems.append(.error("'layers' must be a layer name or a list of layer names", at: e.value.location)) }
        }
        var transforms: [(Transform, [Double]?)] = []
        if !entries.contains(where: { $0.key == "transforms" }) {
            problems.append(.error("a sweep file lists its transforms: 'transforms: [{transform: NAME, amounts: [...]}]'", at: root.location))
        }
        if let e = entries.first(where: { $0.key == "transforms" }) {
            if let list = e.value.sequence, !list.isEmpty {
                for item in list {
                    guard let m = item.mapping, let name = m.first(where: { $0.key == "transform" })?.value.scalar else {
                        problems.append(.error("expected {transform: NAME, amounts: [...]}", at: item.location)); continue
                    }
                    for key in m.map(\.key) where !["transform", "amounts"].contains(key) {
                        let hint = Spelling.suggestion(for: key, among: ["transform", "amounts"]).map { "; did you mean '\($0)'?" } ?? ""
                        problems.append(.error("unknown key '\(key)' in a transform\(hint) (a transform takes 'transform' and 'amounts')", at: m.first { $0.key == key }!.keyLocation))
                    }
                    guard let t = Transform(rawValue: name) else {
                        let hint = Spelling.suggestion(for: name, among: Transform.allCases.map(\.rawValue)).map { "; did you mean '\($0)'?" } ?? ""
                        problems.append(.error("unknown transform '\(name)'\(hint) (transforms: \(Transform.allCases.map(\.rawValue).joined(separator: ", ")))", at: item.location))
                        continue
                    }
                    var amounts: [Double]?
                    if let a = m.first(where: { $0.key == "amounts" }) {
                        let values = a.value.sequence?.compactMap { $0.scalar.flatMap(Double.init) } ?? []
                        guard let count = a.value.sequence?.count, values.count == count, !values.isEmpty, values.allSatisfy(t.accepts) else {
                            problems.append(.error("'amounts' of \(name) must be a list of numbers it accepts\(t == .scale || t == .contrast ? " (positive)" : "")", at: a.value.location))
                            continue
                        }
                        amounts = values
                    }
                    if transforms.contains(where: { $0.0 == t }) {
                        problems.append(.error("transform '\(name)' is listed twice; list each transform once, with all its amounts", at: item.location))
                        continue
                    }
                    if let amounts, let twice = SweepCommand.repeated(amounts) {
                        problems.append(.error("'amounts' of \(name) gives \(twice) twice; each amount once", at: m.first { $0.key == "amounts" }!.value.location))
                        continue
                    }
                    transforms.append((t, amounts))
                }
            } else {
                problems.append(.error("'transforms' must be a list of {transform: NAME, amounts: [...]}", at: e.value.location))
            }
        }
        if !problems.isEmpty { throw DiagnosticError(problems) }
        var seed: UInt64?
        if let v = scalar("seed") {
            seed = UInt64(v)
            if seed == nil { problems.append(.error("'seed' must be a whole number ≥ 0", at: entries.first { $0.key == "seed" }!.value.location)) }
        }
        if !problems.isEmpty { throw DiagnosticError(problems) }
        return SweepFile(spec: resolve(spec), arguments: arguments, layers: layers, seed: seed, fill: fill, interpolation: interpolation, transforms: transforms)
    }
}

extension Fill: ExpressibleByArgument {}
extension Interpolation: ExpressibleByArgument {}
