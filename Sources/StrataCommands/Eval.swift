import ArgumentParser
import Foundation
import StrataPlan
import StrataFormats
import StrataIR
import StrataMPI
import StrataSpec
import StrataTrain

/// `strata eval SPEC --weights W [--weights W2 ...] --data DATA [--views 1|10] [--json]`.
struct Eval: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Top-1 and top-5 error on the test (or validation) split; several --weights give their ensemble.",
        discussion: """
            --views 10 averages the paper's 10 views (4 corners and the centre, and their mirror images); \
            on images no larger than the input the corners are the centre, and the output says so. \
            \(MeanChoice.help) Each checkpoint subtracts its own mean image; plain weights need --mean \
            (train: the mean of the data's training split). Top-5 is reported only for more than 5 classes. \
            An image tree's classes are numbered as the checkpoint records them (the train/ folders \
            it was trained on), or for plain weights by the sorted folder names, whose count must be \
            the network's outputs. Unreadable images are skipped with a warning and not counted.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights or a checkpoint (.safetensors); repeat for an ensemble.")
    var weights: [String]

    @Option(help: "The data folder.")
    var data: String

    @Option(help: ArgumentHelp(MeanChoice.optionHelp, valueName: "file|train|none"))
    var mean: String?

    @Option(help: "Views per image: 1 (the centre) or 10.")
    var views = 1

    @Option(help: "Images per run.")
    var batch = 128

    @Flag(help: "Print one JSON object.")
    var json = false


    func validate() throws {
        guard views == 1 || views == 10 else { throw ValidationError("--views must be 1 or 10") }
        guard !weights.isEmpty else { throw ValidationError("give at least one --weights") }
        guard batch >= 1, batch <= CommandSupport.maximumBatch else { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, _) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        var notes = "", failure = ""
        defer { errors.write(notes + failure) }
        return CommandSupport.run(errors: &failure) {
            let backend = try network.backend
            let classes = graph.nodes.last!.shape!.elementCount!
            let files = try weights.map { path in (path, try Safetensors.read(path: path)) }
            // An image tree's classes: as the checkpoints recorded them (all the same), else the folders.
            var classNames: [String]?
            for (path, file) in files {
                guard let names = try Checkpoint.classNames(file, path: path) else { continue }
                if let earlier = classNames, earlier != names {
                    throw CommandError("\(path) was trained on the classes \(names.joined(separator: ", ")), another network of the ensemble on "
                                       + "\(earlier.joined(separator: ", ")); an ensemble must share its classes")
                }
                classNames = names
            }
            let splits = try DataLoader.open(data, channels: graph.input.channels, side: max(graph.input.height, graph.input.width), classNames: classNames)
            guard let test = splits.validation else { throw CommandError("\(data) has no test or validation split") }
            guard test.count > 0 else { throw CommandError("the test split of \(data) (\(test.source)) has no images") }
            if let tree = test as? ImageTree, tree.classNames.count != classes {
                throw CommandError("\(data) has \(tree.classNames.count) class folders (\(tree.classNames.joined(separator: ", "))) but '\(graph.name)' "
                                   + "has \(classes) outputs; with plain weights the classes are the sorted folder names of train/, so every class needs its folder")
            }
            try test.checkLabels(classes: classes, network: graph.name)
            let stored = test.shape
            guard stored.channels == graph.input.channels, stored.height >= graph.input.height, stored.width >= graph.input.width else {
                throw CommandError("the data's images are \(stored.channels)×\(stored.height)×\(stored.width) but '\(graph.name)' takes \(graph.input.compactDescription)")
            }
            var all: [Evaluator.Predictions] = []
            var rules: [String] = []
            var plainRule: InputRule?   // the same for every plain weights file: --mean train reads the split once
            let derived = try DerivedGraph.derive(graph, training: false)
            for (path, file) in files {
                // Checks the shapes with the same messages as everywhere else.
                let probe = try backend.makeExecutor(backend.plan(derived, batch: 1))
                try Weights.load(file, path: path, into: probe)
                try Weights.check(file, path: path, graph: graph)
                // The one input rule: the checkpoint's mean image, or what --mean says for plain weights.
                let plain = !Preprocessing.subtractsMean(file)
                let rule = try (plain ? plainRule : nil) ?? InputRule.resolve(weights: file, path: path, mean: mean.map(MeanChoice.init(argument:)),
                                                                             input: (graph.input.channels, graph.input.height, graph.input.width),
                                                                             stored: stored, trainingSplit: { splits.train })
                if plain { plainRule = rule }
                let preprocessing = rule.preprocessing
                guard preprocessing.stored == stored else {
                    throw CommandError("\(path) was trained on images of \(preprocessing.stored.channels)×\(preprocessing.stored.height)×\(preprocessing.stored.width) "
                                       + "but \(data)'s are \(stored.channels)×\(stored.height)×\(stored.width); evaluate on data of the size it was trained on")
                }
                rules.append(rule.description)
                let evaluator = Evaluator(graph: graph, preprocessing: preprocessing, batch: batch, backend: backend)
                evaluator.load(file)
                all.append(try evaluator.predictions(test, views: views, communicator: World.current))  // spread over the ranks under mpirun
            }
            let predictions = Evaluator.Predictions.mean(all)
            for index in predictions.unreadable.keys.sorted() { notes += "warning: skipped unreadable image: \(predictions.unreadable[index]!)\n" }
            let (top1, top5, counted) = Evaluator.errors(predictions, test)
            guard counted > 0 else { throw CommandError("no image of the test split of \(data) could be read") }
            let distinct = views == 1 ? 1 : distinctViews(stored: stored, input: graph.input)
            if distinct < views {
                notes += ("note: the images (\(stored.height)×\(stored.width)) are no larger than the input (\(graph.input.height)×\(graph.input.width)) "
                             + "along \(stored.height == graph.input.height && stored.width == graph.input.width ? "either side" : "one side"), so the 10 views are "
                             + "\(distinct / 2) distinct crop\(distinct == 2 ? "" : "s") and \(distinct == 2 ? "its mirror image" : "their mirror images"), repeated\n")
            }
            let split = test.source
            if json {
                let json: JSONValue = ["top1_error": .double(top1), "top5_error": top5.map(JSONValue.double) ?? .null, "images": .int(counted),
                                       "unreadable": .int(predictions.unreadable.count), "views": .int(views), "distinct_views": .int(distinct),
                                       "networks": .int(weights.count), "split": .string(split), "preprocessing": .strings(rules)]
                output.write(json.text() + "\n")
            } else {
                let ci = Interval(successes: Int((top1 * Double(counted)).rounded()), of: counted)
                output.write("\(graph.name) on \(counted) images of \(split) (\(views) view\(views == 1 ? "" : "s"), \(weights.count) network\(weights.count == 1 ? "" : "s")): "
                             + "top-1 error \(percent(top1)) (95% interval \(percent(ci.low))–\(percent(ci.high)))"
                             + (top5.map { ", top-5 error \(percent($0))" } ?? " (top-5 not reported: \(classes) classes)") + "\n"
                             + "subtracted: \(Set(rules).sorted().joined(separator: "; "))\n")
            }
            return 0
        }
    }

    /// How many of the 10 views differ: the 5 crops collapse where the image is the input's size.
    func distinctViews(stored: (channels: Int, height: Int, width: Int), input: TensorShape) -> Int {
        let dy = stored.height - input.height, dx = stored.width - input.width
        let origins = Set([(dy / 2, dx / 2), (0, 0), (0, dx), (dy, 0), (dy, dx)].map { "\($0.0),\($0.1)" })
        return 2 * origins.count
    }
}

import StrataPlan
