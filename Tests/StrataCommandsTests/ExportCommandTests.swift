import Foundation
import StrataFormats
import StrataONNX
import Testing

/// `strata export --onnx` from the command line: the file a user gets, the contract it states, and
/// the errors of the ways it can go wrong.
@Suite("strata export")
struct ExportCommandTests {
    static func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "strata-export-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func read(_ path: String) throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func metadata(_ model: Onnx_ModelProto) -> [String: String] {
        Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
    }

    /// Plain weights (`strata init`) need `--mean`; with `--mean none` the model reads its input as it is.
    @Test func plainWeightsExportWithTheMeanTheUserNames() throws {
        let d = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let spec = packageRoot + "/networks/zfnet-mini.yaml"
        #expect(strata("init", spec, "--out", d + "/w.safetensors").status == 0)

        let refused = strata("export", spec, "--weights", d + "/w.safetensors", "--onnx", d + "/m.onnx")
        #expect(refused.status == 1 && refused.errors.contains("carries no mean image") && refused.errors.contains("--mean none"), "\(refused.errors)")
        #expect(!FileManager.default.fileExists(atPath: d + "/m.onnx"))

        let run = strata("export", spec, "--weights", d + "/w.safetensors", "--onnx", d + "/m.onnx", "--mean", "none")
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.hasPrefix("wrote \(d)/m.onnx: ONNX opset 17, 24 operators, "), "\(run.output)")
        #expect(run.output.contains("outputs: prob (N, 10)"))
        let model = try Self.read(d + "/m.onnx")
        #expect(model.graph.node.first?.opType == "Conv" && model.graph.node.last?.opType == "Softmax")
        let weights = try Safetensors.read(path: d + "/w.safetensors")
        let conv1 = try #require(model.graph.initializer.first { $0.name == "conv1.weight" })
        #expect(conv1.floatValues == weights.tensors["conv1.weight"]?.values)
        #expect(Self.metadata(model)["strata.input.mean"] == "none (--mean none)")
        #expect(Self.metadata(model)["strata.spec"] == spec)
    }

    /// A checkpoint's mean image, stored larger than the input, is cropped to the input's centre and
    /// subtracted inside the model; the metadata states the stored size and the crop.
    @Test func aStoredMeanImageBecomesPartOfTheModelAndItsContract() throws {
        let d = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let spec = packageRoot + "/networks/zfnet-mini.yaml"
        #expect(strata("init", spec, "--out", d + "/w.safetensors").status == 0)
        var file = try Safetensors.read(path: d + "/w.safetensors")
        let mean = (0..<(32 * 32)).map { Float($0) / 1024 }
        file.tensors["data/mean"] = .init(shape: [1, 32, 32], values: mean)
        file.order.append("data/mean")
        try Safetensors.write(file, path: d + "/checkpoint.safetensors")

        let run = strata("export", spec, "--weights", d + "/checkpoint.safetensors", "--onnx", d + "/m.onnx", "--layers", "conv1,prob")
        #expect(run.status == 0, "\(run.errors)")
        let model = try Self.read(d + "/m.onnx")
        #expect(model.graph.node.first?.opType == "Sub")
        let stored = try #require(model.graph.initializer.first { $0.name == "input/mean" })
        let centre = (0..<28).flatMap { y in (0..<28).map { x in mean[(y + 2) * 32 + x + 2] } }
        #expect(stored.dims == [1, 1, 28, 28] && stored.floatValues == centre)
        #expect(model.graph.output.map(\.name) == ["conv1", "prob"])
        let metadata = Self.metadata(model)
        #expect(metadata["strata.input.stored_size"] == "1×32×32" && metadata["strata.input.crop"] == "centre 28×28")
        #expect(metadata["strata.input.mean"]?.contains("data/mean of \(d)/checkpoint.safetensors") == true, "\(metadata)")
        #expect(run.output.contains("the model subtracts the mean image itself"))
    }

    @Test func aLayerWithNoONNXFormIsALocatedErrorAndNothingIsWritten() throws {
        let d = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
            name: pooled
            input: {channels: 1, height: 6, width: 6}
            layers:
              - {name: p, op: avgpool, kernel: 3, stride: 2, pad: 1, ceil: true}
              - {name: f, op: fc, units: 2}
            """.write(toFile: d + "/pooled.yaml", atomically: true, encoding: .utf8)
        #expect(strata("init", d + "/pooled.yaml", "--out", d + "/w.safetensors").status == 0)
        let run = strata("export", d + "/pooled.yaml", "--weights", d + "/w.safetensors", "--onnx", d + "/m.onnx", "--mean", "none")
        #expect(run.status == 1)
        let first = try #require(run.errors.split(separator: "\n").first)
        #expect(first.hasPrefix("\(d)/pooled.yaml:4:") && first.contains(": error: avgpool 'p' has no exact ONNX form"), "\(run.errors)")
        #expect(run.errors.contains("^"), "no caret under the place: \(run.errors)")
        #expect(!FileManager.default.fileExists(atPath: d + "/m.onnx"))
    }

    @Test func badArgumentsAreErrorsInWords() throws {
        let d = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let spec = packageRoot + "/networks/zfnet-mini.yaml"
        #expect(strata("init", spec, "--out", d + "/w.safetensors").status == 0)
        let train = strata("export", spec, "--weights", d + "/w.safetensors", "--onnx", d + "/m.onnx", "--mean", "train")
        #expect(train.status == 2 && train.errors.contains("export takes --mean FILE or --mean none"), "\(train.errors)")
        let layer = strata("export", spec, "--weights", d + "/w.safetensors", "--onnx", d + "/m.onnx", "--mean", "none", "--layers", "conv9")
        #expect(layer.status == 1 && layer.errors.contains("has no layer 'conv9'"), "\(layer.errors)")
        let other = strata("export", packageRoot + "/networks/alexnet-mini.yaml", "--weights", d + "/w.safetensors", "--onnx", d + "/m.onnx",
                           "--mean", "none")
        #expect(other.status == 1 && other.errors.hasPrefix("error: "), "\(other.errors)")
        try FileManager.default.createDirectory(atPath: d + "/folder.onnx", withIntermediateDirectories: true)
        let folder = strata("export", spec, "--weights", d + "/w.safetensors", "--onnx", d + "/folder.onnx", "--mean", "none")
        #expect(folder.status == 1 && folder.errors.contains("it exists and is a folder"), "\(folder.errors)")
    }
}
