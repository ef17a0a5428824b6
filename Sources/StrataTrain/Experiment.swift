import Foundation
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataMPI
import StrataPlan
import StrataSpec

/// An experiment file: a base spec, rows (variants of it, inline or in files), the data, training
/// settings and seeds. `strata experiment` trains and evaluates every row and seed and tabulates them.
///
///     name: zf-ablation
///     base: ../networks/zfnet-mini.yaml      # relative to this file
///     data: /usr/share/datasets/fashion-mnist
///     training: {epochs: 2, batch: 32, seeds: [1, 2]}
///     rows:
///       - name: base
///       - name: no-conv3-4
///         remove: [conv3, relu3, conv4, relu4]
///       - name: wider
///         spec: ../networks/variants/wide.yaml
public struct Experiment {
    public struct Row {
        public var name: Located<String>
        public var spec: NetworkSpec
        public var graph: Graph
        /// The classes this row trains and is evaluated on (renumbered from 0 in this order); nil: all.
        public var classes: [Int]? = nil
        /// With `classes`: so many training images of each, drawn per seed.
        public var perClass: Int? = nil
        /// With `classes`: so many held-out (test) images of each (the same for every seed); nil: all.
        public var evaluationPerClass: Int? = nil
        /// Early stopping: a validation set of `perClass` images of each class carved from the
        /// training split (drawn per seed, disjoint from the training draw); training stops once
        /// its loss has not improved for `patience` epochs, and the table gives the held-out error
        /// of the best epoch's weights.
        public var earlyStop: (patience: Int, perClass: Int)? = nil
        public var epochs: Int? = nil
        public var batch: Int? = nil
        public var seeds: [UInt64]? = nil
        /// `row:NAME`: the checkpoint of another row (its first seed), which must come earlier.
        public var weightsRow: String? = nil
    }

    public var file: String
    public var name: String
    public var data: String
    public var epochs: Int?
    public var batch: Int?
    public var seeds: [UInt64]
    /// Also checkpoint every this many steps inside a row (0: at epoch ends), so a cut-off row loses less.
    public var checkpointSteps = 0
    public var rows: [Row]
    /// The loader that read every spec, for quoting lines in diagnostics.
    public var loader: SpecLoader
    /// `robustness: {limit: N, seed: S}`: after training, `strata robustness` on every row's
    /// checkpoints (the first N test images), tabulated in OUT/robustness.csv and .md; nil: none.
    public var robustness: (limit: Int, seed: UInt64)? = nil

    /// What the top level of an experiment file says, read and range-checked; its rows not yet read.
    struct Header {
        var name: Located<String>?
        var base: Located<String>?
        var data: Located<String>?
        var epochs: Int?, batch: Int?, seeds: [UInt64] = [0], checkpointSteps = 0
        var robustness: (limit: Int, seed: UInt64)?
        var rows: SpecNode?
    }

    /// Reads and checks `path`: every row resolved and shape-checked, every error of every row
    /// reported at once (located in the experiment file or the row's spec), before anything trains.
    public static func load(path: String, loader: SpecLoader = SpecLoader()) throws(DiagnosticError) -> Experiment {
        let bytes: [UInt8]
        do { bytes = try SpecLoader.readFromDisk(path) } catch {
            throw DiagnosticError(.error("cannot read experiment '\(path)': \((error as? FileError)?.reason ?? "\(error)")", at: nil))
        }
        let (text, parsed) = try YAMLReader.parse(bytes: bytes, file: path)
        loader.remember(text, file: path)
        let root = loader.upgrade(parsed)
        var bag = DiagnosticBag()
        guard let entries = root.mapping else {
            throw DiagnosticError(.error("an experiment must be a mapping with 'name', 'base', 'data' and 'rows', got \(root.shortDescription)", at: root.location))
        }
        var r = AttributeReader(entries, at: root.location, owner: "the experiment")
        let header = readHeader(&r)
        if header.rows == nil { r.report("the experiment needs 'rows' (a list of rows, each a 'name' and edits of the base)", at: root.location) }
        r.finish()
        bag.append(contentsOf: r.bag.diagnostics)
        let (name, base, data, rowsNode) = (header.name, header.base, header.data, header.rows)
        let folder = (path as NSString).deletingLastPathComponent
        func relative(_ p: String) -> String { p.hasPrefix("/") || folder.isEmpty ? p : folder + "/" + p }

        var rows: [Row] = []
        var seen: [String: SourceLocation] = [:]
        for item in rowsNode.map({ $0.sequence ?? [$0] }) ?? [] {
            guard let entry = readRow(item, bag: &bag) else { continue }
            if let first = seen[entry.name.value] {
                bag.error("two rows are named '\(entry.name.value)'; row names must be unique", at: entry.name.location, notes: [.note("first here", at: first)])
                continue
            }
            seen[entry.name.value] = entry.name.location
            if let row = resolve(entry, base: base, path: path, relative: relative, loader: loader, earlier: rows, bag: &bag) { rows.append(row) }
        }
        if rowsNode != nil && rows.isEmpty && bag.diagnostics.isEmpty {
            bag.error("'rows' of the experiment is empty", at: rowsNode!.location)
        }
        try bag.throwIfErrors()
        return Experiment(file: path, name: name!.value, data: relative(data!.value), epochs: header.epochs, batch: header.batch, seeds: header.seeds,
                          checkpointSteps: header.checkpointSteps, rows: rows, loader: loader, robustness: header.robustness)
    }

    /// Reads the top-level keys (the caller finishes the reader).
    static func readHeader(_ r: inout AttributeReader) -> Header {
        var h = Header()
        _ = r.int("version", default: SpecVersion.unversioned, in: 1...SpecVersion.current, doc: SpecVersion.keyDoc)
        h.name = r.string("name", doc: "the experiment's name; its output goes to runs/NAME unless `--out` says otherwise")
        if let name = h.name, let problem = FileName.problem(name.value) {
            r.report("'name' of the experiment, '\(name.value)', cannot be used: \(problem) (it names the default output folder runs/NAME)", at: name.location)
        }
        _ = r.string("description", optional: true, doc: "free text")
        h.base = r.string("base", doc: "the network spec every row edits, relative to this file")
        h.data = r.string("data", doc: "the data set's folder (relative to this file unless absolute)")
        if var t = r.mapping("training", doc: "settings for every row (a row's own win)") {
            h.epochs = t.int("epochs", optional: true, in: 1...1_000_000, doc: "epochs per row; the spec's when absent")
            h.batch = t.int("batch", optional: true, in: 1...1_048_576, doc: "batch size; the spec's when absent")
            h.checkpointSteps = t.int("checkpoint_steps", default: 0, in: 0...1_000_000_000,
                                      doc: "also checkpoint every this many steps inside a row (0: at epoch ends)") ?? 0
            if let list = t.intList("seeds", default: [0], in: 0...Int(Int32.max), doc: "the seeds each row trains with") {
                h.seeds = list.map(UInt64.init)
                if Set(list).count != list.count { t.report("'seeds' of 'training' repeats a seed: \(list)", at: t.location(of: "seeds")) }
            }
            t.finish()
            r.merge(t)
        }
        if var t = r.mapping("robustness", doc: "after training, `strata robustness` on every row's checkpoints") {
            let limit = t.int("limit", default: 500, in: 1...1_000_000, doc: "test images measured (the first N)") ?? 500
            let seed = t.int("seed", default: 0, in: 0...Int(Int32.max), doc: "the seed of the random corruptions") ?? 0
            h.robustness = (limit, UInt64(seed))
            t.finish()
            r.merge(t)
        }
        h.rows = r.node("rows", accepts: .list(.reference("experiment-row"), minimum: 1), required: true,
                        doc: "the rows: each a variant of `base` (or its own `spec`) trained with every seed")
        return h
    }

    /// An experiment file's keys, recorded from the readers: the `experiment` definition of `strata schema`.
    public static var schema: SchemaObject {
        var r = AttributeReader(recordingSchemaAs: "the experiment")
        _ = readHeader(&r)
        r.finish()
        return r.schema ?? SchemaObject()
    }

    /// One row's keys: the `experiment-row` definition of `strata schema`.
    public static var rowSchema: SchemaObject {
        var r = AttributeReader(recordingSchemaAs: "a row")
        _ = readRowKeys(&r, item: SpecNode(.mapping([]), at: r.location))
        r.finish()
        return r.schema ?? SchemaObject()
    }
    /// What a row's entry says, read and range-checked; its network not yet resolved.
    struct RowEntry {
        var item: SpecNode
        var name: Located<String>
        var specFile: Located<String>?
        /// The row's edits of the base: remove, set, insert, training.
        var edits: [SpecEntry]
        var classes: [Int]?, perClass: Int?, evaluationPerClass: Int?
        var epochs: Int?, seeds: [UInt64]?, freeze: [Located<String>]?, weights: Located<String>?, lr: Double?, batch: Int?
        var earlyStop: (patience: Int, perClass: Int)?
    }

    /// Reads one row's keys; errors go to `bag` (nil when the row cannot be read on).
    static func readRow(_ item: SpecNode, bag: inout DiagnosticBag) -> RowEntry? {
        guard let rowEntries = item.mapping else {
            bag.error("a row must be a mapping with a 'name' and edits of the base (remove, set, insert) or a 'spec', got \(item.shortDescription)", at: item.location)
            return nil
        }
        var rr = AttributeReader(rowEntries, at: item.location, owner: "a row")
        let e = readRowKeys(&rr, item: item)
        if let e, let problem = FileName.problem(e.name.value) {
            bag.error("row name '\(e.name.value)' cannot be used: \(problem) (each row trains in OUT/rows/NAME)", at: e.name.location)
            return nil
        }
        guard e != nil else { bag.append(contentsOf: rr.bag.diagnostics); return nil }
        rr.finish()
        bag.append(contentsOf: rr.bag.diagnostics)
        return e
    }

    /// Reads a row's keys (the caller finishes the reader); nil without a name.
    static func readRowKeys(_ rr: inout AttributeReader, item: SpecNode) -> RowEntry? {
        // The row's edits of the base, which the spec loader reads as a variant: what they accept is
        // what a variant's keys accept.
        let variant = NetworkSpec.fileSchema
        for key in ["remove", "set", "insert", "training"] {
            _ = rr.node(key, accepts: variant[key]?.schema ?? .object(SchemaObject()), doc: "as in a variant of the base: " + (variant[key]?.doc ?? ""))
        }
        guard let rowName = rr.string("name", doc: "the row's name (a folder name: it trains in OUT/rows/NAME)") else { return nil }
        var e = RowEntry(item: item, name: rowName, edits: (item.mapping ?? []).filter { ["remove", "set", "insert", "training"].contains($0.key) })
        e.specFile = rr.string("spec", optional: true, doc: "a spec file of its own instead of edits of the base (relative to this file)")
        if var dr = rr.mapping("data", doc: "which classes and images the row uses") {
            e.classes = dr.intList("classes", in: 0...1_000_000, doc: "the classes it trains and is evaluated on, renumbered from 0 in this order")
            e.perClass = dr.int("per_class", optional: true, in: 1...1_000_000, doc: "with `classes`: so many training images of each, drawn per seed")
            e.evaluationPerClass = dr.int("eval_per_class", optional: true, in: 1...1_000_000,
                                          doc: "with `classes`: so many held-out (test) images of each, the same for every seed; all when absent")
            if let c = e.classes, Set(c).count != c.count { dr.report("'classes' of a row's 'data' repeats a class: \(c)", at: dr.location(of: "classes")) }
            dr.finish()
            rr.merge(dr)
        }
        e.epochs = rr.int("epochs", optional: true, in: 1...1_000_000, doc: "epochs for this row")
        e.seeds = rr.intList("seeds", optional: true, in: 0...Int(Int32.max), doc: "seeds for this row").map { $0.map(UInt64.init) }
        e.freeze = rr.layerNames("freeze", doc: "layers whose weights stay as loaded")
        e.weights = rr.string("weights", optional: true, doc: "pretrained weights: a file, or `row:NAME` for an earlier row's checkpoint")
        e.lr = rr.double("lr", optional: true, in: 0...1e6, doc: "a constant learning rate for this row")
        e.batch = rr.int("batch", optional: true, in: 1...1_048_576, doc: "batch size for this row")
        if var er = rr.mapping("early_stop", doc: "stop once the loss on held-out training images has not improved for `patience` epochs") {
            let patience = er.int("patience", in: 1...1_000_000, doc: "epochs without a lower loss before stopping")
            let n = er.int("per_class", in: 1...1_000_000, doc: "training images per class held out to measure the loss")
            if let patience, let n { e.earlyStop = (patience, n) }
            er.finish()
            rr.merge(er)
        }
        return e
    }

    /// A row's network: its own spec or the base with its edits (errors located in this file),
    /// patched by the row's freeze, weights and lr, shape-checked against its classes.
    static func resolve(_ e: RowEntry, base: Located<String>?, path: String, relative: (String) -> String, loader: SpecLoader, earlier rows: [Row],
                        bag: inout DiagnosticBag) -> Row? {
        if e.specFile != nil && !e.edits.isEmpty {
            bag.error("row '\(e.name.value)' names a 'spec' and also edits the base; give one", at: e.edits[0].keyLocation)
            return nil
        }
        do {
            var spec: NetworkSpec
            if let specFile = e.specFile {
                spec = try loader.load(path: relative(specFile.value))
            } else {
                guard let base else { return nil }
                // The row as a variant of the base, written in this file: its errors point here.
                let node = SpecNode(.mapping([SpecEntry(key: "base", keyLocation: base.location, value: SpecNode(.scalar(base.value, plain: true), at: base.location))]
                                             + e.edits), at: e.item.location)
                spec = try loader.load(node: node, file: path)
            }
            // Row-level freeze and weights patch the row's training section (the rest stays the base's).
            if e.freeze != nil || e.weights != nil || e.lr != nil {
                var training = spec.training ?? TrainingSpec(location: e.item.location)
                if let freeze = e.freeze { training.freeze = freeze }
                // lr: a constant learning rate for this row (the base's schedule would decay it).
                if let lr = e.lr { training.optimizer.learningRate = lr; training.schedule = .constant }
                if let weights = e.weights, !weights.value.hasPrefix("row:") { training.weights = weights }
                spec.training = training
            }
            var weightsRow: String?
            if let weights = e.weights, weights.value.hasPrefix("row:") {
                let other = String(weights.value.dropFirst(4))
                guard rows.contains(where: { $0.name.value == other }) else {
                    bag.error("'weights: \(weights.value)' names no earlier row (a row's weights come from one trained before it)", at: weights.location,
                              notes: Spelling.note(for: other, among: rows.map(\.name.value), at: weights.location))
                    return nil
                }
                weightsRow = other
            }
            let graph = try ShapeInference.infer(GraphBuilder.build(spec))
            if let freeze = spec.training?.freeze, !freeze.isEmpty { _ = try BackwardPass.training(graph, freeze: freeze) }
            let outputs = graph.nodes.last?.shape?.elementCount ?? 0
            if let classes = e.classes, classes.count != outputs {
                bag.error("row '\(e.name.value)' trains on \(classes.count) classes but its network has \(outputs) outputs; set the last layer's units", at: e.name.location)
                return nil
            }
            if e.perClass != nil && e.classes == nil {
                bag.error("row '\(e.name.value)': 'per_class' needs 'classes' in its 'data'", at: e.name.location)
                return nil
            }
            return Row(name: e.name, spec: spec, graph: graph, classes: e.classes, perClass: e.perClass, evaluationPerClass: e.evaluationPerClass,
                       earlyStop: e.earlyStop, epochs: e.epochs, batch: e.batch, seeds: e.seeds, weightsRow: weightsRow)
        } catch {
            bag.append(contentsOf: error.diagnostics)
            return nil
        }
    }
}

/// One row and seed of an experiment, finished: what the table is made of, and what reruns it
/// alone (`strata experiment EXP --only ROW`). Written as `OUT/rows/ROW/seed-S/result.json`.
public struct ExperimentResult: Sendable, Equatable {
    public var row: String
    public var seed: UInt64
    public var trainTop1: Double
    public var valTop1: Double?
    public var valTop5: Double?
    /// With early stopping: the epoch whose weights were evaluated (the lowest validation loss),
    /// that loss, and the epochs trained before stopping. nil otherwise.
    public var bestEpoch: Int? = nil
    public var validationLoss: Double? = nil
    public var trainedEpochs: Int? = nil
    public var parameters: Int
    public var multiplyAdds: Int
    public var epochs: Int
    public var batch: Int
    /// Seconds this row and seed trained in the process that finished it.
    public var seconds: Double
    /// The resolved spec (variants expanded), the data folder, Strata's version and the command.
    public var spec: String
    public var data: String
    public var version: String
    public var command: String
    /// A hash of everything that decides this result (`ExperimentRunner.configuration`): a stored
    /// result whose hash differs from the row's now was made by an edited row, and is not reused.
    public var configuration: String? = nil
}

extension ExperimentResult {
    /// `result.json`: the members in snake case, those that are nil left out. A number JSON cannot
    /// hold (a NaN loss) is written null, and reads back as nil.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("row", .string(row)), ("seed", .int(seed)), ("train_top1", .double(trainTop1))]
        if let valTop1 { members.append(("val_top1", .double(valTop1))) }
        if let valTop5 { members.append(("val_top5", .double(valTop5))) }
        if let bestEpoch { members.append(("best_epoch", .int(bestEpoch))) }
        if let validationLoss { members.append(("validation_loss", .double(validationLoss))) }
        if let trainedEpochs { members.append(("trained_epochs", .int(trainedEpochs))) }
        members += [("parameters", .int(parameters)), ("multiply_adds", .int(multiplyAdds)), ("epochs", .int(epochs)), ("batch", .int(batch)),
                    ("seconds", .double(seconds)), ("spec", .string(spec)), ("data", .string(data)), ("version", .string(version)),
                    ("command", .string(command))]
        if let configuration { members.append(("configuration", .string(configuration))) }
        return .object(members)
    }

    /// Reads `result.json` as `json` writes it (and as earlier versions wrote it, with Foundation's
    /// JSON encoder: the same keys, sorted); other keys are ignored.
    public init(json: JSONValue, path: String) throws(FormatError) {
        try self.init(try JSONValue.Fields(json, path: path, what: "an experiment result"))
    }

    /// Reads the file at `path`; the error names it, and the key that is missing or wrong.
    public static func read(path: String) throws(FormatError) -> ExperimentResult {
        try ExperimentResult(try JSONValue.Fields(path: path, what: "an experiment result"))
    }

    init(_ f: JSONValue.Fields) throws(FormatError) {
        self.init(row: try f.required("row", .string), seed: try f.required("seed", .uint64), trainTop1: try f.required("train_top1", .double),
                  valTop1: try f.optional("val_top1", .double), valTop5: try f.optional("val_top5", .double),
                  bestEpoch: try f.optional("best_epoch", .int), validationLoss: try f.optional("validation_loss", .double),
                  trainedEpochs: try f.optional("trained_epochs", .int), parameters: try f.required("parameters", .int),
                  multiplyAdds: try f.required("multiply_adds", .int), epochs: try f.required("epochs", .int), batch: try f.required("batch", .int),
                  seconds: try f.required("seconds", .double), spec: try f.required("spec", .string), data: try f.required("data", .string),
                  version: try f.required("version", .string), command: try f.required("command", .string),
                  configuration: try f.optional("configuration", .string))
    }

    public func write(path: String) throws(FormatError) {
        try AtomicFile.write(Data((json.text(.pretty) + "\n").utf8), to: path)
    }
}

/// Trains and evaluates an experiment's rows, skipping finished ones and resuming a cut-off one.
public struct ExperimentRunner {
    public var experiment: Experiment
    public var out: String
    public var backend: any Backend
    /// Only this row (the others' finished results still go into the table).
    public var only: String?
    public var version = ""
    public var command = ""
    /// The initial weights of a row (the spec's initialisation, and its pretrained weights if any).
    public var initialWeights: (Graph, NetworkSpec, UInt64) throws -> Safetensors.File
    /// A line per row and seed: started, resumed, skipped, finished.
    public var log: (String) -> Void = { _ in }
    /// Under mpirun, the rows × seeds are spread over the ranks (each trains its runs on its own,
    /// into its runs' folders); rank 0 writes the table once every rank has finished.
    public var communicator: any Communicator = SingleProcess()

    public init(experiment: Experiment, out: String, backend: any Backend,
                initialWeights: @escaping (Graph, NetworkSpec, UInt64) throws -> Safetensors.File) {
        self.experiment = experiment
        self.out = out
        self.backend = backend
        self.initialWeights = initialWeights
    }

    public func folder(row: String, seed: UInt64) -> String { "\(out)/rows/\(row)/seed-\(seed)" }

    /// What decides a row's result for a seed, hashed: its resolved spec (variants, training
    /// settings, frozen layers, learning rate), data folder and draw, epochs, batch, early
    /// stopping and seed, and for `weights: row:NAME` that row's own configuration.
    public func configuration(_ row: Experiment.Row, seed: UInt64) -> String {
        var h = FNV1a()
        let (epochs, batch) = settings(row)
        // The spec as it resolves, not the path it was reached by (`./exp.yaml` or an absolute path
        // is the same row); the data folder as the path it resolves to.
        let spec = SpecPrinter.print(row.spec).split(separator: "\n").filter { !$0.hasPrefix("# resolved from") }.joined(separator: "\n")
        let data = URL(fileURLWithPath: experiment.data).standardizedFileURL.resolvingSymlinksInPath().path
        let draw = "classes \(row.classes.map { "\($0)" } ?? "all") per_class \(row.perClass.map(String.init) ?? "all") "
            + "eval_per_class \(row.evaluationPerClass.map(String.init) ?? "all") early_stop \(row.earlyStop.map { "\($0.patience)/\($0.perClass)" } ?? "none")"
        for part in [spec, data, draw, "epochs \(epochs) batch \(batch) seed \(seed)"] {
            h.add(part)
            h.add(0xFF)
        }
        if let other = row.weightsRow, let source = experiment.rows.first(where: { $0.name.value == other }) {
            h.add("weights from row \(other): " + configuration(source, seed: (source.seeds ?? experiment.seeds).first ?? 0))
        }
        return h.hex
    }

    /// A row's epochs and batch: its own, else the experiment's, else its spec's training block's.
    func settings(_ row: Experiment.Row) -> (epochs: Int, batch: Int) {
        (row.epochs ?? experiment.epochs ?? row.spec.training?.epochs ?? 10, row.batch ?? experiment.batch ?? row.spec.training?.batch ?? 32)
    }

    /// The data folder's splits at a row's input size, opened once per size.
    func splits(for row: Experiment.Row, cache: inout [String: DataSplits]) throws -> DataSplits {
        let input = row.graph.input, side = max(input.height, input.width)
        let key = "\(input.channels)x\(side)"
        if let open = cache[key] { return open }
        let opened = try DataLoader.open(experiment.data, channels: input.channels, side: side)
        cache[key] = opened
        return opened
    }

    /// What a run would otherwise find only when it reaches a row: the data folder opens at every
    /// input size, every class a row names has images in the training split, and every row's
    /// initial weights (its spec's, and a pretrained file's) can be made. `--dry-run` and `run` both check it.
    public func preflight() throws {
        var splits: [String: DataSplits] = [:]
        for row in experiment.rows where only == nil || row.name.value == only {
            let train = try self.splits(for: row, cache: &splits).train
            if let classes = row.classes {
                var present = Set<Int>()
                for i in 0..<train.count { present.insert(train.label(i)) }
                if let missing = classes.first(where: { !present.contains($0) }) {
                    throw Trainer.Failure(description: "row '\(row.name.value)' names class \(missing), but the training split of \(experiment.data) has no image of it "
                                          + "(its classes: \(present.sorted().map(String.init).joined(separator: ", ")))")
                }
            }
            if row.weightsRow == nil {
                do { _ = try initialWeights(row.graph, row.spec, (row.seeds ?? experiment.seeds).first ?? 0) } catch {
                    throw Trainer.Failure(description: "row '\(row.name.value)': \(error)")
                }
            }
        }
    }

    /// Runs what is not finished and returns every finished result, in row and seed order.
    @discardableResult
    public func run() throws -> [ExperimentResult] {
        try preflight()
        if let only, !experiment.rows.contains(where: { $0.name.value == only }) {
            throw Trainer.Failure(description: "--only \(only): the experiment has no such row; its rows are "
                                  + experiment.rows.map(\.name.value).joined(separator: ", "))
        }
        try FileCheck.prepareOutputFolder(out)
        var reused: [String] = []   // "row\tseed" of the results this rank found made with the same configuration
        var splits: [String: DataSplits] = [:]
        // The runs, in waves: a row that starts from another row's weights runs in the wave after it.
        // Each wave's runs go round-robin to the ranks, and every rank finishes a wave before the next.
        var wave: [String: Int] = [:]
        for row in experiment.rows { wave[row.name.value] = row.weightsRow.flatMap { wave[$0].map { $0 + 1 } } ?? 0 }
        let runs = experiment.rows.filter { only == nil || $0.name.value == only }.flatMap { row in (row.seeds ?? experiment.seeds).map { (row, $0) } }
        let ranks = communicator.size
        let tag = ranks > 1 ? "[rank \(communicator.rank)/\(ranks)] " : ""
        for w in 0...(wave.values.max() ?? 0) {
            let these = runs.filter { wave[$0.0.name.value] == w }
            if ranks > 1 && w > 0 { communicator.barrier() }
            for (index, (row, seed)) in these.enumerated() where communicator.takes(index) {
                if try train(row, seed: seed, tag: tag, splits: &splits) { reused.append("\(row.name.value)\t\(seed)") }
            }
        }
        communicator.barrier()
        // Every rank's reused results, for the table (rank 0 writes it).
        let reusedEverywhere = Set(communicator.allGather(reused.joined(separator: "\n")).flatMap { $0.split(separator: "\n").map(String.init) })
        let results = experiment.rows.flatMap { row in
            (row.seeds ?? experiment.seeds).compactMap { seed in
                (try? load(folder(row: row.name.value, seed: seed))).flatMap { $0.configuration == configuration(row, seed: seed) ? $0 : nil }
            }
        }
        if communicator.isRoot { try writeTable(results, reused: reusedEverywhere, splits: splits) }
        return results
    }

    /// Trains one row and seed (or finds it finished with the same configuration: returns true,
    /// reused) and writes its result.json.
    func train(_ row: Experiment.Row, seed: UInt64, tag: String, splits: inout [String: DataSplits]) throws -> Bool {
        let dir = folder(row: row.name.value, seed: seed)
        let configuration = self.configuration(row, seed: seed)
        if let done = try? load(dir) {
            if done.configuration == configuration {
                log(tag + "\(row.name.value), seed \(seed): finished earlier, reused")
                return true
            }
            log(tag + "\(row.name.value), seed \(seed): "
                + (done.configuration == nil ? "its result was made before results were keyed by the row's configuration"
                                             : "the row changed since its result was made") + "; training it again")
            try FileManager.default.removeItem(atPath: dir)
        } else if let started = try? String(contentsOfFile: dir + "/configuration", encoding: .utf8), started != configuration {
            log(tag + "\(row.name.value), seed \(seed): the row changed since this run began; starting it again")
            try FileManager.default.removeItem(atPath: dir)
        }
        var data = try self.splits(for: row, cache: &splits), heldOut = data.validation
        let parts = Self.splits(for: row, seed: seed, data: data)
        for (c, have) in parts.shortfall {
            log(tag + "\(row.name.value), seed \(seed): class \(c) has \(have) training images, fewer than the "
                + "\((row.perClass ?? 0) + (row.earlyStop?.perClass ?? 0)) asked for (per_class + early_stop's per_class); it gets fewer")
        }
        (data, heldOut) = (parts.data, parts.heldOut)
        let spec = try specWithSource(row)
        let (epochs, batch) = settings(row)
        var options = Trainer.Options(epochs: epochs, batch: batch)
        options.seed = seed
        options.checkpointSteps = experiment.checkpointSteps
        options.earlyStop = row.earlyStop?.patience
        let resume = FileManager.default.fileExists(atPath: dir + "/checkpoints/latest.safetensors")
        options.resume = resume
        options.overwrite = !resume
        try FileCheck.makeDirectory(dir)
        try AtomicFile.write(Data(configuration.utf8), to: dir + "/configuration")
        log(tag + "\(row.name.value), seed \(seed): \(resume ? "resuming" : "training") (\(epochs) epoch(s)"
            + (row.earlyStop.map { " at most, stopping after \($0.patience) without a lower loss on \($0.perClass) training images per class held out" } ?? "")
            + ", batch \(batch))")
        let started = Date()
        let trainer = Trainer(graph: row.graph, spec: spec, data: data, run: dir, options: options, backend: backend)
        // A run killed after its last checkpoint but before its result: nothing left to train.
        if !(resume && Self.finished(dir + "/checkpoints/latest.safetensors", epochs: epochs, patience: row.earlyStop?.patience)) {
            try trainer.train(initialWeights: initialWeights(row.graph, spec, seed))
        }
        let result = try self.result(row, seed: seed, dir: dir, trainer: trainer, heldOut: heldOut, epochs: epochs, batch: batch,
                                     started: started, configuration: configuration)
        try result.write(path: dir + "/result.json")
        log(tag + "\(row.name.value), seed \(seed): train top-1 error \(Self.percent(result.trainTop1))"
            + (result.valTop1.map { ", held-out top-1 \(Self.percent($0))" } ?? "")
            + (result.bestEpoch.map { " (weights of epoch \($0) of \(result.trainedEpochs ?? $0), the lowest validation loss)" } ?? ""))
        return false
    }

    /// The row's spec; a row that starts from another row's weights (`weights: row:NAME`) gets that
    /// row's first seed's checkpoint (its best epoch's when it stopped early).
    func specWithSource(_ row: Experiment.Row) throws -> NetworkSpec {
        var spec = row.spec
        if let other = row.weightsRow {
            let first = experiment.rows.first { $0.name.value == other }.flatMap { ($0.seeds ?? experiment.seeds).first } ?? 0
            // An early-stopped source gives the weights of its best epoch, the ones its table line reports.
            let source = experiment.rows.first { $0.name.value == other }
            var path = folder(row: other, seed: first) + (source?.earlyStop != nil ? "/checkpoints/best.safetensors" : "/checkpoints/latest.safetensors")
            if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
            guard (try? load(folder(row: other, seed: first))) != nil else {
                throw Trainer.Failure(description: "row '\(row.name.value)' starts from row '\(other)', which has not finished (run it first)")
            }
            var training = spec.training ?? TrainingSpec(location: row.name.location)
            training.weights = Located(path, at: row.name.location)
            spec.training = training
        }
        return spec
    }

    /// A finished run's result: the last epoch's errors, or with early stopping the held-out error
    /// of the weights with the lowest validation loss.
    func result(_ row: Experiment.Row, seed: UInt64, dir: String, trainer: Trainer, heldOut: (any Dataset)?, epochs: Int, batch: Int, started: Date,
                configuration: String) throws -> ExperimentResult {
        let summary = NetworkSummary(row.graph), input = row.graph.input
        if row.earlyStop != nil {
            // The held-out error of the weights with the lowest validation loss.
            let best = try Safetensors.read(path: trainer.bestPath)
            let state = try Checkpoint.read(best, path: trainer.bestPath)
            let at = try Self.metrics(dir + "/metrics.csv", epoch: state.epoch)
            var top1: Double?, top5: Double?
            if let heldOut {
                let evaluator = Evaluator(graph: row.graph, preprocessing: try Preprocessing.inference(weights: best, path: trainer.bestPath,
                                                                                                           input: (input.channels, input.height, input.width)),
                                          batch: 256, backend: backend)
                evaluator.load(best)
                let e = try evaluator.errors(heldOut, views: 1)
                (top1, top5) = (e.top1, e.top5)
            }
            return ExperimentResult(row: row.name.value, seed: seed, trainTop1: at.train, valTop1: top1, valTop5: top5, bestEpoch: state.epoch,
                                      validationLoss: state.bestValidationLoss, trainedEpochs: try Self.metrics(dir + "/metrics.csv", epoch: nil).epoch,
                                      parameters: summary.totalParameters, multiplyAdds: summary.totalMultiplyAdds, epochs: epochs,
                                      batch: batch, seconds: Date().timeIntervalSince(started), spec: SpecPrinter.print(row.spec),
                                      data: experiment.data, version: version, command: command, configuration: configuration)
        } else {
            let last = try Self.metrics(dir + "/metrics.csv", epoch: nil)
            return ExperimentResult(row: row.name.value, seed: seed, trainTop1: last.train, valTop1: last.top1, valTop5: last.top5,
                                      parameters: summary.totalParameters, multiplyAdds: summary.totalMultiplyAdds, epochs: epochs,
                                      batch: batch, seconds: Date().timeIntervalSince(started), spec: SpecPrinter.print(row.spec),
                                      data: experiment.data, version: version, command: command, configuration: configuration)
        }
    }

    /// table.csv and table.md of every finished run (rank 0), naming the held-out split.
    func writeTable(_ results: [ExperimentResult], reused: Set<String>, splits: [String: DataSplits]) throws {
        var table = ExperimentTable(experiment: experiment, results: results)
        table.reused = results.filter { reused.contains("\($0.row)\t\($0.seed)") }.map { ($0.row, $0.seed) }
        // Name the held-out split the rows were evaluated on: a data set's test split is called test, not validation.
        if let row = experiment.rows.first {
            let input = row.graph.input
            let held = try? (splits.values.first ?? DataLoader.open(experiment.data, channels: input.channels, side: max(input.height, input.width))).validation
            if let source = held?.source { table.heldOut = ExperimentTable.splitName(source) }
            table.heldOutSource = held?.source
    }
    try AtomicFile.write(Data(table.csv().utf8), to: out + "/table.csv")
    try AtomicFile.write(Data(table.markdown().utf8), to: out + "/table.md")
    }

    /// What a row trains on, validates on and is reported on: with `classes`, their images
    /// (renumbered), `per_class` of each drawn per seed; with `early_stop`, a validation set of its
    /// `per_class` images of each class carved from the training split, disjoint from the training
    /// draw; the held-out split (the data's test or val split, `eval_per_class` of each class, the
    /// same for every seed) is what the table reports and, without early stopping, what the
    /// trainer validates on each epoch. `shortfall`: classes with fewer training images than asked.
    public static func splits(for row: Experiment.Row, seed: UInt64, data: DataSplits)
        -> (data: DataSplits, heldOut: (any Dataset)?, shortfall: [(class: Int, images: Int)]) {
        guard row.classes != nil || row.earlyStop != nil else { return (data, data.validation, []) }
        let classes = row.classes ?? Array(0..<(row.graph.nodes.last?.shape?.elementCount ?? 0))
        let holdout = row.earlyStop?.perClass ?? 0
        let train = SubsetDataset(data.train, classes: classes, perClass: row.perClass, seed: seed, holdout: holdout)
        let heldOut: (any Dataset)? = data.validation.map { SubsetDataset($0, classes: classes, perClass: row.evaluationPerClass, seed: 0) }
        let validation: (any Dataset)? = row.earlyStop != nil
            ? SubsetDataset(data.train, classes: classes, perClass: row.perClass, seed: seed, holdout: holdout, part: .holdout) : heldOut
        let names = data.classNames.map { names in classes.map { names.indices.contains($0) ? names[$0] : "class \($0)" } }
        return (DataSplits(train: train, validation: validation, description: data.description, classNames: names), heldOut,
                train.shortfall.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    func load(_ dir: String) throws -> ExperimentResult {
        try ExperimentResult.read(path: dir + "/result.json")
    }

    static func percent(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

    /// An epoch's line of metrics.csv (nil: the last): the running training error, validation top-1 and top-5.
    static func metrics(_ path: String, epoch: Int?) throws -> (epoch: Int, train: Double, top1: Double?, top5: Double?) {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let line = epoch.map { e in lines.dropFirst().last { Int($0.first ?? "") == e } } ?? lines.dropFirst().last
        guard let header = lines.first, let line, let at = Int(line[0]),
              let t = header.firstIndex(of: "train_top1_error"), let v1 = header.firstIndex(of: "val_top1_error"), let v5 = header.firstIndex(of: "val_top5_error"),
              line.count > max(t, v1, v5), let train = Double(line[t]) else {
            throw Trainer.Failure(description: "\(path) has no finished epoch" + (epoch.map { " \($0)" } ?? ""))
        }
        return (at, train, Double(line[v1]), Double(line[v5]))
    }

    /// Whether the checkpoint at `path` ends its run: every epoch done, or stopped early.
    static func finished(_ path: String, epochs: Int, patience: Int?) -> Bool {
        guard let file = try? Safetensors.read(path: path), let state = try? Checkpoint.read(file, path: path) else { return false }
        if state.stepInEpoch == 0 && state.epoch >= epochs { return true }
        if let patience, state.bestEpoch != nil { return state.epochsSinceBest >= patience }
        return false
    }

}

/// The experiment's table: a line per row, mean ± standard deviation over its seeds.
public struct ExperimentTable {
    public var experiment: Experiment
    public var results: [ExperimentResult]
    /// What the held-out split is called in the table: "test" for a data set's test split (as
    /// Fashion-MNIST's t10k files), "val" for a validation split.
    public var heldOut = "held-out"
    public var heldOutSource: String?
    /// Rows and seeds whose results an earlier run made (the same configuration), reused here.
    public var reused: [(row: String, seed: UInt64)] = []

    public init(experiment: Experiment, results: [ExperimentResult]) {
        self.experiment = experiment
        self.results = results
    }

    /// "test" or "val" from a split's source (a file or folder name).
    public static func splitName(_ source: String) -> String {
        let name = (source as NSString).lastPathComponent.lowercased()
        return name.contains("t10k") || name.contains("test") ? "test" : (name.contains("val") ? "val" : "held-out")
    }

    public struct Line {
        public var row: String
        public var seeds: Int
        public var parameters: Int, multiplyAdds: Int
        public var trainTop1: (mean: Double, std: Double)
        public var valTop1: (mean: Double, std: Double)?
        public var valTop5: (mean: Double, std: Double)?
        /// With early stopping: the epoch of the evaluated weights, and the epochs trained.
        public var bestEpoch: (mean: Double, std: Double)?
        public var trainedEpochs: (mean: Double, std: Double)?
        public var minutes: Double
    }

    static func stats(_ xs: [Double]) -> (mean: Double, std: Double) {
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.count > 1 ? xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1) : 0
        return (mean, variance.squareRoot())
    }

    public var lines: [Line] {
        experiment.rows.compactMap { row in
            let rs = results.filter { $0.row == row.name.value }
            guard let first = rs.first else { return nil }
            let v1 = rs.compactMap(\.valTop1), v5 = rs.compactMap(\.valTop5)
            return Line(row: row.name.value, seeds: rs.count, parameters: first.parameters, multiplyAdds: first.multiplyAdds,
                        trainTop1: Self.stats(rs.map(\.trainTop1)), valTop1: v1.count == rs.count ? Self.stats(v1) : nil,
                        valTop5: v5.count == rs.count ? Self.stats(v5) : nil,
                        bestEpoch: rs.allSatisfy { $0.bestEpoch != nil } ? Self.stats(rs.compactMap { $0.bestEpoch.map(Double.init) }) : nil,
                        trainedEpochs: rs.allSatisfy { $0.trainedEpochs != nil } ? Self.stats(rs.compactMap { $0.trainedEpochs.map(Double.init) }) : nil,
                        minutes: rs.map(\.seconds).reduce(0, +) / 60)
        }
    }

    /// Errors as fractions; `minutes` is the training time of the processes that finished the rows.
    public func csv() -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.6f", $0) } ?? "" }
        var out = "row,seeds,parameters,multiply_adds,train_top1_error,train_top1_std,val_top1_error,val_top1_std,val_top5_error,val_top5_std,"
            + "best_epoch,best_epoch_std,trained_epochs,minutes\n"
        for l in lines {
            out += "\(CSV.field(l.row)),\(l.seeds),\(l.parameters),\(l.multiplyAdds),\(f(l.trainTop1.mean)),\(f(l.trainTop1.std)),\(f(l.valTop1?.mean)),\(f(l.valTop1?.std)),"
                + "\(f(l.valTop5?.mean)),\(f(l.valTop5?.std)),"
                + "\(l.bestEpoch.map { String(format: "%.2f", $0.mean) } ?? ""),\(l.bestEpoch.map { String(format: "%.2f", $0.std) } ?? ""),"
                + "\(l.trainedEpochs.map { String(format: "%.2f", $0.mean) } ?? ""),\(String(format: "%.2f", l.minutes))\n"
        }
        return out
    }

    public func markdown() -> String {
        // One seed has no spread to show: the value alone.
        func pm(_ s: (mean: Double, std: Double)?, _ seeds: Int) -> String {
            s.map { seeds > 1 ? String(format: "%.2f ± %.2f", $0.mean * 100, $0.std * 100) : String(format: "%.2f", $0.mean * 100) } ?? "-"
        }
        func millions(_ n: Int) -> String {
            if n >= 100_000 { return String(format: "%.2f M", Double(n) / 1e6) }
            var digits = String(n), out = ""
            while digits.count > 3 { out = "," + digits.suffix(3) + out; digits.removeLast(3) }
            return digits + out
        }
        let lines = self.lines
        let stops = lines.contains { $0.bestEpoch != nil }, top5 = lines.contains { $0.valTop5 != nil }
        var out = "# \(Markdown.cell(experiment.name))\n\nError in %, mean ± standard deviation over each row's seeds (draws). Train top-1: the running error over the "
            + "\(stops ? "evaluated" : "last") epoch's batches (dropout on); \(heldOut) top-1\(top5 ? " and top-5" : ""): "
            + "\(heldOutSource.map { "the images of \($0)" } ?? "the held-out split") (a row's `data` may take a subset), never trained on"
            + (top5 ? "; top-5 only for more than 5 classes" : "") + ".\n"
        if stops {
            out += "\nRows with an epoch column stopped early: their validation set is images carved from the training split (disjoint from the "
                + "images trained on), training stopped once its loss (dropout off) had not improved for the row's patience, and the "
                + "\(heldOut) error is that of the weights of the epoch with the lowest validation loss (the column: mean ± sd of that epoch, "
                + "and of the epochs trained).\n"
        }
        out += "\n| row | train top-1 | \(heldOut) top-1 |" + (top5 ? " \(heldOut) top-5 |" : "") + (stops ? " epoch (trained) |" : "")
            + " parameters | multiply-adds | seeds | minutes |\n|" + String(repeating: "---|", count: 7 + (top5 ? 1 : 0) + (stops ? 1 : 0)) + "\n"
        for l in lines {
            out += "| \(Markdown.cell(l.row)) | \(pm(l.trainTop1, l.seeds)) | \(pm(l.valTop1, l.seeds)) |" + (top5 ? " \(pm(l.valTop5, l.seeds)) |" : "")
            if stops {
                out += l.bestEpoch.map { b in l.seeds > 1 ? String(format: " %.1f ± %.1f (%.1f) |", b.mean, b.std, l.trainedEpochs?.mean ?? b.mean)
                                                          : String(format: " %.0f (%.0f) |", b.mean, l.trainedEpochs?.mean ?? b.mean) } ?? " - |"
            }
            out += " \(millions(l.parameters)) | \(millions(l.multiplyAdds)) | \(l.seeds) | " + String(format: "%.1f", l.minutes) + " |\n"
        }
        if !reused.isEmpty {
            let byRow = Dictionary(grouping: reused, by: \.row)
            let names = experiment.rows.map(\.name.value).filter { byRow[$0] != nil }
                .map { "\(Markdown.cell($0)) (seed\(byRow[$0]!.count > 1 ? "s" : "") \(byRow[$0]!.map { String($0.seed) }.joined(separator: ", ")))" }
            out += "\nReused from an earlier run of this experiment with the same configuration (not trained again): \(names.joined(separator: ", ")). "
                + "A row edited since gets trained again.\n"
        }
        return out
    }
}
