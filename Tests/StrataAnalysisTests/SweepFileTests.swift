import Foundation
import StrataAnalysis
import StrataDiagnostics
import Testing

/// The sweep file's schema: typed fields, paths relative to the file, every problem located.
@Suite("Sweep files")
struct SweepFileTests {
    /// Writes `text` as sweep.yaml in a fresh folder; returns the folder and the file's path.
    static func write(_ text: String) throws -> (folder: String, path: String) {
        let d = NSTemporaryDirectory() + "strata-sweepfile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try text.write(toFile: d + "/sweep.yaml", atomically: true, encoding: .utf8)
        return (d, d + "/sweep.yaml")
    }

    /// The messages of a file that does not load, each with its line and column.
    static func problems(_ text: String, maximumBatch: Int = 1 << 20) throws -> [String] {
        let (d, path) = try write(text)
        defer { try? FileManager.default.removeItem(atPath: d) }
        do {
            _ = try SweepFile.load(path, maximumBatch: maximumBatch)
            return []
        } catch let error as DiagnosticError {
            return error.diagnostics.map { d in "\(d.location.map { "\($0.line):\($0.column)" } ?? "-"): \(d.message)" }
        }
    }

    @Test func everyFieldIsReadAndPathsAreRelativeToTheFile() throws {
        let (d, path) = try Self.write("""
            spec: ../nets/tiny.yaml
            weights: w.safetensors
            mean: train
            data: /abs/data
            split: train
            limit: 20
            batch: 8
            layers: [c1, f1]
            out: out
            seed: 7
            fill: edge
            interpolation: nearest
            transforms:
              - {transform: rotate, amounts: [0, 90, 180]}
              - {transform: blur}

            """)
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(SweepFile.isSweepFile(path) && SweepFile.parses(path))
        let file = try SweepFile.load(path, maximumBatch: 64)
        #expect(file.spec == d + "/../nets/tiny.yaml" && file.weights == d + "/w.safetensors" && file.data == "/abs/data")
        #expect(file.mean == "train" && file.split == "train" && file.limit == 20 && file.batch == 8 && file.out == d + "/out")
        #expect(file.input == nil && file.labels == nil)
        #expect(file.layers == ["c1", "f1"] && file.seed == 7 && file.fill == .edge && file.interpolation == .nearest)
        #expect(file.transforms.map(\.transform) == [.rotate, .blur])
        #expect(file.transforms[0].amounts == [0, 90, 180] && file.transforms[1].amounts == nil)
    }

    @Test func aMeanFileIsAPathAndOneLayerIsAList() throws {
        let (d, path) = try Self.write("spec: s.yaml\nmean: m.npy\nlayers: f1\ntransforms: [{transform: scale}]\n")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let file = try SweepFile.load(path, maximumBatch: 64)
        #expect(file.mean == d + "/m.npy" && file.layers == ["f1"] && file.weights == nil)
    }

    @Test func aNetworkSpecIsNotASweepFile() throws {
        let (d, path) = try Self.write("name: n\ninput: {channels: 1, height: 4, width: 4}\nlayers: []\n")
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(!SweepFile.isSweepFile(path) && SweepFile.parses(path))
        try "a: [\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(!SweepFile.isSweepFile(path) && !SweepFile.parses(path))
    }

    @Test func problemsAreLocatedAndAllReported() throws {
        let found = try Self.problems("""
            spec: s.yaml
            wieghts: w.safetensors
            batch: 100
            fill: blak
            transforms:
              - {transform: shear}
              - {transform: rotate, amount: [1]}
              - {transform: scale, amounts: [0]}
              - {transform: rotate}
              - {transform: translate-x, amounts: [1, 2, 1]}

            """, maximumBatch: 64)
        #expect(found == [
            "2:1: unknown key 'wieghts' in a sweep file; did you mean 'weights'? (keys: \(SweepFile.keys.joined(separator: ", ")))",
            "3:8: 'batch' must be a whole number between 1 and 64, got '100'",
            "4:7: 'fill' is one of black, mean, edge, not 'blak'; did you mean 'black'?",
            "6:5: unknown transform 'shear' (transforms: \(Transform.allCases.map(\.rawValue).joined(separator: ", ")))",
            "7:25: unknown key 'amount' in a transform; did you mean 'amounts'? (a transform takes 'transform' and 'amounts')",
            "8:33: 'amounts' of scale must be a list of numbers it accepts (positive)",
            "9:5: transform 'rotate' is listed twice; list each transform once, with all its amounts",
            "10:39: 'amounts' of translate-x gives 1.0 twice; each amount once",
        ], "\(found)")
    }

    @Test func aFileWithoutSpecOrTransformsSaysWhatItNeeds() throws {
        #expect(try Self.problems("limit: 3\ntransforms: []\n") == ["1:1: a sweep file names its network: 'spec: PATH'"])
        #expect(try Self.problems("spec: s.yaml\n") == ["1:1: a sweep file lists its transforms: 'transforms: [{transform: NAME, amounts: [...]}]'"])
        #expect(try Self.problems("spec: s.yaml\ntransforms: []\n") == ["2:13: 'transforms' must be a list of {transform: NAME, amounts: [...]}"])
        #expect(try Self.problems("spec: s.yaml\nseed: -1\ntransforms: [{transform: rotate}]\n") == ["2:7: 'seed' must be a whole number ≥ 0"])
    }
}
