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
            let classes = graph.classes
            let files = try weights.map { path in (path: path, file: try Safetensors.read(path: path)) }
            // Spread over the ranks under mpirun.
            let result = try Ensemble.evaluate(graph: graph, files: files, data: data, mean: mean.map(MeanChoice.init(argument:)), views: views,
                                               batch: batch, backend: try network.backend, communicator: World.current)
            let (top1, top5, counted, rules, stored) = (result.top1, result.top5, result.images, result.rules, result.stored)
            for index in result.unreadable.keys.sorted() { notes += "warning: skipped unreadable image: \(result.unreadable[index]!)\n" }
            let distinct = views == 1 ? 1 : distinctViews(stored: stored, input: graph.input)
            if distinct < views {
                notes += ("note: the images (\(stored.height)×\(stored.width)) are no larger than the input (\(graph.input.height)×\(graph.input.width)) "
                             + "along \(stored.height == graph.input.height && stored.width == graph.input.width ? "either side" : "one side"), so the 10 views are "
                             + "\(distinct / 2) distinct crop\(distinct == 2 ? "" : "s") and \(distinct == 2 ? "its mirror image" : "their mirror images"), repeated\n")
            }
            let split = result.split
            if json {
                let json: JSONValue = ["top1_error": .double(top1), "top5_error": top5.map(JSONValue.double) ?? .null, "images": .int(counted),
                                       "unreadable": .int(result.unreadable.count), "views": .int(views), "distinct_views": .int(distinct),
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
