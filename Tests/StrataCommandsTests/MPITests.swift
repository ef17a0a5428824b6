import Foundation
import StrataFormats
import StrataTrain
import Testing

/// Runs `strata` on `ranks` ranks with `mpirun --oversubscribe` (2 ranks on a 2-core machine), or
/// several programs (`mpirun ... : ...`, one argument list per rank) when `perRank` is given.
/// A job that runs past `timeout` seconds is killed and reported as such (never a hung suite).
func mpirun(_ ranks: Int, _ arguments: [String], perRank: [[String]]? = nil, timeout: Double = 300,
            environment: [String: String] = [:]) throws -> (result: RunResult, seconds: Double) {
    let launcher = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let launcher else { throw RunFailure("mpirun is not installed: tools/bootstrap installs Open MPI (openmpi-bin, libopenmpi-dev)") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: launcher)
    var args = ["--oversubscribe"]
    if let perRank {
        for (k, a) in perRank.enumerated() { args += (k > 0 ? [":"] : []) + ["-np", "1", strataExecutable] + a }
    } else {
        args += ["-np", "\(ranks)", strataExecutable] + arguments
    }
    process.arguments = args
    // Open MPI refuses root unless told; the CI container runs as root. One thread per rank on 2 cores.
    process.environment = ProcessInfo.processInfo.environment.merging(
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
         "STRATA_THREADS": "1"].merging(environment) { $1 }) { $1 }
    process.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let started = Date()
    try process.run()
    let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    let seconds = Date().timeIntervalSince(started)
    let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    return (RunResult(status: status, output: String(decoding: outData, as: UTF8.self), errors: String(decoding: errData, as: UTF8.self)), seconds)
}

struct RunFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}


/// Data-parallel training and spread commands over MPI ranks (Open MPI), two ranks on this machine.
@Suite("MPI: data-parallel training and spread work", .serialized)
struct MPITests {
    func scratch(count: Int = 256) throws -> String {
        let d = NSTemporaryDirectory() + "strata-mpi-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: count)
        return d
    }

    static func tensors(_ path: String) throws -> Safetensors.File { try Safetensors.read(path: path) }

    /// Every weight and momentum tensor of `b` within 1e-5 of the largest value of `a`'s.
    static func expectClose(_ a: Safetensors.File, _ b: Safetensors.File, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in a.order where !name.hasPrefix("data/") {
            let x = try #require(a.tensors[name]?.values, sourceLocation: sourceLocation), y = try #require(b.tensors[name]?.values, sourceLocation: sourceLocation)
            let scale = x.map { abs($0) }.max() ?? 0
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * max(scale, 1e-6), "\(name): ranks differ by \(worst) (largest value \(scale))", sourceLocation: sourceLocation)
        }
    }

    /// Two ranks at a global batch of 8 for 3 steps end with the weights of one rank at batch 8.
    /// Tolerance: 1e-5 of each tensor's largest value. The two differ only in float32 summation
    /// order: one rank sums the batch's 8 images in one GEMM; two sum 4 each and add the halves
    /// (the ×½ is exact). Each such sum is within a few ulps (~1e-7 relative) of the other, and 3
    /// SGD steps at lr 0.05 cannot grow that to 1e-5; a wrong split (an image twice, a dropout
    /// mask drawn for the wrong place, gradients not averaged) moves weights by ~1e-2 and more.
    @Test func twoRanksComputeOneRanksSteps() throws {
        let d = try scratch(count: 24)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let common = [d + "/tiny.yaml", "--data", d + "/data", "--epochs", "1", "--batch", "8", "--seed", "4"]
        let one = strata(["train"] + common + ["--out", d + "/one"])
        #expect(one.status == 0, "\(one.errors)")
        let (two, _) = try mpirun(2, ["train"] + common + ["--out", d + "/two"])
        #expect(two.status == 0, "\(two.errors)")
        #expect(two.errors.contains("data-parallel on 2 ranks: 4 images each per step of 8"))
        let a = try Self.tensors(d + "/one/checkpoints/latest.safetensors"), b = try Self.tensors(d + "/two/checkpoints/latest.safetensors")
        #expect(a.metadata["global_step"] == "3" && b.metadata["global_step"] == "3")
        #expect(b.metadata["ranks"] == "2")
        try Self.expectClose(a, b)
        // Not trivially equal: the run moved the weights from their initial values by far more.
        let start = strata(["train", d + "/tiny.yaml", "--data", d + "/data", "--epochs", "1", "--batch", "24", "--seed", "4", "--out", d + "/zero"])
        #expect(start.status == 0, "\(start.errors)")
        let c = try Self.tensors(d + "/zero/checkpoints/latest.safetensors")
        let moved = zip(a.tensors["c1.weight"]!.values, c.tensors["c1.weight"]!.values).map { abs($0 - $1) }.max() ?? 0
        #expect(moved > 1e-3, "one step at batch 24 and three at batch 8 should end apart (moved \(moved))")
        // The validation errors (spread over the ranks) are the one rank's.
        let m1 = try String(contentsOfFile: d + "/one/metrics.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7) }
        let m2 = try String(contentsOfFile: d + "/two/metrics.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7) }
        #expect(m1.count == 2 && m1.map { $0.prefix(3) } == m2.map { $0.prefix(3) })
        #expect(m1.last?.suffix(3) == m2.last?.suffix(3), "validation errors: \(m1) against \(m2)")
    }

    /// zfnet-mini on 1,536 Fashion-MNIST images, 3 epochs at batch 64 (72 steps, dropout on): the
    /// per-epoch losses of one rank and of two agree to 4 significant digits. The one rank runs 2
    /// threads, which sum the batch's filter gradients in two halves as the two ranks (1 thread each)
    /// do; early training amplifies any other summation order to ~1e-3 of the loss within 24 steps
    /// (one rank on 1 thread against 2 threads differs as much), which the weights test bounds instead.
    @Test func fashionMNISTLossCurvesAgreeOnOneAndTwoRanks() throws {
        let d = NSTemporaryDirectory() + "strata-mpi-fashion-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: d) }
        guard try fashionMNISTSlice(count: 1536, in: d + "/slice") != nil else { return }
        let common = [packageRoot + "/networks/zfnet-mini.yaml", "--data", d + "/slice", "--epochs", "3", "--batch", "64", "--seed", "7"]
        let one = try strataProcess(["train"] + common + ["--out", d + "/one"], environment: ["STRATA_THREADS": "2"])
        #expect(one.status == 0, "\(one.errors)")
        let (two, _) = try mpirun(2, ["train"] + common + ["--out", d + "/two"])
        #expect(two.status == 0, "\(two.errors)")
        func losses(_ run: String) throws -> [Double] {
            try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { Double($0.split(separator: ",")[3])! }
        }
        let a = try losses(d + "/one"), b = try losses(d + "/two")
        print("zfnet-mini on 1,536 Fashion-MNIST images, loss per epoch: one rank \(a), two ranks \(b)")
        #expect(a.count == 3 && b.count == 3)
        #expect(a.first! > a.last!, "the run did not learn: \(a)")
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-4 * abs(x), "losses \(a) against \(b)") }
    }

    /// SIGKILL of the whole job (mpirun and both ranks) mid-epoch, then --resume on 2 ranks: the
    /// weights and metrics equal an uninterrupted 2-rank run's bit for bit. Resuming on 1 rank is refused.
    @Test func aKilledJobResumesBitIdenticallyOnTwoRanks() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let common = ["train", d + "/tiny.yaml", "--data", d + "/data", "--epochs", "30", "--checkpoint-steps", "3", "--seed", "9"]
        let (whole, _) = try mpirun(2, common + ["--out", d + "/whole"])
        #expect(whole.status == 0, "\(whole.errors)")

        // Both ranks SIGKILL themselves after step 45 (mid-epoch 2 of 32 steps; rank 0 has just written
        // the checkpoint of step 45, every 3): the whole job dies at a known place.
        let marker = d + "/killed"
        let (killed, _) = try mpirun(2, common + ["--out", marker], timeout: 120, environment: ["STRATA_KILL_AFTER_STEPS": "45"])
        #expect(killed.status != 0)
        let checkpoint = marker + "/checkpoints/latest.safetensors"
        #expect(try Safetensors.read(path: checkpoint).metadata["global_step"] == "45")
        let metrics = try? String(contentsOfFile: marker + "/metrics.csv", encoding: .utf8)
        #expect((metrics?.split(separator: "\n").count ?? 0) < 31, "the killed job ran to its end")
        let killedAt = 45

        let single = strata(common + ["--out", marker, "--resume"])
        #expect(single.status == 1)
        #expect(single.errors.contains("was trained on 2 ranks, not 1; resume on 2 (mpirun -np 2)"), "\(single.errors)")

        let (resumed, _) = try mpirun(2, common + ["--out", marker, "--resume"])
        #expect(resumed.status == 0, "\(resumed.errors)")
        #expect(resumed.errors.contains("resumed at epoch"))
        let a = try Self.tensors(d + "/whole/checkpoints/latest.safetensors"), b = try Self.tensors(checkpoint)
        for name in a.order { #expect(a.tensors[name] == b.tensors[name], "\(name) differs") }
        #expect(a.metadata["global_step"] == b.metadata["global_step"])
        let m = { (path: String) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7) } }
        let wholeText = try String(contentsOfFile: d + "/whole/metrics.csv", encoding: .utf8)
        let killedText = try String(contentsOfFile: marker + "/metrics.csv", encoding: .utf8)
        #expect(try m(d + "/whole/metrics.csv") == (try m(marker + "/metrics.csv")), "killed at step \(killedAt)\n\(wholeText)\n\(killedText)")
    }

    /// A data file that only rank 1 cannot read stops the whole job within seconds, with rank 1's
    /// message; data that differs between ranks is refused before the first step.
    @Test func aBadFileOnOneRankStopsTheJob() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try FileManager.default.copyItem(atPath: d + "/data", toPath: d + "/bad")
        let images = try Data(contentsOf: URL(fileURLWithPath: d + "/bad/images.npy"))
        try images.prefix(images.count / 2).write(to: URL(fileURLWithPath: d + "/bad/images.npy"))
        let args = { (data: String) in ["train", d + "/tiny.yaml", "--data", data, "--out", d + "/run", "--epochs", "50"] }
        // A job that did not stop would run 50 epochs and be killed by the timeout: status 137, no message.
        let (bad, _) = try mpirun(2, [], perRank: [args(d + "/data"), args(d + "/bad")], timeout: 120)
        #expect(bad.status != 0 && bad.status != 128 + SIGKILL)
        #expect(bad.errors.contains("[rank 1/2] error:"), "\(bad.errors)")
        #expect(bad.errors.contains("images.npy"), "\(bad.errors)")
        #expect(!bad.output.contains("trained tiny"), "rank 0 trained on: \(bad.output)")

        try TrainCommandTests.makeData(d + "/other", count: 128)
        let (other, _) = try mpirun(2, [], perRank: [args(d + "/data"), args(d + "/other")], timeout: 60)
        #expect(other.status != 0)
        #expect(other.errors.contains("rank 1 of 2 has other training data than rank 0"), "\(other.errors)")

        // A loss that becomes NaN (lr 1e6) stops every rank: the loss is summed over the ranks, so all see it.
        try TrainCommandTests.spec.replacingOccurrences(of: "lr: 0.05", with: "lr: 1000000").write(toFile: d + "/wild.yaml", atomically: true, encoding: .utf8)
        let (wild, _) = try mpirun(2, ["train", d + "/wild.yaml", "--data", d + "/data", "--out", d + "/wild", "--epochs", "50"], timeout: 120)
        #expect(wild.status != 0 && wild.status != 128 + SIGKILL)
        #expect(wild.errors.contains("the loss became"), "\(wild.errors)")

        let (odd, _) = try mpirun(2, ["train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/odd", "--batch", "7"], timeout: 60)
        #expect(odd.status != 0)
        #expect(odd.errors.contains("the batch of 7 does not divide among 2 ranks"), "\(odd.errors)")
        #expect(!odd.errors.contains("data-parallel on 2 ranks"), "a line that assumes the split came before the error: \(odd.errors)")
    }

    /// An experiment of 4 rows spread over 2 ranks writes the table one rank writes.
    @Test func anExperimentOnTwoRanksWritesOneRanksTable() throws {
        let d = try ExperimentTests.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try ExperimentTests.setUp(d, epochs: 3)
        try String(contentsOfFile: d + "/exp.yaml", encoding: .utf8).appending("""
              - name: narrow
                set: {c1: {filters: 2}}

            """).write(toFile: d + "/exp.yaml", atomically: true, encoding: .utf8)
        let one = strata("experiment", d + "/exp.yaml", "--out", d + "/one")
        #expect(one.status == 0, "\(one.errors)")
        let (two, _) = try mpirun(2, ["experiment", d + "/exp.yaml", "--out", d + "/two"])
        #expect(two.status == 0, "\(two.errors)")
        #expect(two.errors.contains("[rank 1/2] no-dropout, seed 3: training"), "\(two.errors)")
        let a = try ExperimentTests.table(d + "/one/table.csv"), b = try ExperimentTests.table(d + "/two/table.csv")
        #expect(a.count == 5)
        #expect(a == b)
    }

    /// sweep, occlude (full, incremental, approximate) and eval spread over 2 ranks write the files one
    /// rank writes, bit for bit.
    @Test func sweepOccludeAndEvalOnTwoRanksWriteOneRanksFiles() throws {
        let d = try scratch(count: 64)
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "1").status == 0)
        let w = d + "/run/checkpoints/latest.safetensors"
        let sweep = ["sweep", d + "/tiny.yaml", "--weights", w, "--data", d + "/data", "--limit", "50", "--batch", "8", "--transform", "translate-x,noise"]
        // Each occlusion path (full, exact incremental, approximate with a drill-down) spread over the ranks.
        let occlude = ["occlude", d + "/tiny.yaml", "--weights", w, "--data", d + "/data", "--limit", "7", "--batch", "8", "--patch", "2", "--stride", "1"]
        let maps = ["probability.npy", "top_class.npy", "activation.npy", "strongest_map.npy", "occlusion.png"]
        for (name, args, files) in [("sweep", sweep, ["sweep.csv", "summary.csv", "translate-x.png"]), ("full", occlude + ["--full"], maps),
                                    ("incremental", occlude + ["--incremental"], maps),
                                    ("approximate", occlude + ["--approximate", "1", "--drill-step", "2", "--drill-threshold", "0.05"], maps)] {
            // One rank is a process of its own, as each of the two is (not this test process, whose
            // other tests draw and compute alongside), with the ranks' one thread.
            let one = try strataProcess(args + ["--out", d + "/one-" + name], environment: ["STRATA_THREADS": "1"])
            #expect(one.status == 0, "\(one.errors)")
            let (two, _) = try mpirun(2, args + ["--out", d + "/two-" + name])
            #expect(two.status == 0, "\(two.errors)")
            if name != "sweep" { #expect(two.output.contains(name == "full" ? ", full)" : ", incremental)"), "\(two.output)") }
            for f in files {
                let a = FileManager.default.contents(atPath: d + "/one-\(name)/" + f), b = FileManager.default.contents(atPath: d + "/two-\(name)/" + f)
                #expect(a != nil && a == b, "\(name): \(f) differs\(Self.pixelDifference(d + "/one-\(name)/" + f, d + "/two-\(name)/" + f))")
            }
        }
        let eval = ["eval", d + "/tiny.yaml", "--weights", w, "--data", d + "/data", "--batch", "8", "--json"]
        let (two, _) = try mpirun(2, eval)
        #expect(two.status == 0, "\(two.errors)")
        #expect(two.output == strata(eval).output, "eval on 2 ranks: \(two.output)")
    }

    @Test func aPNGDifferenceSaysWhichPixels() throws {
        let d = NSTemporaryDirectory() + "strata-pixels-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        var pixels = [Float](repeating: 10, count: 3 * 4 * 5)
        try Images.encodePNG(.init(channels: 3, height: 4, width: 5, pixels: pixels)).write(to: URL(fileURLWithPath: d + "/a.png"))
        pixels[2 * 20 + 2 * 5 + 3] = 40   // blue, row 2, column 3
        try Images.encodePNG(.init(channels: 3, height: 4, width: 5, pixels: pixels)).write(to: URL(fileURLWithPath: d + "/b.png"))
        #expect(Self.pixelDifference(d + "/a.png", d + "/b.png") == ": 1 channel values differ, by up to 30.0 of 255, in rows 2–2, columns 3–3")
        #expect(Self.pixelDifference(d + "/a.png", d + "/a.png") == ": the same pixels, other bytes")
    }

    /// For two PNGs that differ: how (size, or the pixels that differ and by how much, and where),
    /// so a failure says what to look for.
    static func pixelDifference(_ a: String, _ b: String) -> String {
        guard a.hasSuffix(".png"), let x = try? Images.decode(path: a, channels: 3), let y = try? Images.decode(path: b, channels: 3) else { return "" }
        guard x.height == y.height, x.width == y.width else { return ": \(x.width)×\(x.height) against \(y.width)×\(y.height) pixels" }
        // Planar values (channel, row, column); the box of rows and columns where they differ.
        var count = 0, largest: Float = 0, box = (top: Int.max, bottom: -1, left: Int.max, right: -1)
        let plane = x.height * x.width
        for (k, (p, q)) in zip(x.pixels, y.pixels).enumerated() where p != q {
            count += 1
            largest = max(largest, abs(p - q))
            let (row, column) = (k % plane / x.width, k % plane % x.width)
            box = (min(box.top, row), max(box.bottom, row), min(box.left, column), max(box.right, column))
        }
        return count == 0 ? ": the same pixels, other bytes" : ": \(count) channel values differ, by up to \(largest) of 255, in rows \(box.top)–\(box.bottom), columns \(box.left)–\(box.right)"
    }

    /// Data-parallel on the OpenCL backend (PoCL here): 2 ranks at batch 8 for 3 steps end with one
    /// OpenCL rank's weights within the same tolerance as on the CPU.
    @Test func twoRanksOnOpenCLComputeOneRanksSteps() throws {
        let d = try scratch(count: 24)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let common = ["train", d + "/tiny.yaml", "--data", d + "/data", "--epochs", "1", "--batch", "8", "--seed", "4", "--device", "opencl"]
        let one = strata(common + ["--out", d + "/one"])
        #expect(one.status == 0, "\(one.errors)")
        let (two, _) = try mpirun(2, common + ["--out", d + "/two"])
        #expect(two.status == 0, "\(two.errors)")
        let a = try Self.tensors(d + "/one/checkpoints/latest.safetensors"), b = try Self.tensors(d + "/two/checkpoints/latest.safetensors")
        try Self.expectClose(a, b)
    }

    /// Started without mpirun, a command is one rank and never starts MPI (no MPI output, no
    /// ranks in its messages).
    @Test func withoutMPIRunACommandIsOneRank() throws {
        let r = try strataProcess(["check", packageRoot + "/networks/zfnet-mini.yaml"])
        #expect(r.status == 0)
        #expect(!r.errors.contains("rank"))
        let bad = try strataProcess(["check", "/nonexistent.yaml"])
        #expect(bad.status == 1)
        #expect(bad.errors.hasPrefix("error: cannot read spec"), "\(bad.errors)")
    }
}
