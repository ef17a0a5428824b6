import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFormats
import StrataIR
import StrataTrain

/// `strata probe`: how linearly separable the classes are at each layer (ZF's Table 7).
struct ProbeCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Train a linear softmax or SVM on the frozen features of each layer and report its test accuracy (mean ± std over draws).",
        discussion: """
            \(MeanChoice.help) For each draw, --per-class training images of every class are drawn from the training \
            split (a function of --seed and the draw); every layer's features are computed once for \
            all drawn images and the test images, and a linear classifier (multinomial softmax, or \
            one-vs-rest L2-SVM with --classifier svm; L2 penalty --lambda) is trained per layer and \
            draw on the standardised features. Writes OUT/probe.csv (a line per layer and draw) and \
            OUT/probe.md (mean ± std per layer).
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Trained weights or a checkpoint (.safetensors).")
    var weights: String

    @Option(help: "The data folder (its training split is drawn from, its test split evaluated).")
    var data: String

    @Option(help: "The layers whose outputs are probed, comma-separated.")
    var layers: String

    @Option(help: "softmax or svm.")
    var classifier: LinearProbe.Classifier = .softmax

    @Option(name: .customLong("per-class"), help: "Training images per class in each draw.")
    var perClass = 60

    @Option(help: "Draws of training images.")
    var draws = 5

    @Option(name: .customLong("test-limit"), help: "Test images evaluated (the first ones).")
    var testLimit = 2000

    @Option(help: "The L2 penalty on the classifier's weights.")
    var lambda: Float = 1e-4

    @Option(help: ArgumentHelp(MeanChoice.optionHelp, valueName: "file|train|none"))
    var mean: String?

    @Option(help: "Seed of the draws.")
    var seed: UInt64 = 0

    @Option(help: "Where probe.csv and probe.md go (default: runs/probe-SPECNAME).")
    var out: String?

    func validate() throws {
        guard (1...100_000).contains(perClass) else { throw ValidationError("--per-class must be between 1 and 100000") }
        guard (1...1000).contains(draws) else { throw ValidationError("--draws must be between 1 and 1000") }
        guard (1...10_000_000).contains(testLimit) else { throw ValidationError("--test-limit must be between 1 and 10000000") }
        guard lambda >= 0, lambda <= 1e6 else { throw ValidationError("--lambda must be between 0 and 1e6 (a larger penalty leaves every weight 0)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, _) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            try FileCheck.prepareOutputFolder(out ?? "runs/probe-\(graph.name)")   // an unusable --out is found before the work
            let nodes = try CommandSupport.layers(layers, in: graph)
            let file = try Safetensors.read(path: weights)
            try Weights.check(file, path: weights, graph: graph)
            let classes = graph.classes
            guard classes >= 2 else {
                throw CommandError("a probe separates classes, and '\(graph.name)' has \(classes) output\(classes == 1 ? "" : "s"); it needs at least 2")
            }
            let splits = try DataLoader.open(data, channels: graph.input.channels, side: max(graph.input.height, graph.input.width),
                                             classNames: try Checkpoint.classNames(file, path: weights))
            let trainLabels = (0..<splits.train.count).map(splits.train.label)
            var perClassCount = [Int](repeating: 0, count: classes)
            for l in trainLabels where l >= 0 && l < classes { perClassCount[l] += 1 }
            let present = perClassCount.filter { $0 > 0 }.count
            guard present >= 2 else {
                throw CommandError("the training split of \(data) has images of \(present) class\(present == 1 ? "" : "es"); a probe needs at least 2")
            }
            var notes = ""
            let capped = perClassCount.enumerated().filter { $0.element < perClass }
            if !capped.isEmpty {
                notes += "note: --per-class \(perClass) is more than the training split holds of class\(capped.count == 1 ? "" : "es") "
                    + capped.map { "\($0.offset) (\($0.element))" }.joined(separator: ", ") + "; each draw takes all of those\n"
            }
            let drawn = (0..<draws).map { LinearProbe.draw(labels: trainLabels, classes: classes, perClass: perClass, seed: seed, draw: $0) }
            let union = Array(Set(drawn.flatMap { $0 })).sorted()
            let position = Dictionary(uniqueKeysWithValues: union.enumerated().map { ($1, $0) })
            let meanChoice = mean.map(MeanChoice.init(argument:))
            let train = try AnalysisInput.load(.data(data, split: "train", limit: nil, indices: union), graph: graph, weights: file, weightsPath: weights, mean: meanChoice)
            let test = try AnalysisInput.load(.data(data, split: "test", limit: testLimit, indices: nil), graph: graph, weights: file, weightsPath: weights, mean: meanChoice)
            let runner = try BatchRunner(graph: graph, backend: try network.backend, batch: 64, keeping: nodes, weights: file.parameterTensors)
            runner.weightsName = weights
            // Every layer's features, computed once for all drawn images and for the test images.
            let trainFeatures = try runner.outputs(train.images, count: train.count, nodes: nodes)
            let testFeatures = try runner.outputs(test.images, count: test.count, nodes: nodes)
            let features = nodes.enumerated().map { k, node in
                LinearProbe.Features(layer: graph.nodes[node].name, dimensions: graph.nodes[node].shape!.elementCount!, train: trainFeatures[k], test: testFeatures[k])
            }
            let results = LinearProbe.evaluate(classifier, layers: features, trainLabels: train.labels!, draws: drawn.map { $0.map { position[$0]! } },
                                               testLabels: test.labels!, classes: classes, lambda: lambda)
            let csv = LinearProbe.csv(results, classifier: classifier, perClass: perClass, testImages: test.count)
            var md = LinearProbe.markdown(results, classifier: classifier)
            let folder = out ?? "runs/probe-\(graph.name)"
            try FileCheck.makeDirectory(folder)
            try AtomicFile.write(Data(csv.utf8), to: folder + "/probe.csv")
            try AtomicFile.write(Data(md.utf8), to: folder + "/probe.md")
            md += "\nAccuracy on the first \(test.count) images of the test split of \(data); classifiers trained on \(perClass) training-split images per class "
                + "per draw, features standardised; preprocessing: \(train.rule.description).\n"
            output.write(notes + "\(graph.name): \(perClass) training images per class, \(draws) draw(s), \(test.count) test images\n\n" + md
                         + "\nwrote \(folder)/probe.csv and \(folder)/probe.md\n")
            return 0
        }
    }
}

extension LinearProbe.Classifier: ExpressibleByArgument {}
