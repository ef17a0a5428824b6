import Foundation
import StrataCPU
import StrataDiagnostics
import StrataFormats
import StrataTrain
import Testing

/// `strata experiment`: rows resolved and checked before training, finished rows skipped, a
/// killed experiment finished by a rerun with the table of an uninterrupted one.
@Suite("experiments", .serialized)
struct ExperimentTests {
    static func setUp(_ d: String, epochs: Int = 20) throws {
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 256)
        try """
            name: tiny-ablation
            base: tiny.yaml
            data: data
            training: {epochs: \(epochs), checkpoint_steps: 5, seeds: [3]}
            rows:
              - name: base
              - name: no-dropout
                remove: [d1]
              - name: wide
                set: {c1: {filters: 8}}

            """.write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
    }

    static func folder() throws -> String {
        let d = NSTemporaryDirectory() + "strata-experiment-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// The table without its minutes column (the time differs run to run).
    static func table(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",") }
    }

    /// A robustness block measures every row's checkpoint after training: robustness.csv has every
    /// measure of every row and seed, robustness.md a line per row; the first row is the mCE baseline
    /// (its own mCE 1). A bad block is a located error before anything trains.
    @Test func aRobustnessBlockMeasuresEveryRow() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.setUp(d, epochs: 1)
        let text = try String(contentsOfFile: d + "/exp.yaml", encoding: .utf8)
        try text.replacingOccurrences(of: "rows:\n", with: "robustness: {limit: 8, seed: 2}\nrows:\n").write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
        let run = strata("experiment", d + "/exp.yaml", "--out", d + "/out")
        #expect(run.status == 0, "\(run.errors)")
        let md = try String(contentsOfFile: d + "/out/robustness.md", encoding: .utf8)
        #expect(md.contains("| base | 1 | ") && md.contains("| no-dropout | 1 | ") && md.contains("| wide | 1 | ") && md.contains("first 8 test images"), "\(md)")
        let rows = try String(contentsOfFile: d + "/out/robustness.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "row,seed,measure,setting,layer,value,ci95_low,ci95_high,images")
        #expect(rows.contains { $0.hasPrefix("base,3,mCE,") && $0.contains(",1.0,") }, "the first row is its own baseline")
        #expect(rows.contains { $0.hasPrefix("wide,3,shift_consistency,") } && rows.dropFirst().allSatisfy { $0.hasSuffix(",8") })
        try text.replacingOccurrences(of: "rows:\n", with: "robustness: {limit: 0}\nrows:\n").write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = strata("experiment", d + "/bad.yaml", "--out", d + "/bad")
        #expect(bad.status == 1 && bad.errors.contains("limit") && bad.errors.contains("bad.yaml:"), "\(bad.errors)")
    }

    @Test func aKilledExperimentFinishesOnlyTheRemainingRowsWithTheSameTable() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.setUp(d)
        let whole = strata("experiment", d + "/exp.yaml", "--out", d + "/whole")
        #expect(whole.status == 0, "\(whole.errors)")
        #expect(whole.output.contains("| no-dropout |"))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: strataExecutable)
        process.arguments = ["experiment", d + "/exp.yaml", "--out", d + "/killed"]
        // Killed inside the second row: the first is 640 steps (20 epochs of 32), then 45 steps of
        // the second, just after its checkpoint of step 45 (every 5).
        process.environment = ProcessInfo.processInfo.environment.merging(["STRATA_KILL_AFTER_STEPS": "685"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = d + "/killed/rows/no-dropout/seed-3/checkpoints/latest.safetensors"
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL, "the experiment was not killed")
        #expect(try Safetensors.read(path: checkpoint).metadata["global_step"] == "45")
        let first = d + "/killed/rows/base/seed-3/result.json"
        let before = try String(contentsOfFile: first, encoding: .utf8)
        #expect(!FileManager.default.fileExists(atPath: d + "/killed/rows/no-dropout/seed-3/result.json"))
        let rerun = try strataProcess(["experiment", d + "/exp.yaml", "--out", d + "/killed"])
        #expect(rerun.status == 0, "\(rerun.errors)")
        #expect(rerun.errors.contains("base, seed 3: finished earlier") && rerun.errors.contains("no-dropout, seed 3: resuming"), "\(rerun.errors)")
        #expect(try String(contentsOfFile: first, encoding: .utf8) == before)
        #expect(try Self.table(d + "/whole/table.csv") == (try Self.table(d + "/killed/table.csv")))
        #expect(try Self.table(d + "/whole/table.csv").count == 4)
    }

    @Test func resultsRecordWhatRerunsARowAndOnlyRunsOne() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.setUp(d, epochs: 1)
        let one = strata("experiment", d + "/exp.yaml", "--out", d + "/out", "--only", "wide")
        #expect(one.status == 0, "\(one.errors)")
        #expect(FileManager.default.fileExists(atPath: d + "/out/rows/wide/seed-3/result.json"))
        #expect(!FileManager.default.fileExists(atPath: d + "/out/rows/base"))
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/out/rows/wide/seed-3/result.json"))) as? [String: Any]
        #expect((result?["spec"] as? String)?.contains("filters: 8") == true, "\(result?["spec"] ?? "")")
        #expect(result?["seed"] as? Int == 3 && result?["version"] as? String == "0.1.0" && (result?["command"] as? String)?.contains("--only wide") == true)
        #expect(strata("experiment", d + "/exp.yaml", "--only", "nope").status == 1)
        // The report draws the table as bars (and the row's training curves: loss per step, error
        // and learning rate per epoch), and shows the table.
        let report = strata("report", d + "/out")
        #expect(report.status == 0 && report.output.contains("4 charts"), "\(report.output) \(report.errors)")
        let page = try String(contentsOfFile: d + "/out/report.html", encoding: .utf8)
        #expect(page.contains("&quot;type&quot;:&quot;bar&quot;") && page.contains("&quot;labels&quot;:[&quot;wide&quot;]") && page.contains("<td>wide</td>"))
        if let dom = try headlessDOM(d + "/out/report.html") { #expect(dom.contains("data-charts=\"4/4\""), "\(dom.prefix(300))") }
    }

    /// Every error of every row at once, located, before anything trains.
    @Test func aBadExperimentGetsLocatedErrorsBeforeTraining() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.setUp(d)
        try """
            name: bad
            base: tiny.yaml
            data: data
            rows:
              - name: a
                renove: [d1]
              - name: b
                remove: [c9]
              - name: c
                remove: [c1]
                training: {freeze: [c1]}
              - name: a

            """.write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let r = strata("experiment", d + "/bad.yaml", "--out", d + "/out")
        #expect(r.status == 1)
        #expect(r.errors.contains("bad.yaml:6:5") && r.errors.contains("renove"), "\(r.errors)")
        #expect(r.errors.contains("bad.yaml:8:14") && r.errors.contains("cannot remove 'c9'"), "\(r.errors)")
        #expect(r.errors.contains("bad.yaml:11:25") && r.errors.contains("'freeze' names 'c1', which is not a layer"), "\(r.errors)")
        #expect(r.errors.contains("bad.yaml:12:11") && r.errors.contains("two rows are named 'a'"), "\(r.errors)")
        #expect(!FileManager.default.fileExists(atPath: d + "/out"))
    }
}

/// `strata probe`: a linear classifier per layer and draw on frozen features.
@Suite("strata probe")
struct ProbeCommandTests {
    @Test(arguments: ["softmax", "svm"])
    func probesEveryLayerOverDraws(_ classifier: String) throws {
        let d = try AnalysisCommandTests().trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = strata("probe", d + "/tiny.yaml", "--weights", d + "/run/checkpoints/latest.safetensors", "--data", d + "/data", "--layers", "r1,f1",
                       "--classifier", classifier, "--per-class", "8", "--draws", "3", "--test-limit", "40", "--out", d + "/probe")
        #expect(r.status == 0, "\(r.errors)")
        let lines = try String(contentsOfFile: d + "/probe/probe.csv", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + 2 * 3)
        let accuracies = lines.dropFirst().compactMap { Double($0.split(separator: ",").last!) }
        #expect(accuracies.count == 6 && accuracies.allSatisfy { $0 >= 0 && $0 <= 1 })
        // The trained network's last hidden features separate the two classes of this easy data.
        #expect(accuracies.suffix(3).allSatisfy { $0 >= 0.9 }, "\(accuracies)")
        #expect(r.output.contains("| r1 | 144 |") && r.output.contains("| f1 | 2 |"), "\(r.output)")
        #expect(strata("probe", d + "/tiny.yaml", "--weights", d + "/run/checkpoints/latest.safetensors", "--data", d + "/data", "--layers", "nope").status == 1)
    }
}

/// Rows that train on some classes, a few images per class drawn per seed, starting from an
/// earlier row's weights with layers frozen: the transfer protocol's parts.
@Suite("experiments: transfer rows")
struct TransferExperimentTests {
    @Test func rowsDrawClassesAndStartFromAnEarlierRow() throws {
        let d = try ExperimentTests.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try ExperimentTests.setUp(d)
        try """
            name: transfer
            base: tiny.yaml
            data: data
            training: {epochs: 3, seeds: [1, 2]}
            rows:
              - name: pre
                seeds: [7]
              - name: few
                data: {classes: [1, 0], per_class: 10}
                freeze: [c1]
                weights: row:pre
                epochs: 5
              - name: scratch
                data: {classes: [1, 0], per_class: 10}
                epochs: 5

            """.write(toFile: d + "/transfer.yaml", atomically: true, encoding: .utf8)
        let r = strata("experiment", d + "/transfer.yaml", "--out", d + "/out")
        #expect(r.status == 0, "\(r.errors)")
        #expect(FileManager.default.fileExists(atPath: d + "/out/rows/pre/seed-7/result.json"))
        #expect(!FileManager.default.fileExists(atPath: d + "/out/rows/pre/seed-1"))
        let pre = try Safetensors.read(path: d + "/out/rows/pre/seed-7/checkpoints/latest.safetensors")
        for seed in [1, 2] {
            let few = try Safetensors.read(path: d + "/out/rows/few/seed-\(seed)/checkpoints/latest.safetensors")
            #expect(few.tensors["c1.weight"] == pre.tensors["c1.weight"], "the frozen, pretrained layer changed")
            #expect(few.tensors["f1.weight"] != pre.tensors["f1.weight"])
        }
        // 10 per class of 2 classes, 8 per batch: 2 steps per epoch, 5 epochs.
        let metrics = try String(contentsOfFile: d + "/out/rows/scratch/seed-1/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 6 && metrics.last!.hasPrefix("5,10,"), "\(metrics)")
        // A row naming a later or unknown row, or a class count that does not fit the network.
        try """
            name: bad
            base: tiny.yaml
            data: data
            rows:
              - name: a
                weights: row:b
              - name: b
                data: {classes: [0, 1, 2]}

            """.write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = strata("experiment", d + "/bad.yaml", "--out", d + "/bad")
        #expect(bad.status == 1 && bad.errors.contains("bad.yaml:6:14") && bad.errors.contains("names no earlier row"), "\(bad.errors)")
        #expect(bad.errors.contains("row 'b' trains on 3 classes but its network has 2 outputs"), "\(bad.errors)")
    }

    /// A row with `early_stop` validates on images carved from the training split (never the test
    /// split), stops on their loss and reports the held-out error of the best epoch's weights.
    @Test func earlyStoppingRowsValidateOnTrainingImagesAndReportTheBestEpoch() throws {
        let d = try ExperimentTests.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try ExperimentTests.setUp(d)
        try """
            name: stop
            base: tiny.yaml
            data: data
            training: {seeds: [3]}
            rows:
              - name: few
                data: {classes: [1, 0], per_class: 20, eval_per_class: 16}
                early_stop: {patience: 2, per_class: 10}
                epochs: 30

            """.write(toFile: d + "/stop.yaml", atomically: true, encoding: .utf8)
        let r = strata("experiment", d + "/stop.yaml", "--out", d + "/out")
        #expect(r.status == 0, "\(r.errors)")
        let result = try JSONDecoder().decode([String: JSONAny].self, from: Data(contentsOf: URL(fileURLWithPath: d + "/out/rows/few/seed-3/result.json")))
        let best = try #require(result["best_epoch"]?.int), trained = try #require(result["trained_epochs"]?.int)
        #expect(best >= 1 && best <= trained && trained <= 30 && (trained == 30 || trained == best + 2), "best \(best), trained \(trained)")
        #expect(try String(contentsOfFile: d + "/out/table.md", encoding: .utf8).contains("epoch (trained)"))
        // The splits: training and validation from the training folder, disjoint; the table's from the val split.
        let experiment = try Experiment.load(path: d + "/stop.yaml")
        let data = try DataLoader.open(d + "/data", channels: 1, side: 6)
        let parts = ExperimentRunner.splits(for: experiment.rows[0], seed: 3, data: data)
        let train = try #require(parts.data.train as? SubsetDataset), validation = try #require(parts.data.validation as? SubsetDataset)
        let heldOut = try #require(parts.heldOut as? SubsetDataset)
        #expect(train.count == 40 && validation.count == 20 && heldOut.count == 32)
        #expect(validation.base.source == data.train.source && Set(train.indices).isDisjoint(with: validation.indices))
        #expect(heldOut.base.source == data.validation!.source)
        // The reported held-out error is that of best.safetensors.
        let weights = try Safetensors.read(path: d + "/out/rows/few/seed-3/checkpoints/best.safetensors")
        let evaluator = Evaluator(graph: experiment.rows[0].graph, preprocessing: try Preprocessing.inference(weights: weights, path: "best", input: (1, 6, 6)),
                                  batch: 16, backend: CPUBackend())
        evaluator.load(weights)
        #expect(try evaluator.errors(heldOut, views: 1).top1 == result["val_top1"]?.double)
        // early_stop needs both its keys, located.
        try String(contentsOfFile: d + "/stop.yaml", encoding: .utf8).replacingOccurrences(of: "{patience: 2, per_class: 10}", with: "{patience: 2}")
            .write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = strata("experiment", d + "/bad.yaml", "--out", d + "/bad")
        #expect(bad.status == 1 && bad.errors.contains("bad.yaml:8:") && bad.errors.contains("needs 'per_class'"), "\(bad.errors)")
    }
}

/// A JSON value read loosely, for checking result files.
struct JSONAny: Decodable {
    var value: Any?
    var int: Int? { value as? Int }
    var double: Double? { (value as? Double) ?? (value as? Int).map(Double.init) }
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { value = i } else if let d = try? c.decode(Double.self) { value = d }
        else if let s = try? c.decode(String.self) { value = s } else { value = nil }
    }
}
