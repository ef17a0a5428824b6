import Foundation
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
import StrataTrain
import Testing

/// Transfer with frozen features: `training.freeze` and pretrained weights (`training.weights`,
/// `train --init-from`).
@Suite("transfer: frozen layers and pretrained weights", .serialized)
struct TransferTests {
    static let twoConvs = """
        name: two-convs
        input: {channels: 1, height: 6, width: 6}
        layers:
          - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1}
          - {name: r1, op: relu}
          - {name: c2, op: conv, filters: 4, kernel: 3, pad: 1}
          - {name: r2, op: relu}
          - {name: f1, op: fc, units: 2}
          - {name: prob, op: softmax}
        training:
          batch: 8
          epochs: 2
          optimizer: {lr: 0.05}
          init: {std: 0.3}
          freeze: [c1, c2]

        """

    /// A frozen prefix costs no backward work: no filter or data gradient for c1 and c2, no update,
    /// no momentum; f1 alone trains.
    @Test func aFrozenPrefixHasNoGradientStepsInThePlan() throws {
        let spec = try SpecLoader().load(text: Self.twoConvs, file: "two-convs.yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        let derived = try DerivedGraph.derive(graph, backward: .training(graph, freeze: spec.training!.freeze),
                                               optimizer: OptimizerSteps())
        let c2 = graph.nodes.firstIndex { $0.name == "c2" }!
        let backward = derived.steps.filter { [.conv_backward_data, .conv_backward_filter, .relu_backward].contains($0.kernel) }
        #expect(backward.isEmpty, "\(backward.map { "\($0.kernel) at \($0.node.map { graph.nodes[$0].name } ?? "-")" })")
        let updates = derived.steps.filter { $0.kernel == .sgd_update }.compactMap(\.node).map { graph.nodes[$0].name }
        #expect(Set(updates) == ["f1"])
        #expect(derived.steps.contains { $0.kernel == .fc_backward_filter })
        #expect(!derived.steps.contains { $0.node == c2 && $0.kernel != .conv_forward })
        // The same through the command line: the plan text has no convolution gradients.
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.twoConvs.write(toFile: d + "/two-convs.yaml", atomically: true, encoding: .utf8)
        let grad = strata("compile", d + "/two-convs.yaml", "--stop-after", "grad", "--training")
        #expect(grad.status == 0 && !grad.output.contains("conv_backward") && grad.output.contains("fc_backward_filter"), "\(grad.output)")
    }

    /// Training keeps a frozen layer's weights bit for bit and changes the others.
    @Test func frozenWeightsAreBitIdenticalAfterTraining() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.twoConvs.replacingOccurrences(of: "freeze: [c1, c2]", with: "freeze: [c1]").write(toFile: d + "/net.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        #expect(strata("init", d + "/net.yaml", "--out", d + "/w.safetensors", "--seed", "4").status == 0)
        let t = strata("train", d + "/net.yaml", "--data", d + "/data", "--out", d + "/run", "--init-from", d + "/w.safetensors", "--seed", "2")
        #expect(t.status == 0, "\(t.errors)")
        let before = try Safetensors.read(path: d + "/w.safetensors"), after = try Safetensors.read(path: d + "/run/checkpoints/latest.safetensors")
        for name in ["c1.weight", "c1.bias"] { #expect(after.tensors[name] == before.tensors[name], "\(name) changed") }
        for name in ["c2.weight", "f1.weight"] { #expect(after.tensors[name] != before.tensors[name], "\(name) did not train") }
        // No momentum state for the frozen layer.
        #expect(after.tensors["momentum/c1.weight"]?.values.allSatisfy { $0 == 0 } ?? true)
    }

    /// Pretrained weights go into a variant with a new head: every other layer exactly, the head
    /// fresh; into a spec whose layer differs without a variant saying so, an error with both shapes.
    @Test func pretrainedWeightsLoadByNameAndANewHeadStartsFresh() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.twoConvs.write(toFile: d + "/base.yaml", atomically: true, encoding: .utf8)
        #expect(strata("init", d + "/base.yaml", "--out", d + "/pre.safetensors", "--seed", "8").status == 0)
        try """
            base: base.yaml
            name: new-head
            set: {f1: {units: 3}}
            training: {batch: 8, epochs: 1, freeze: [c1, c2], weights: pre.safetensors}

            """.write(toFile: d + "/head.yaml", atomically: true, encoding: .utf8)
        let spec = try SpecLoader().load(path: d + "/head.yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        #expect(Pretrained.path(in: spec) == d + "/pre.safetensors")
        let pre = try Safetensors.read(path: d + "/pre.safetensors")
        var fresh = Safetensors.File(tensors: graph.namedParameters().map { ($0.name, Safetensors.Tensor(shape: $0.dims, values: [Float](repeating: 7, count: $0.elementCount))) })
        fresh.metadata = [:]
        let (merged, loaded) = try Pretrained.merge(fresh, with: pre, source: "pre.safetensors", graph: graph, spec: spec)
        #expect(loaded == ["c1.weight", "c1.bias", "c2.weight", "c2.bias"])
        for name in loaded { #expect(merged.tensors[name] == pre.tensors[name]) }
        #expect(merged.tensors["f1.weight"]?.shape == [3, 144] && merged.tensors["f1.weight"]!.values.allSatisfy { $0 == 7 })
        // Trained with the spec's own weights: the frozen, pretrained convolutions stay exact.
        try TrainCommandTests.makeData(d + "/data", count: 64)
        let t = strata("train", d + "/head.yaml", "--data", d + "/data", "--out", d + "/run")
        #expect(t.status == 0, "\(t.errors)")
        let after = try Safetensors.read(path: d + "/run/checkpoints/latest.safetensors")
        for name in loaded { #expect(after.tensors[name] == pre.tensors[name], "\(name)") }
        // Without a variant, a layer of another shape is an error naming it and both shapes.
        try Self.twoConvs.replacingOccurrences(of: "units: 2", with: "units: 3").write(toFile: d + "/other.yaml", atomically: true, encoding: .utf8)
        let bad = strata("train", d + "/other.yaml", "--data", d + "/data", "--out", d + "/bad", "--init-from", d + "/pre.safetensors")
        #expect(bad.status == 1 && bad.errors.contains("'f1.weight' is (2, 144) in \(d)/pre.safetensors but layer 'f1' needs (3, 144)"), "\(bad.errors)")
    }

    /// The ZF paper's transfer: layers below the head as trained, a new softmax. A head that a
    /// variant replaces starts fresh even where its shape matches the source's; the run keeps the
    /// source's preprocessing and says in transfer.json what was loaded and what initialised.
    @Test func aReplacedHeadOfTheSameShapeStartsFreshAndTheSourcePreprocessingStays() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Self.twoConvs.replacingOccurrences(of: "freeze: [c1, c2]", with: "").write(toFile: d + "/base.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        try TrainCommandTests.makeData(d + "/target", count: 32, seed: 9)
        let source = strata("train", d + "/base.yaml", "--data", d + "/data", "--out", d + "/source", "--epochs", "1")
        #expect(source.status == 0, "\(source.errors)")
        let pre = try Safetensors.read(path: d + "/source/checkpoints/latest.safetensors")
        try """
            base: base.yaml
            name: same-shape-head
            set: {f1: {units: 2}}
            training: {batch: 8, epochs: 1, freeze: [c1, c2], weights: source/checkpoints/latest.safetensors}

            """.write(toFile: d + "/head.yaml", atomically: true, encoding: .utf8)
        let spec = try SpecLoader().load(path: d + "/head.yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        let fresh = Safetensors.File(tensors: graph.namedParameters().map { ($0.name, Safetensors.Tensor(shape: $0.dims, values: [Float](repeating: 7, count: $0.elementCount))) })
        let (merged, loaded) = try Pretrained.merge(fresh, with: pre, source: "source", graph: graph, spec: spec)
        #expect(loaded == ["c1.weight", "c1.bias", "c2.weight", "c2.bias"])
        #expect(merged.tensors["f1.weight"] == fresh.tensors["f1.weight"] && merged.tensors["f1.weight"] != pre.tensors["f1.weight"])
        #expect(merged.tensors["data/mean"] == pre.tensors["data/mean"])
        let t = strata("train", d + "/head.yaml", "--data", d + "/target", "--out", d + "/run")
        #expect(t.status == 0, "\(t.errors)")
        let after = try Safetensors.read(path: d + "/run/checkpoints/latest.safetensors")
        // The target's own mean differs from the source's; the run keeps the source's.
        #expect(after.tensors["data/mean"] == pre.tensors["data/mean"])
        let record = try String(contentsOfFile: d + "/run/transfer.json", encoding: .utf8)
        #expect(record.contains("\"initialised\": [\"f1.weight\", \"f1.bias\"]") && record.contains("\"loaded\": [\"c1.weight\", \"c1.bias\", \"c2.weight\", \"c2.bias\"]"), "\(record)")
        #expect(record.contains("the source's mean image"))
    }

    /// Dropout in a frozen part that only feeds the trained head runs as at inference (off), as in
    /// a fixed feature extractor; where a layer below it trains, it stays on.
    @Test func dropoutIsOffInAFrozenFeatureExtractor() throws {
        let text = """
            name: d
            input: {channels: 1, height: 4, width: 4}
            layers:
              - {name: f6, op: fc, units: 8}
              - {name: r6, op: relu}
              - {name: d6, op: dropout}
              - {name: f7, op: fc, units: 8}
              - {name: r7, op: relu}
              - {name: d7, op: dropout}
              - {name: f8, op: fc, units: 3}
              - {name: prob, op: softmax}

            """
        let spec = try SpecLoader().load(text: text, file: "d.yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        func dropouts(_ freeze: [String]) throws -> [String] {
            let derived = try DerivedGraph.derive(graph, backward: .training(graph, freeze: freeze.map { Located($0, at: SourceLocation(file: "d.yaml", line: 1, column: 1)) }),
                                                   dropout: true, optimizer: OptimizerSteps())
            return derived.steps.filter { $0.kernel == .dropout_forward }.compactMap(\.node).map { graph.nodes[$0].name }
        }
        #expect(try dropouts([]) == ["d6", "d7"])
        #expect(try dropouts(["f6"]) == ["d7"])
        #expect(try dropouts(["f6", "f7"]).isEmpty)
    }

    /// A bad freeze list gets located errors, all at once.
    @Test func badFreezeListsAreLocatedErrors() throws {
        let text = Self.twoConvs.replacingOccurrences(of: "freeze: [c1, c2]", with: "freeze: [c11, r1, c2, c2]")
        let error = #expect(throws: DiagnosticError.self) { _ = try SpecLoader().load(text: text, file: "bad.yaml") }
        let messages = error?.diagnostics.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "-") \($0.message)" } ?? []
        #expect(messages.contains { $0.hasPrefix("15:") && $0.contains("'freeze' names 'c11', which is not a layer") }, "\(messages)")
        #expect(messages.contains { $0.contains("'freeze' names 'c2' twice") }, "\(messages)")
        let spec = try SpecLoader().load(text: Self.twoConvs.replacingOccurrences(of: "freeze: [c1, c2]", with: "freeze: [r1]"), file: "relu.yaml")
        let graph = try ShapeInference.infer(GraphBuilder.build(spec))
        let relu = #expect(throws: DiagnosticError.self) { _ = try BackwardPass.training(graph, freeze: spec.training!.freeze) }
        #expect(relu?.diagnostics.first?.message.contains("'freeze' names 'r1', a 'relu' layer, which has no weights to freeze") == true)
        #expect(relu?.diagnostics.first?.location?.line == 15)
        #expect(SpecPrinter.print(spec).contains("  freeze: [r1]\n"))
    }

    static func folder() throws -> String {
        let d = NSTemporaryDirectory() + "strata-transfer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}
