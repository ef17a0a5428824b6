import Foundation
@testable import StrataCommands
import StrataFormats
import Testing

/// Hostile input to the analysis, experiment and report commands: each ends in a clean error or a
/// correct result, nothing outside --out changes, no special file is replaced, and no NaN or stale
/// result is reported as true (issue 24: one test per finding).
@Suite("hardening: analysis, experiment and report commands", .serialized)
struct HardeningTests {
    /// A folder with the tiny spec, plain weights (seed 3) and 64 images of data.
    func folder() throws -> String {
        let d = NSTemporaryDirectory() + "strata-hardening-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors", "--seed", "3").status == 0)
        return d
    }

    func sweep(_ d: String, _ extra: String...) -> RunResult {
        strata(["sweep", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--limit", "4"] + extra)
    }

    // MARK: data loss

    @Test func anOutputThatIsAFIFOOrALinkIsRefusedNotReplaced() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(mkfifo(d + "/fifo", 0o644) == 0)
        try "keep".write(toFile: d + "/target", atomically: true, encoding: .utf8)
        #expect(symlink(d + "/target", d + "/link") == 0)
        for name in ["fifo", "link"] {
            let r = strata("init", d + "/tiny.yaml", "--out", d + "/" + name)
            #expect(r.status == 1 && r.errors.contains("it exists and is a \(name == "fifo" ? "FIFO" : "symbolic link")"), "\(r.errors)")
        }
        #expect(AtomicFile.specialKind(d + "/fifo") == "a FIFO" && AtomicFile.specialKind(d + "/link") == "a symbolic link")
        #expect(try String(contentsOfFile: d + "/target", encoding: .utf8) == "keep")
        // A regular file is replaced whole, and no temporary file is left beside it.
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/target").status == 0)
        #expect(try Safetensors.read(path: d + "/target").tensors["c1.weight"] != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: d).filter { $0.contains(".tmp-") }.isEmpty)
    }

    @Test func namesFromAFileNeverBecomePathsOutsideTheOutputFolder() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        for (name, expected) in [("../../escaped", "row name '../../escaped' cannot be used"), ("a/.", "row name 'a/.' cannot be used"),
                                 ("./a", "row name './a' cannot be used"), (".hidden", "must start with a letter")] {
            try """
                name: x
                base: tiny.yaml
                data: data
                rows:
                  - name: "\(name)"

                """.write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
            let r = strata("experiment", d + "/exp.yaml", "--out", d + "/out")
            #expect(r.status == 1 && r.errors.contains("exp.yaml:5:") && r.errors.contains(expected), "\(name): \(r.errors)")
        }
        try "name: ../up\nbase: tiny.yaml\ndata: data\nrows: [{name: a}]\n".write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
        let experimentName = strata("experiment", d + "/exp.yaml", "--dry-run")
        #expect(experimentName.status == 1 && experimentName.errors.contains("'name' of the experiment, '../up', cannot be used"), "\(experimentName.errors)")
        // A network's name becomes a default output folder (probe's runs/probe-NAME): the same rule.
        try TrainCommandTests.spec.replacingOccurrences(of: "name: tiny", with: "name: x/../../escaped").write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let spec = strata("check", d + "/bad.yaml")
        #expect(spec.status == 1 && spec.errors.contains("bad.yaml:1:7") && spec.errors.contains("cannot be used"), "\(spec.errors)")
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "escaped"))
    }

    // MARK: wrong numbers with exit status 0

    @Test func anEditedRowIsTrainedAgainAndTheTableSaysWhatWasReused() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        func write(_ filters: Int) throws {
            try """
                name: edit
                base: tiny.yaml
                data: data
                training: {epochs: 1, seeds: [1]}
                rows:
                  - name: kept
                  - name: edited
                    set: {c1: {filters: \(filters)}}

                """.write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
        }
        try write(4)
        #expect(strata("experiment", d + "/exp.yaml", "--out", d + "/out").status == 0)
        let before = try String(contentsOfFile: d + "/out/table.csv", encoding: .utf8)
        try write(8)
        let again = strata("experiment", d + "/exp.yaml", "--out", d + "/out")
        #expect(again.status == 0, "\(again.errors)")
        #expect(again.errors.contains("kept, seed 1: finished earlier, reused") && again.errors.contains("edited, seed 1: the row changed"), "\(again.errors)")
        let after = try String(contentsOfFile: d + "/out/table.csv", encoding: .utf8)
        let parameters = { (text: String) in text.split(separator: "\n").first { $0.hasPrefix("edited,") }!.split(separator: ",")[2] }
        #expect(parameters(before) != parameters(after), "the edited row kept its old result")
        let table = try String(contentsOfFile: d + "/out/table.md", encoding: .utf8)
        #expect(table.contains("Reused from an earlier run") && table.contains("kept (seed 1)") && !table.contains("edited (seed"), "\(table)")
    }

    @Test func csvAndMarkdownCellsKeepAnyNameInOneCell() {
        for name in ["a,b", "say \"hi\"", "plain", "two\nlines", "a|b"] {
            #expect(CSV.split(Substring(CSV.field(name) + ",x"))?.first == name.replacingOccurrences(of: "\n", with: "\n"))
        }
        #expect(CSV.field("a,b") == "\"a,b\"" && CSV.field("q\"") == "\"q\"\"\"" && CSV.split("\"open") == nil)
        #expect(Markdown.cell("a|b<script>&") == "a\\|b&lt;script&gt;&amp;")
    }

    @Test func weightsThatAreNotFiniteAreRefusedNamingTheTensor() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var file = try Safetensors.read(path: d + "/w.safetensors")
        file.tensors["f1.weight"]!.values[0] = .nan
        try Safetensors.write(file, path: d + "/w.safetensors")
        let eval = strata("eval", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data")
        #expect(eval.status == 1 && eval.errors.contains("'f1.weight' holds nan at position 0"), "\(eval.errors)")
        let s = sweep(d, "--transform", "rotate", "--amounts=0,90", "--out", d + "/s")
        #expect(s.status == 1 && s.errors.contains("'f1.weight' holds nan"), "\(s.errors)")
        #expect(!FileManager.default.fileExists(atPath: d + "/s/summary.csv"))
    }

    @Test func aRerunIntoAFolderRemovesTheEarlierRunsFiles() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(sweep(d, "--transform", "blur", "--amounts=0,1", "--out", d + "/s").status == 0)
        #expect(FileManager.default.fileExists(atPath: d + "/s/blur.png"))
        try "mine".write(toFile: d + "/s/notes.txt", atomically: true, encoding: .utf8)
        let second = sweep(d, "--transform", "rotate", "--amounts=0,90", "--out", d + "/s")
        #expect(second.status == 0, "\(second.errors)")
        #expect(!FileManager.default.fileExists(atPath: d + "/s/blur.png") && FileManager.default.fileExists(atPath: d + "/s/rotate.png"))
        #expect(FileManager.default.fileExists(atPath: d + "/s/notes.txt"), "a file no run wrote was removed")
        let record = try String(contentsOfFile: d + "/s/run.json", encoding: .utf8)
        #expect(record.contains("\"files\": [") && record.contains("\"rotate.png\"") && !record.contains("blur.png"), "\(record)")
        // A list naming a file behind a link to another folder removes nothing there.
        try FileManager.default.createDirectory(atPath: d + "/elsewhere", withIntermediateDirectories: true)
        try "precious".write(toFile: d + "/elsewhere/victim.txt", atomically: true, encoding: .utf8)
        #expect(symlink(d + "/elsewhere", d + "/s/sub") == 0)
        try record.replacingOccurrences(of: "\"files\": [", with: "\"files\": [\"sub/victim.txt\", \"../elsewhere/victim.txt\", ")
            .write(toFile: d + "/s/run.json", atomically: true, encoding: .utf8)
        #expect(sweep(d, "--transform", "rotate", "--amounts=0,90", "--out", d + "/s").status == 0)
        #expect(try String(contentsOfFile: d + "/elsewhere/victim.txt", encoding: .utf8) == "precious")
    }

    // MARK: crashes and limits

    @Test func userNumbersMeetLimitsNotTraps() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let blur = sweep(d, "--transform", "blur", "--amounts=1e9", "--out", d + "/b")
        #expect(blur.status == 1 && blur.errors.contains("blur σ 1000000000.0 is wider than the image (6 pixels)"), "\(blur.errors)")
        let twice = sweep(d, "--transform", "rotate", "--layers", "r1,r1", "--out", d + "/t")
        #expect(twice.status == 1 && twice.errors.contains("--layers names 'r1' twice"), "\(twice.errors)")
        try "eye: [[9223372036854775807, 0, 2, 2], [0, 0, 2, 2]]\n".write(toFile: d + "/regions.yaml", atomically: true, encoding: .utf8)
        try NumpyArray.write(.init(shape: [2, 1, 6, 6], values: [Float](repeating: 0.5, count: 72)), path: d + "/x.npy")
        let rect = strata("correspond", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--input", d + "/x.npy",
                          "--regions", d + "/regions.yaml", "--layers", "r1", "--random", "1", "--out", d + "/c")
        #expect(rect.status == 1 && !rect.errors.isEmpty, "\(rect.errors)")
        for (arguments, message) in [(["tune", d + "/tiny.yaml", "--tiles", ""], "--tiles needs at least one tile"),
                                     (["tune", d + "/tiny.yaml", "--tiles", "9223372036854775807x64x16/1x1"], "each number between 0 and 4096"),
                                     (["probe", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--layers", "r1",
                                       "--lambda", "3e38"], "--lambda must be between 0 and 1e6"),
                                     (["probe", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--layers", "r1",
                                       "--draws", "1000000000"], "--draws must be between 1 and 1000"),
                                     (["deconv", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--layer", "c1",
                                       "--top", "9223372036854775807", "--out", d + "/dc"], "--top must be between 1 and 10000"),
                                     (["deconv", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "none", "--data", d + "/data", "--layer", "c1",
                                       "--maps=0,0", "--out", d + "/dc"], "--maps names map 0 twice")] {
            let r = strata(arguments)
            #expect(r.status == 2 && r.errors.contains(message), "\(arguments): \(r.errors)")
        }
    }

    @Test func manyAmountsDrawABoundedStripAndSaySo() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let amounts = (0..<2000).map { String($0) }.joined(separator: ",")
        let r = sweep(d, "--transform", "rotate", "--amounts=" + amounts, "--layers", "f1", "--show", "1", "--out", d + "/s")
        #expect(r.status == 0 && r.output.contains("note: rotate.png shows 40 of the 2000 amounts"), "\(r.errors)")
        // 40 columns of at least 28 points (2 pixels a point), one row: bounded whatever the amounts.
        let png = try Images.decode(path: d + "/s/rotate.png", channels: 3)
        #expect(png.width < 2 * (40 * 32 + 200) && png.height < 2 * 200, "\(png.width)×\(png.height)")
    }

    @Test func aReportSkipsShortRowsAndLinksStayInsideItsFolder() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let evil = d + "/r/javascript:alert(1)<b>\"'&"
        try FileManager.default.createDirectory(atPath: evil, withIntermediateDirectories: true)
        try "{\n  \"command\": \"sweep\"\n}\n".write(toFile: evil + "/run.json", atomically: true, encoding: .utf8)
        try "transform,amount,layer,images,mean_distance,mean_relative_distance,mean_true_prob,top1_accuracy\nrotate\nrotate,0,f1,4,0,0,0.5,0.5\n"
            .write(toFile: evil + "/summary.csv", atomically: true, encoding: .utf8)
        try "epoch,loss\n1\n".write(toFile: d + "/r/metrics.csv", atomically: true, encoding: .utf8)
        let r = strata("report", d + "/r")
        #expect(r.status == 0, "\(r.errors)")
        #expect(r.errors.contains("summary.csv:2: a row of 1 field(s) where the header has 8; left out"), "\(r.errors)")
        let html = try String(contentsOfFile: d + "/r/report.html", encoding: .utf8)
        #expect(html.contains("href=\"./javascript%3Aalert%281%29%3Cb%3E%22%27%26/run.json\""), "\(html.components(separatedBy: "href").dropFirst().prefix(2))")
        #expect(!html.contains("href=\"javascript") && !html.contains("<b>\""))
    }

    // MARK: messages

    @Test func sweepFilesGetLocatedErrors() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "spec: tiny.yaml\nweights: w.safetensors\ntransforms: [{transform: rotate\n".write(toFile: d + "/broken.yaml", atomically: true, encoding: .utf8)
        let broken = strata("sweep", d + "/broken.yaml")
        #expect(broken.status == 1 && broken.errors.contains("broken.yaml:") && !broken.errors.contains("missing --weights"), "\(broken.errors)")
        try """
            spec: tiny.yaml
            weights: w.safetensors
            mean: none
            data: data
            limit: -5
            out: s
            transforms:
              - {transform: rotate, amounts: [0, 90], colour: red}

            """.write(toFile: d + "/keys.yaml", atomically: true, encoding: .utf8)
        let keys = strata("sweep", d + "/keys.yaml")
        #expect(keys.status == 1 && keys.errors.contains("keys.yaml:8:") && keys.errors.contains("unknown key 'colour' in a transform"), "\(keys.errors)")
        #expect(keys.errors.contains("keys.yaml:5:8") && keys.errors.contains("'limit' must be a whole number between 1"), "\(keys.errors)")
    }

    @Test func freezingEveryLayerSaysNothingIsLeftToTrain() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try (TrainCommandTests.spec.replacingOccurrences(of: "  batch: 8", with: "  batch: 8\n  freeze: [c1, f1]"))
            .write(toFile: d + "/frozen.yaml", atomically: true, encoding: .utf8)
        let r = strata("train", d + "/frozen.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "1")
        #expect(r.status == 1 && r.errors.contains("nothing is left to train") && !r.errors.contains("hyperparameters"), "\(r.errors)")
    }

    @Test func aDryRunFindsWhatTheRealRunWouldHit() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        for (rows, data, message) in [("[{name: a}]", "missing", "no such"), ("[{name: a, data: {classes: [1, 7]}, set: {f1: {units: 2}}}]", "data", "names class 7"),
                                      ("[{name: a, weights: nowhere.safetensors}]", "data", "nowhere.safetensors")] {
            try "name: x\nbase: tiny.yaml\ndata: \(data)\nrows: \(rows)\n".write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
            let r = strata("experiment", d + "/exp.yaml", "--dry-run")
            #expect(r.status == 1 && r.errors.contains(message), "\(rows): \(r.errors)")
        }
    }

    /// Only epoch-N.safetensors with N a plain positive number are snapshots: `epoch--3`, `epoch-+1`
    /// or an epoch too large for an integer are not read as epochs −3, 1 or nothing.
    @Test func evolveReadsOnlyPlainEpochNumbers() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let t = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "1", "--snapshot-epochs", "1")
        #expect(t.status == 0, "\(t.errors)")
        for name in ["epoch--3", "epoch-+1", "epoch-01", "epoch-99999999999999999999"] {
            try FileManager.default.copyItem(atPath: d + "/run/checkpoints/epoch-1.safetensors", toPath: d + "/run/checkpoints/\(name).safetensors")
        }
        let r = strata("evolve", d + "/tiny.yaml", "--run", d + "/run", "--layer", "c1", "--data", d + "/data", "--limit", "4", "--out", d + "/ev")
        #expect(r.status == 0 && r.output.contains("over epochs 1; wrote"), "\(r.output) \(r.errors)")
    }

    @Test func anUnusableOutIsFoundBeforeTheWork() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "a file".write(toFile: d + "/file", atomically: true, encoding: .utf8)
        let r = sweep(d, "--transform", "rotate", "--out", d + "/file/sub")
        #expect(r.status == 1 && r.errors.contains("it exists and is not a folder") && !r.errors.contains("sweep: "), "\(r.errors)")
        let e = strata("experiment", d + "/exp-missing.yaml", "--out", d + "/file")
        #expect(e.status == 1 && !e.errors.contains("NSCocoaErrorDomain"))
    }
}

