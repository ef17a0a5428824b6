import StrataFormats
import StrataIR
import StrataMPI
import StrataPlan

/// One network or an ensemble (each network's probabilities averaged, as the AlexNet paper's
/// Table 2 does) evaluated on a data folder's held-out split: the checks that the weights, the
/// classes and the images fit, each network's input rule, and the errors.
public enum Ensemble {
    /// Why an evaluation cannot run: a message naming the file and the remedy.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public struct Result {
        public var top1: Double
        public var top5: Double?
        /// Images counted (readable ones).
        public var images: Int
        /// Unreadable images by index, with their paths.
        public var unreadable: [Int: String]
        /// The held-out split's source (`test`, a folder).
        public var split: String
        /// Each network's input rule, in the order of the weights.
        public var rules: [String]
        /// The stored images' size.
        public var stored: (channels: Int, height: Int, width: Int)
    }

    /// Checks that `file` has every parameter of `graph` in its shape and that every value is a
    /// finite number, before any plan is made.
    public static func checkWeights(_ file: Safetensors.File, path: String, graph: Graph) throws(Failure) {
        do {
            try ParameterMismatch.check(file.parameterTensors, against: graph.namedParameters(), network: graph.name)
        } catch let mismatch as ParameterMismatch {
            throw Failure(mismatch.message(file: path))
        } catch {
            throw Failure("\(path): \(error)")
        }
        // Weights that are not finite numbers give NaN or infinite outputs, never a result to report.
        for p in graph.namedParameters() {
            guard let t = file.tensors[p.name], let k = t.values.firstIndex(where: { !$0.isFinite }) else { continue }
            throw Failure("\(path): '\(p.name)' holds \(t.values[k]) at position \(k); weights must be finite numbers (a run that diverged?)")
        }
    }

    /// The class names the checkpoints recorded (all the same), or nil when none did.
    public static func classNames(_ files: [(path: String, file: Safetensors.File)]) throws -> [String]? {
        var classNames: [String]?
        for (path, file) in files {
            guard let names = try Checkpoint.classNames(file, path: path) else { continue }
            if let earlier = classNames, earlier != names {
                throw Failure("\(path) was trained on the classes \(names.joined(separator: ", ")), another network of the ensemble on "
                              + "\(earlier.joined(separator: ", ")); an ensemble must share its classes")
            }
            classNames = names
        }
        return classNames
    }

    /// The held-out split of `data`, checked against the network's classes and input size.
    static func heldOut(_ splits: DataSplits, data: String, graph: Graph) throws -> any Dataset {
        let classes = graph.classes
        guard let test = splits.validation else { throw Failure("\(data) has no test or validation split") }
        guard test.count > 0 else { throw Failure("the test split of \(data) (\(test.source)) has no images") }
        if let tree = test as? ImageTree, tree.classNames.count != classes {
            throw Failure("\(data) has \(tree.classNames.count) class folders (\(tree.classNames.joined(separator: ", "))) but '\(graph.name)' "
                          + "has \(classes) outputs; with plain weights the classes are the sorted folder names of train/, so every class needs its folder")
        }
        try test.checkLabels(classes: classes, network: graph.name)
        let stored = test.shape
        guard stored.channels == graph.input.channels, stored.height >= graph.input.height, stored.width >= graph.input.width else {
            throw Failure("the data's images are \(stored.channels)×\(stored.height)×\(stored.width) but '\(graph.name)' takes \(graph.input.compactDescription)")
        }
        return test
    }

    /// Evaluates the networks `files` (one or more weights of `graph`) on `data`'s held-out split
    /// with `views` crops (1 or 10), spread over the ranks of `communicator`.
    public static func evaluate(graph: Graph, files: [(path: String, file: Safetensors.File)], data: String, mean: MeanChoice?, views: Int, batch: Int,
                                backend: any Backend, communicator: any Communicator) throws -> Result {
        let splits = try DataLoader.open(data, channels: graph.input.channels, side: max(graph.input.height, graph.input.width),
                                         classNames: try classNames(files))
        let test = try heldOut(splits, data: data, graph: graph)
        let stored = test.shape
        var all: [Evaluator.Predictions] = []
        var rules: [String] = []
        var plainRule: InputRule?   // the same for every plain weights file: --mean train reads the split once
        for (path, file) in files {
            try checkWeights(file, path: path, graph: graph)
            // The one input rule: the checkpoint's mean image, or what `mean` says for plain weights.
            let plain = !Preprocessing.subtractsMean(file)
            let rule = try (plain ? plainRule : nil) ?? InputRule.resolve(weights: file, path: path, mean: mean,
                                                                         input: (graph.input.channels, graph.input.height, graph.input.width),
                                                                         stored: stored, trainingSplit: { splits.train })
            if plain { plainRule = rule }
            let preprocessing = rule.preprocessing
            guard preprocessing.stored == stored else {
                throw Failure("\(path) was trained on images of \(preprocessing.stored.channels)×\(preprocessing.stored.height)×\(preprocessing.stored.width) "
                              + "but \(data)'s are \(stored.channels)×\(stored.height)×\(stored.width); evaluate on data of the size it was trained on")
            }
            rules.append(rule.description)
            let evaluator = Evaluator(graph: graph, preprocessing: preprocessing, batch: batch, backend: backend)
            evaluator.load(file)
            all.append(try evaluator.predictions(test, views: views, communicator: communicator))
        }
        let predictions = Evaluator.Predictions.mean(all)
        let (top1, top5, counted) = Evaluator.errors(predictions, test)
        guard counted > 0 else { throw Failure("no image of the test split of \(data) could be read") }
        return Result(top1: top1, top5: top5, images: counted, unreadable: predictions.unreadable, split: test.source, rules: rules,
                      stored: (stored.channels, stored.height, stored.width))
    }
}
