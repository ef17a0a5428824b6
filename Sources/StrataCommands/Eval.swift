import ArgumentParser
import Foundation
import StrataPlan
import StrataFormats
import StrataIR
import StrataSpec
import StrataTrain

/// `strata eval SPEC --weights W [--weights W2 ...] --data DATA [--views 1|10] [--json]`.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Top-1 and top-5 error on the test (or validation) split; several --weights give their ensemble.",
        discussion: """
            --views 10 averages the paper's 10 views (4 corners and the centre, and their mirror images). \
            The mean image comes from each checkpoint, or from the data's training split for plain weights.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights or a checkpoint (.safetensors); repeat for an ensemble.")
    var weights: [String]

    @Option(help: "The data folder.")
    var data: String

    @Option(help: "Views per image: 1 (the centre) or 10.")
    var views = 1

    @Option(help: "Images per run.")
    var batch = 128

    @Flag(help: "Print one JSON object.")
    var json = false


    func validate() throws {
        guard views == 1 || views == 10 else { throw ValidationError("--views must be 1 or 10") }
        guard !weights.isEmpty else { throw ValidationError("give at least one --weights") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            let backend = network.backend
            let splits = try DataLoader.open(data, channels: graph.input.channels, side: max(graph.input.height, graph.input.width))
            guard let test = splits.validation else { throw CommandError("\(data) has no test or validation split") }
            let classes = graph.nodes.last!.shape!.elementCount!
            let stored = test.shape
            guard stored.channels == graph.input.channels, stored.height >= graph.input.height, stored.width >= graph.input.width else {
                throw CommandError("the data's images are \(stored.channels)×\(stored.height)×\(stored.width) but '\(graph.name)' takes \(graph.input.compactDescription)")
            }
            var total = [Float](repeating: 0, count: test.count * classes)
            var trainingMean: [Float]?
            for path in weights {
                let file = try Safetensors.read(path: path)
                // Checks the shapes with the same messages as everywhere else.
                let probe = try backend.makeExecutor(backend.plan(try TrainingGraph.derive(graph, training: false), batch: 1))
                try Weights.load(file, path: path, into: probe)
                let mean: [Float]
                if let m = file.tensors["data/mean"], m.values.count == stored.channels * stored.height * stored.width {
                    mean = m.values
                } else {
                    if trainingMean == nil { trainingMean = try Preprocessing.statistics(splits.train, sampleImages: 1).mean }
                    mean = trainingMean!
                }
                let augment = spec.training?.augment ?? TrainingSpec.Augment()
                let preprocessing = Preprocessing(stored: stored, input: (graph.input.height, graph.input.width), mean: mean, flip: augment.flip,
                                                  randomCrop: augment.crop != nil, pcaColor: 0, pcaValues: [], pcaVectors: [])
                let evaluator = Evaluator(graph: graph, preprocessing: preprocessing, batch: batch, backend: backend)
                evaluator.load(file)
                let p = try evaluator.probabilities(test, views: views)
                for i in total.indices { total[i] += p[i] / Float(weights.count) }
            }
            let (top1, top5) = Evaluator.errors(total, test, classes: classes)
            if json {
                output.write("{\"top1_error\": \(top1), \"top5_error\": \(top5), \"images\": \(test.count), \"views\": \(views), \"networks\": \(weights.count)}\n")
            } else {
                output.write("\(graph.name) on \(test.count) images (\(views) view\(views == 1 ? "" : "s"), \(weights.count) network\(weights.count == 1 ? "" : "s")): "
                             + "top-1 error \(percent(top1)), top-5 error \(percent(top5))\n")
            }
            return 0
        }
    }
}

import StrataPlan
