import Foundation
@testable import StrataAnalysis
@testable import StrataCommands
import StrataFormats
import StrataIR
import StrataSpec
@testable import StrataOpenCL
import StrataTrain
import Testing

/// The readers of the analysis surface under the same mutations as the data readers: sweep files,
/// experiment files, a report's CSV, the run record's file list, the tuning file and the program
/// cache's entries. Every input ends in a result or an error, never a trap; what they read stays
/// inside their folder.
@Suite("fuzzing the analysis readers", .serialized)
struct FuzzNewReadersTests {
    let fuzz = FuzzTests()

    static func folder() throws -> String {
        let d = NSTemporaryDirectory() + "strata-fuzz2-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }


    @Test func sweepFiles() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let seed = Array("""
            spec: tiny.yaml
            weights: w.safetensors
            mean: none
            data: data
            limit: 20
            batch: 8
            layers: [c1, f1]
            fill: edge
            out: out
            transforms:
              - {transform: rotate, amounts: [0, 90, 180]}
              - {transform: blur, amounts: [0, 1.5]}

            """.utf8)
        _ = fuzz.fuzz("sweep file", seed: seed, salt: 11) { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: d + "/sweep.yaml"))
            let file = try SweepFile.load(d + "/sweep.yaml", maximumBatch: CommandSupport.maximumBatch)
            #expect(!file.transforms.isEmpty && file.spec.hasPrefix(d))
        }
    }

    @Test func experimentFiles() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try tinySpec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        let seed = Array("""
            name: fuzz
            base: tiny.yaml
            data: data
            training: {epochs: 2, batch: 8, seeds: [1, 2], checkpoint_steps: 5}
            rows:
              - name: base
              - name: wide
                set: {c1: {filters: 8}}
              - {name: few, data: {classes: [1, 0], per_class: 10, eval_per_class: 5}, early_stop: {patience: 3, per_class: 4}, epochs: 9, lr: 0.1}

            """.utf8)
        _ = fuzz.fuzz("experiment file", seed: seed, salt: 12) { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: d + "/exp.yaml"))
            let experiment = try Experiment.load(path: d + "/exp.yaml")
            // Whatever loads names its rows so that their folders stay inside the output folder.
            for row in experiment.rows { #expect(FileName.problem(row.name.value) == nil) }
        }
    }

    @Test func reportTables() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let seed = Array("transform,amount,layer,images,mean_distance\nrotate,0,c1,4,0\nrotate,90,\"c,1\",4,1.5\n".utf8)
        _ = fuzz.fuzz("report CSV", seed: seed, salt: 13) { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: d + "/summary.csv"))
            var warnings: [String] = []
            guard let t = Report.table(d + "/summary.csv", warnings: &warnings) else { throw CocoaError(.fileReadCorruptFile) }
            for row in t.rows { #expect(row.count == t.header.count) }
            if !warnings.isEmpty { throw CocoaError(.fileReadCorruptFile) }
        }
    }

    /// A run record's file list names what the next run removes: nothing outside the folder, and
    /// nothing that is not a regular file, whatever the list says.
    @Test func runRecordFileLists() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try FileManager.default.createDirectory(atPath: d + "/out/sub", withIntermediateDirectories: true)
        try "keep".write(toFile: d + "/outside.txt", atomically: true, encoding: .utf8)
        let seed = Array("{\n  \"command\": \"sweep\",\n  \"files\": [\"a.png\", \"sub/b.png\", \"c.csv\"]\n}\n".utf8)
        _ = fuzz.fuzz("run record", seed: seed, salt: 14) { bytes in
            for name in ["a.png", "sub/b.png", "c.csv"] { try "x".write(toFile: d + "/out/" + name, atomically: false, encoding: .utf8) }
            try Data(bytes).write(to: URL(fileURLWithPath: d + "/out/run.json"))
            let removed = RunRecord.removeStale(in: d + "/out", keeping: ["c.csv"])
            #expect(FileManager.default.fileExists(atPath: d + "/outside.txt") && FileManager.default.fileExists(atPath: d + "/out/c.csv"))
            #expect(removed.allSatisfy { ["a.png", "sub/b.png"].contains($0) }, "\(removed)")
            try FileManager.default.createDirectory(atPath: d + "/out/sub", withIntermediateDirectories: true)
            if removed.isEmpty { throw CocoaError(.fileReadCorruptFile) }
        }
    }

    @Test func tuningFiles() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let seed = Array("{\n  \"Portable Computing Language | cpu | 5.0\" : {\"tk\": 0, \"tm\": 32, \"tn\": 64, \"wm\": 8, \"wn\": 8},\n  \"other | gpu | 1\": {\"tk\": 16, \"tm\": 64, \"tn\": 64, \"wm\": 4, \"wn\": 4}\n}\n".utf8)
        _ = fuzz.fuzz("tuning file", seed: seed, salt: 15) { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: d + "/tuning.json"))
            _ = try Tuning.read(d + "/tuning.json")
        }
    }

    /// A damaged program cache entry is never handed to the driver: unframing gives the binary
    /// that was stored, or nothing.
    @Test func programCacheEntries() {
        let binary = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let framed = [UInt8](ProgramCache.frame(binary))
        #expect(ProgramCache.unframe(Data(framed)).binary == Data(binary))
        var mutator = Mutator(seed: 16)
        var rejected = 0
        for _ in 0..<FuzzTests.iterations {
            let input = mutator.mutate(framed)
            let (out, problem) = ProgramCache.unframe(Data(input))
            if let out { #expect(out == Data(binary) && input == framed) } else { rejected += 1; #expect(problem != nil) }
        }
        #expect(rejected > FuzzTests.iterations / 2)
        #expect(ProgramCache.unframe(Data(framed.prefix(framed.count - 1))).problem?.contains("truncated") == true)
    }
}
