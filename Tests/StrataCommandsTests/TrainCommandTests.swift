import Foundation
import StrataFormats
import Testing

/// `strata train` and `strata eval` end to end, on small data made here.
@Suite("strata train and eval")
struct TrainCommandTests {
    static let spec = """
        name: tiny
        input: {channels: 1, height: 6, width: 6}
        layers:
          - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1}
          - {name: r1, op: relu}
          - {name: p1, op: maxpool, kernel: 2}
          - {name: d1, op: dropout, rate: 0.2}
          - {name: f1, op: fc, units: 2}
          - {name: prob, op: softmax}
        training:
          batch: 8
          epochs: 2
          optimizer: {type: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005}
          init: {std: 0.3, bias: 0}

        """

    /// A data folder of .npy arrays: bright squares on the left (class 0) or right (class 1).
    static func makeData(_ d: String, count: Int = 256, seed: UInt64 = 5) throws {
        var g = SplitMix64(seed: seed)
        func images(_ n: Int) -> ([Float], [Int]) {
            var v: [Float] = [], l: [Int] = []
            for _ in 0..<n {
                let label = Int(g.next() % 2)
                for y in 0..<6 { for x in 0..<6 {
                    let inside = (1...4).contains(y) && (label == 0 ? x < 3 : x >= 3)
                    v.append(inside ? 0.9 : Float(g.next() % 100) / 500)
                } }
                l.append(label)
            }
            return (v, l)
        }
        let (x, y) = images(count), (vx, vy) = images(64)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try NumpyArray.write(.init(shape: [count, 1, 6, 6], values: x), path: d + "/images.npy")
        try writeInt64Npy(y, path: d + "/labels.npy")
        try NumpyArray.write(.init(shape: [64, 1, 6, 6], values: vx), path: d + "/val_images.npy")
        try writeInt64Npy(vy, path: d + "/val_labels.npy")
    }

    func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "strata-traincmd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try Self.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try Self.makeData(d + "/data")
        return d
    }

    @Test func trainsWritesMetricsAndEvaluates() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let run = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--snapshot-epochs", "1")
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("trained tiny for 2 epoch(s)"))
        #expect(run.errors.contains("epoch 2: loss"))            // plain log lines: stderr is not a terminal here
        #expect(FileManager.default.fileExists(atPath: d + "/run/checkpoints/epoch-1.safetensors"))
        let csv = try String(contentsOfFile: d + "/run/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 3)
        let eval = strata("eval", d + "/tiny.yaml", "--weights", d + "/run/checkpoints/latest.safetensors", "--data", d + "/data", "--json")
        #expect(eval.status == 0, "\(eval.errors)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(eval.output.utf8)) as? [String: Any])
        #expect(object["images"] as? Int == 64)
        #expect((object["top1_error"] as? Double ?? 1) < 0.1)
        #expect(object["top5_error"] is NSNull)   // 2 classes: top-5 is not reported
        // The eval of the run's own checkpoint agrees with the last metrics line.
        let last = csv.last!.split(separator: ",")
        #expect(abs(Double(last[5])! - (object["top1_error"] as! Double)) < 1e-9)
        // Ten views, and an ensemble of the two checkpoints.
        let views = strata("eval", d + "/tiny.yaml", "--weights", d + "/run/checkpoints/latest.safetensors", "--weights",
                           d + "/run/checkpoints/epoch-1.safetensors", "--data", d + "/data", "--views", "10")
        #expect(views.status == 0, "\(views.errors)")
        #expect(views.output.contains("(10 views, 2 networks)"))
        // A run already past its last epoch says so.
        let again = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--resume")
        #expect(again.status == 1)
        #expect(again.errors.contains("nothing to do"))
    }

    /// Kills a run with SIGKILL mid-epoch, resumes it, and compares with an uninterrupted run.
    @Test func aKilledRunResumesBitIdentically() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let common = [d + "/tiny.yaml", "--data", d + "/data", "--epochs", "40", "--checkpoint-steps", "3", "--seed", "9"]
        let whole = strata(["train"] + common + ["--out", d + "/whole"])
        #expect(whole.status == 0, "\(whole.errors)")

        // Killed (SIGKILL, by itself: STRATA_KILL_AFTER_STEPS) right after step 45, mid-epoch 2
        // (32 steps an epoch) and just after the checkpoint of step 45 (every 3 steps).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: strataExecutable)
        process.arguments = ["train"] + common + ["--out", d + "/killed"]
        process.environment = ProcessInfo.processInfo.environment.merging(["STRATA_KILL_AFTER_STEPS": "45"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = d + "/killed/checkpoints/latest.safetensors"
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL, "the run was not killed")
        #expect(try Safetensors.read(path: checkpoint).metadata["global_step"] == "45")
        let resumed = strata(["train"] + common + ["--out", d + "/killed", "--resume"])
        #expect(resumed.status == 0, "\(resumed.errors)")
        #expect(resumed.errors.contains("resumed at epoch"))
        let a = try Safetensors.read(path: d + "/whole/checkpoints/latest.safetensors")
        let b = try Safetensors.read(path: d + "/killed/checkpoints/latest.safetensors")
        for name in a.order { #expect(a.tensors[name] == b.tensors[name], "\(name) differs") }
        #expect(a.metadata["global_step"] == b.metadata["global_step"])
        let metrics = { (path: String) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(7) } }
        #expect(try metrics(d + "/whole/metrics.csv") == (try metrics(d + "/killed/metrics.csv")))
        // steps.csv: each of the 40 × 32 global steps once, in order, the same as the uninterrupted run's.
        let steps = { (path: String) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") }
        let killedSteps = try steps(d + "/killed/steps.csv")
        let globalSteps: [Int] = killedSteps.dropFirst().map { Int($0.split(separator: ",")[2]) ?? 0 }
        #expect(globalSteps == Array(1...1280))
        #expect(try steps(d + "/whole/steps.csv") == killedSteps)
    }

    @Test func resumingWithAnotherSpecIsRefused() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "1").status == 0)
        try Self.spec.replacingOccurrences(of: "units: 2", with: "units: 3").write(toFile: d + "/other.yaml", atomically: true, encoding: .utf8)
        let run = strata("train", d + "/other.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "2", "--resume")
        #expect(run.status == 1)
        #expect(run.errors.contains("was trained with a different spec"))
        #expect(run.errors.contains("+   - {name: f1, op: fc, units: 3}"))
    }

    @Test func unreadableImagesAreSkippedOrStopTheRun() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // An image tree: 2 classes of 6×6 grey PNGs copied from a fixture, and one broken file.
        let fixture = packageRoot + "/Tests/StrataFormatsTests/Fixtures/gradient.png"
        for split in ["train", "val"] { for cls in ["left", "right"] {
            try FileManager.default.createDirectory(atPath: "\(d)/tree/\(split)/\(cls)", withIntermediateDirectories: true)
            for i in 0..<8 { try FileManager.default.copyItem(atPath: fixture, toPath: "\(d)/tree/\(split)/\(cls)/\(i).png") }
        } }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(d)/tree/train/left/broken.png"))
        let run = strata("train", d + "/tiny.yaml", "--data", d + "/tree", "--out", d + "/run", "--epochs", "1")
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.errors.contains("warning: skipped unreadable image") && run.errors.contains("broken.png"))
        #expect(run.errors.contains("epoch 1: 1 unreadable image(s) skipped"))
        let strict = strata("train", d + "/tiny.yaml", "--data", d + "/tree", "--out", d + "/run2", "--epochs", "1", "--strict")
        #expect(strict.status == 1)
        #expect(strict.errors.contains("broken.png"))
    }

    @Test func badDataIsAnError() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let missing = strata("train", d + "/tiny.yaml", "--data", d + "/nowhere", "--out", d + "/run")
        #expect(missing.status == 1 && missing.errors.contains("no such data folder"))
        try FileManager.default.createDirectory(atPath: d + "/empty", withIntermediateDirectories: true)
        let empty = strata("train", d + "/tiny.yaml", "--data", d + "/empty", "--out", d + "/run")
        #expect(empty.status == 1 && empty.errors.contains("no data found"))
        let wrongSize = strata("train", packageRoot + "/networks/zfnet-mini.yaml", "--data", d + "/data", "--out", d + "/run")
        #expect(wrongSize.status == 1 && wrongSize.errors.contains("images must have its channels and be at least its size"))
    }
}
