import Foundation
import StrataFormats
@testable import StrataTrain
import Testing

/// `result.json`: written and read with JSONValue, and the files Foundation's JSONEncoder wrote
/// before (the same snake-case keys, sorted, `" : "`, `\/`, whole doubles without `.0`) still read.
@Suite("experiment result files")
struct ExperimentResultTests {
    static let result = ExperimentResult(row: "wide", seed: 3, trainTop1: 0.125, valTop1: 0.3, valTop5: nil, bestEpoch: 4, validationLoss: 0.69,
                                         trainedEpochs: 6, parameters: 1234, multiplyAdds: 56789, epochs: 30, batch: 32, seconds: 1.5,
                                         spec: "name: tiny\nlayers:\n  - {name: c1, op: conv}\n", data: "data/fashion", version: "0.1.0",
                                         command: "strata experiment exp.yaml --only wide", configuration: "abc123")

    @Test func writtenAndReadBack() throws {
        let path = NSTemporaryDirectory() + "strata-result-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.result.write(path: path)
        #expect(try ExperimentResult.read(path: path) == Self.result)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("{\n  \"row\": \"wide\",\n  \"seed\": 3,\n  \"train_top1\": 0.125,\n  \"val_top1\": 0.3,\n  \"best_epoch\": 4,\n"), "\(text)")
        #expect(text.hasSuffix("\"configuration\": \"abc123\"\n}\n") && !text.contains("val_top5"))
        // Foundation reads it too.
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(object?["multiply_adds"] as? Int == 56789 && object?["spec"] as? String == Self.result.spec)
    }

    @Test func aFileJSONEncoderWroteReads() throws {
        let old = #"""
            {
              "batch" : 32,
              "command" : "strata experiment exp.yaml --only wide",
              "configuration" : "abc123",
              "data" : "data\/fashion",
              "epochs" : 30,
              "multiply_adds" : 56789,
              "parameters" : 1234,
              "row" : "wide",
              "seconds" : 1.5,
              "seed" : 3,
              "spec" : "name: tiny\nlayers:\n  - {name: c1, op: conv}\n",
              "train_top1" : 0.125,
              "val_top1" : 0.3,
              "version" : "0.1.0",
              "best_epoch" : 4,
              "trained_epochs" : 6,
              "validation_loss" : 0.69
            }
            """#
        #expect(try ExperimentResult(json: JSONValue.parse(Array(old.utf8)), path: "r.json") == Self.result)
        // A whole number where a double is kept, and a result from before early stopping and configurations.
        let older = #"{"batch":32,"command":"c","data":"d","epochs":1,"multiply_adds":2,"parameters":3,"row":"r","seconds":4,"seed":5,"spec":"s","train_top1":0,"version":"v"}"#
        let read = try ExperimentResult(json: JSONValue.parse(Array(older.utf8)), path: "r.json")
        #expect(read.seconds == 4 && read.trainTop1 == 0 && read.valTop1 == nil && read.bestEpoch == nil && read.configuration == nil)
    }

    /// JSON has no NaN: a NaN loss is written null and reads back as nil.
    @Test func aNaNIsWrittenNull() throws {
        var r = Self.result
        r.validationLoss = .nan
        #expect(r.json.text().contains("\"validation_loss\": null"))
        #expect(try ExperimentResult(json: JSONValue.parse(Array(r.json.text().utf8)), path: "r.json").validationLoss == nil)
    }

    @Test func errorsNameTheFileAndTheKey() throws {
        var json = Self.result.json
        guard case .object(var members) = json else { Issue.record("not an object"); return }
        members.removeAll { $0.0 == "spec" }
        members[1].1 = "three"
        json = .object(members)
        let wrong = #expect(throws: FormatError.self) { try ExperimentResult(json: json, path: "out/rows/wide/seed-3/result.json") }
        #expect(wrong?.description == #"out/rows/wide/seed-3/result.json: 'seed' is not a whole number ≥ 0 (it is "three")"#)
        members[1].1 = 3
        let missing = #expect(throws: FormatError.self) { try ExperimentResult(json: .object(members), path: "result.json") }
        #expect(missing?.description == "result.json: it lacks 'spec'")
        let notJSON = #expect(throws: FormatError.self) { try ExperimentResult.read(path: "/nonexistent/result.json") }
        #expect(notJSON?.description.hasPrefix("/nonexistent/result.json: cannot read it") == true)
    }
}
