import Foundation
@testable import StrataCommands
import StrataFormats
import StrataTrain
import Testing

/// The issue-9 inputs through the commands: each gives a message in words and exit 1 (a usage
/// error: 2), and what is reported as a result is right.
@Suite("strata on hostile input")
struct ReliabilityCommandTests {
    func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "strata-hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        return d
    }

    /// An image tree of 6×6 grey PNGs: class `left` bright on the left, `right` on the right.
    func makeTree(_ root: String, classes: [String] = ["left", "right"], perClass: Int = 8) throws {
        for split in ["train", "val"] { for (k, cls) in classes.enumerated() {
            try FileManager.default.createDirectory(atPath: "\(root)/\(split)/\(cls)", withIntermediateDirectories: true)
            for i in 0..<perClass {
                let pixels = (0..<36).map { p -> Float in (p % 6 < 3) == (k == 0) && (1...4).contains(p / 6) ? 230 : Float((p * 7 + i * 13) % 50) }
                try Images.encodePNG(Images.Image(channels: 1, height: 6, width: 6, pixels: pixels)).write(to: URL(fileURLWithPath: "\(root)/\(split)/\(cls)/\(i).png"))
            }
        } }
    }

    @Test(arguments: [
        (["bench", "networks/zfnet-mini.yaml", "--batch", "1125899906842624"], "--batch must be between 1 and 1048576"),
        (["eval", "networks/zfnet-mini.yaml", "--weights", "w", "--data", "d", "--batch", "9999999999"], "--batch must be between"),
        (["features", "networks/zfnet-mini.yaml", "--weights", "a", "--weights", "b", "--input", "x", "--layers", "fc8", "--out", "o"], "--weights is given 2 times; 'features' takes it once"),
        (["train", "networks/zfnet-mini.yaml", "--data", "d", "--out", "o", "--out=p"], "--out is given 2 times"),
        (["train", "networks/zfnet-mini.yaml", "--data", "d", "--out", "o", "--resume", "--overwrite"], "give one"),
        (["bench", "networks/zfnet-mini.yaml", "--device", "gpu"], "--device"),
    ])
    func usageErrorsExitTwo(arguments: [String], message: String) {
        let run = strata(arguments.map { $0.hasPrefix("networks/") ? packageRoot + "/" + $0 : $0 })
        #expect(run.status == 2, "\(arguments): \(run.errors)")
        #expect(run.errors.contains(message), "\(run.errors)")
    }

    @Test func eachWeightsFileOfAnEnsembleMayRepeatTheOption() throws {
        #expect(StrataMain.repeatedOption(["eval", "s.yaml", "--weights", "a", "--weights", "b"]) == nil)
        #expect(StrataMain.repeatedOption(["grad", "s.yaml", "--weights", "a", "--", "--weights"]) == nil)
    }

    @Test func filesThatAreNotFilesAreNamedAsSuch() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let base = ["features", d + "/tiny.yaml", "--input", d + "/data/images.npy", "--layers", "f1", "--out", d + "/f"]
        let device = strata(base + ["--weights", "/dev/null"])
        #expect(device.status == 1 && device.errors == "error: /dev/null: it is not a regular file (a device, a pipe or a socket); give a file\n")
        let folder = strata(base + ["--weights", d])
        #expect(folder.status == 1 && folder.errors == "error: \(d): it is a folder; a file is expected here\n")
        _ = FileManager.default.createFile(atPath: d + "/taken", contents: Data())
        let out = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/taken")
        #expect(out.status == 1 && out.errors.hasSuffix("error: \(d)/taken: it exists and is not a folder\n"), "\(out.errors)")
    }

    @Test func trainingIntoAnExistingRunNeedsResumeOrOverwrite() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let args = ["train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "1"]
        #expect(strata(args).status == 0)
        let metrics = try String(contentsOfFile: d + "/run/metrics.csv", encoding: .utf8)
        let again = strata(args)
        #expect(again.status == 1 && again.errors.contains("already holds a run") && again.errors.contains("--overwrite"))
        #expect(try String(contentsOfFile: d + "/run/metrics.csv", encoding: .utf8) == metrics)
        #expect(strata(args + ["--overwrite"]).status == 0)
        let resumed = strata(["train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "2", "--resume", "--batch", "4"])
        #expect(resumed.status == 1 && resumed.errors.contains("was trained with --batch 8, not 4"))
    }

    @Test func hugeEpochCountsPrintAsWritten() {
        let progress = Progress(terminal: false, epochs: Int.max, live: false)
        progress.handle(.step(epoch: 11, step: 8, of: 8, loss: 0.25, imagesPerSecond: 100))
        #expect(progress.collected.hasPrefix("epoch 12/9223372036854775807 step 8/8"))
    }

    @Test func evalRefusesEmptySplitsAndLabelsOutsideTheClasses() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors").status == 0)
        try writeInt64Npy((0..<64).map { $0 == 9 ? 7 : $0 % 2 }, path: d + "/data/val_labels.npy")
        let labels = strata("eval", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--data", d + "/data")
        #expect(labels.status == 1 && labels.errors.contains("val_labels.npy: image 9 has label 7, outside 0..<2"), "\(labels.errors)")
        try NumpyArray.write(.init(shape: [0, 1, 6, 6], values: []), path: d + "/data/val_images.npy")
        try writeInt64Npy([], path: d + "/data/val_labels.npy")
        let empty = strata("eval", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--data", d + "/data")
        #expect(empty.status == 1 && empty.errors.contains("has no images"), "\(empty.errors)")
    }

    @Test func gradAndFeaturesRefuseNonFiniteInputs() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors").status == 0)
        var x = [Float](repeating: 0.5, count: 72)
        x[36 + 4] = .nan
        try NumpyArray.write(.init(shape: [2, 1, 6, 6], values: x), path: d + "/x.npy")
        try writeInt64Npy([0, 1], path: d + "/y.npy")
        let grad = strata("grad", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--input", d + "/x.npy", "--labels", d + "/y.npy", "--out", d + "/g.safetensors")
        #expect(grad.status == 1 && grad.errors.contains("x.npy: image 1 holds nan at position 4; inputs must be finite numbers"), "\(grad.errors)")
    }

    /// The issue's case: a class folder missing from train/ shifted every label. With a checkpoint
    /// the classes are the ones it was trained on; with plain weights, the folder count must match.
    @Test func evalNumbersTreeClassesFromTheCheckpoint() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try makeTree(d + "/tree")
        #expect(strata("train", d + "/tiny.yaml", "--data", d + "/tree", "--out", d + "/run", "--epochs", "2").status == 0)
        let checkpoint = d + "/run/checkpoints/latest.safetensors"
        #expect(try Safetensors.read(path: checkpoint).metadata["classes"] == #"["left","right"]"#)
        let before = strata("eval", d + "/tiny.yaml", "--weights", checkpoint, "--data", d + "/tree", "--json")
        try FileManager.default.removeItem(atPath: d + "/tree/train/left")
        let after = strata("eval", d + "/tiny.yaml", "--weights", checkpoint, "--data", d + "/tree", "--json")
        #expect(before.status == 0 && after.status == 0, "\(after.errors)")
        #expect(before.output == after.output)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors").status == 0)
        let plain = strata("eval", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--data", d + "/tree")
        #expect(plain.status == 1 && plain.errors.contains("val/left: it is not one of the network's classes (right)"), "\(plain.errors)")
    }

    @Test func tenViewsOnImagesOfTheInputSizeSaySo() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors").status == 0)
        let run = strata("eval", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--mean", "train", "--data", d + "/data", "--views", "10", "--json")
        #expect(run.status == 0)
        #expect(run.errors.contains("so the 10 views are 1 distinct crop and its mirror image, repeated"), "\(run.errors)")
        #expect(run.output.contains("\"distinct_views\": 2"))
    }

    @Test func evalRefusesDataOfAnotherSizeThanTheCheckpoint() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--epochs", "1").status == 0)
        try FileManager.default.createDirectory(atPath: d + "/big", withIntermediateDirectories: true)
        try NumpyArray.write(.init(shape: [4, 1, 8, 8], values: [Float](repeating: 0.3, count: 256)), path: d + "/big/images.npy")
        try writeInt64Npy([0, 1, 0, 1], path: d + "/big/labels.npy")
        try NumpyArray.write(.init(shape: [4, 1, 8, 8], values: [Float](repeating: 0.3, count: 256)), path: d + "/big/val_images.npy")
        try writeInt64Npy([0, 1, 0, 1], path: d + "/big/val_labels.npy")
        let run = strata("eval", d + "/tiny.yaml", "--weights", d + "/run/checkpoints/latest.safetensors", "--data", d + "/big")
        #expect(run.status == 1 && run.errors.contains("was trained on images of 1×6×6 but"), "\(run.errors)")
    }

    /// `features` on an image applies the checkpoint's preprocessing: the same as the .npy of the
    /// image scaled to [0, 1] minus the stored mean image.
    @Test func featuresSubtractsTheCheckpointsMeanImage() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try makeTree(d + "/tree")
        #expect(strata("train", d + "/tiny.yaml", "--data", d + "/tree", "--out", d + "/run", "--epochs", "1").status == 0)
        let checkpoint = d + "/run/checkpoints/latest.safetensors"
        let mean = try #require(try Safetensors.read(path: checkpoint).tensors["data/mean"])
        #expect(mean.values.contains { $0 != 0 })
        let png = d + "/tree/val/left/3.png"
        let image = try Images.decode(path: png, channels: 1)
        let raw = Images.prepare(image, height: 6, width: 6)
        let manual = zip(raw, mean.values).map { $0 - $1 }
        try NumpyArray.write(.init(shape: [1, 1, 6, 6], values: raw), path: d + "/raw.npy")
        try NumpyArray.write(.init(shape: [1, 1, 6, 6], values: manual), path: d + "/manual.npy")
        // One rule for every input: the PNG and the same raw pixels as .npy get the checkpoint's mean
        // subtracted; an array already prepared by hand goes in as it is with --mean none.
        for (input, out, extra) in [(png, "/a", [String]()), (d + "/raw.npy", "/b", []), (d + "/manual.npy", "/c", ["--mean", "none"])] {
            let run = strata(["features", d + "/tiny.yaml", "--weights", checkpoint, "--input", input, "--layers", "f1", "--out", d + out] + extra)
            #expect(run.status == 0, "\(run.errors)")
        }
        let a = try NumpyArray.readFloats(path: d + "/a/f1.npy"), b = try NumpyArray.readFloats(path: d + "/b/f1.npy"), c = try NumpyArray.readFloats(path: d + "/c/f1.npy")
        #expect(a == b && a == c)
        // The prepared array given as raw pixels is not the same input: the mean would go twice.
        #expect(strata("features", d + "/tiny.yaml", "--weights", checkpoint, "--input", d + "/manual.npy", "--layers", "f1", "--out", d + "/e").status == 0)
        #expect(try NumpyArray.readFloats(path: d + "/e/f1.npy") != a)
    }
}
