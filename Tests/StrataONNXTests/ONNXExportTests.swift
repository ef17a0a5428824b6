import Foundation
import StrataDiagnostics
import StrataIR
import StrataONNX
import Testing

/// The package root, found from this file's path (Tests/StrataONNXTests/ONNXExportTests.swift).
let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// A shipped spec, shaped.
func shipped(_ name: String) throws -> Graph {
    try Compiler().shapedGraph(path: "\(packageRoot)/networks/\(name).yaml")
}

/// Every parameter of `graph` with distinct values (each tensor's index and position), so a
/// value that lands in the wrong tensor or place is seen.
func parameters(_ graph: Graph) -> [String: (shape: [Int], values: [Float])] {
    var out: [String: (shape: [Int], values: [Float])] = [:]
    for (k, node) in graph.nodes.enumerated() {
        for p in node.layer.definition.parameters(inputs: node.inputs.map { graph.shape(of: $0)! }) {
            out["\(node.name).\(p.name)"] = (p.dims, (0..<p.elementCount).map { Float(k) + Float($0 % 1000) / 1000 })
        }
    }
    return out
}

let noMean = ONNXExport.InputContract(stored: (1, 28, 28), mean: nil, meanDescription: "nothing (--mean none)")

/// Exports `graph`, writes the bytes and parses them back with SwiftProtobuf: what a reader of the file sees.
func roundTrip(_ graph: Graph, contract: ONNXExport.InputContract? = nil, outputs: [Int]? = nil) throws -> Onnx_ModelProto {
    let contract = contract ?? ONNXExport.InputContract(stored: (graph.input.channels, graph.input.height, graph.input.width), mean: nil,
                                                        meanDescription: "nothing (--mean none)")
    let model = try ONNXExport.model(graph: graph, parameters: parameters(graph), contract: contract,
                                     outputs: outputs ?? [graph.nodes.count - 1], producerVersion: "test")
    return try Onnx_ModelProto(serializedBytes: ONNXExport.serialized(model))
}

func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? { node.attribute.first { $0.name == name } }

@Suite("ONNX export: the graph a reader sees")
struct ONNXGraphTests {
    @Test func zfnetMiniBecomesItsOperatorsInOrder() throws {
        let graph = try shipped("zfnet-mini")
        let model = try roundTrip(graph)
        #expect(model.irVersion == 8 && model.producerName == "strata")
        #expect(model.opsetImport.map(\.domain) == [""] && model.opsetImport.map(\.version) == [17])
        #expect(model.graph.node.map(\.opType) == [
            "Conv", "Relu", "MaxPool", "LRN", "Conv", "Relu", "MaxPool", "LRN", "Conv", "Relu", "Conv", "Relu", "Conv", "Relu", "MaxPool",
            "Flatten", "Gemm", "Relu", "Identity", "Gemm", "Relu", "Identity", "Gemm", "Softmax",
        ])
        // Every layer's output is the value named after it, read by the next layer.
        let writers = model.graph.node.filter { $0.opType != "Flatten" }.map { $0.output[0] }
        #expect(writers == graph.nodes.map(\.name))
        #expect(model.graph.input.map(\.name) == ["input"])
        #expect(model.graph.node[0].input[0] == "input")
        let dims = model.graph.input[0].type.tensorType.shape.dim
        #expect(dims.map(\.dimParam) == ["N", "", "", ""] && dims.dropFirst().map(\.dimValue) == [1, 28, 28])
        #expect(model.graph.output.map(\.name) == ["prob"])
        #expect(model.graph.output[0].type.tensorType.shape.dim.last?.dimValue == 10)
    }

    @Test func everyParameterIsAnInitializerWithItsShapeAndValues() throws {
        let graph = try shipped("zfnet-mini")
        let model = try roundTrip(graph)
        let expected = parameters(graph)
        #expect(Set(model.graph.initializer.map(\.name)) == Set(expected.keys))
        for tensor in model.graph.initializer {
            let want = try #require(expected[tensor.name])
            #expect(tensor.dims == want.shape.map(Int64.init), "\(tensor.name)")
            #expect(tensor.dataType == 1, "\(tensor.name) is not float32")
            #expect(tensor.floatValues == want.values, "\(tensor.name)'s values differ after the round trip")
        }
        let conv1 = try #require(model.graph.node.first { $0.name == "conv1" })
        #expect(conv1.input == ["input", "conv1.weight", "conv1.bias"])
    }

    /// Strata's alpha multiplies the plain sum of squares; ONNX divides its alpha by size, so the
    /// file holds alpha · size.
    @Test func lrnAlphaIsWrittenInONNXsConvention() throws {
        let model = try roundTrip(try shipped("alexnet-mini"))
        let lrns = model.graph.node.filter { $0.opType == "LRN" }
        #expect(lrns.count == 2)
        for lrn in lrns {
            #expect(attribute(lrn, "size")?.i == 5)
            #expect(attribute(lrn, "alpha")?.f == Float(1e-4 * 5), "alpha \(attribute(lrn, "alpha")?.f ?? .nan)")
            #expect(attribute(lrn, "beta")?.f == 0.75 && attribute(lrn, "bias")?.f == 2)
            #expect(attribute(lrn, "alpha")?.type == .float)
        }
        let custom = try Compiler().shapedGraph(text: """
            name: t
            input: {channels: 8, height: 4, width: 4}
            layers:
              - {name: n, op: lrn, size: 3, alpha: 0.5, beta: 0.5, k: 1}
            """, file: "t.yaml")
        let n = try #require(try roundTrip(custom).graph.node.first)
        #expect(attribute(n, "size")?.i == 3 && attribute(n, "alpha")?.f == 1.5 && attribute(n, "beta")?.f == 0.5 && attribute(n, "bias")?.f == 1)
    }

    @Test func groupedConvolutionsCarryTheirGroups() throws {
        let graph = try shipped("alexnet-mini")
        let model = try roundTrip(graph)
        for node in graph.nodes {
            guard case .conv(let conv) = node.layer else { continue }
            let onnx = try #require(model.graph.node.first { $0.name == node.name })
            #expect(onnx.opType == "Conv")
            #expect(attribute(onnx, "group")?.i == Int64(conv.groups), "\(node.name)")
            #expect(attribute(onnx, "kernel_shape")?.ints == [Int64(conv.kernel.h), Int64(conv.kernel.w)])
            #expect(attribute(onnx, "pads")?.ints == [conv.pad.h, conv.pad.w, conv.pad.h, conv.pad.w].map(Int64.init))
            let weight = try #require(model.graph.initializer.first { $0.name == "\(node.name).weight" })
            #expect(weight.dims[1] == Int64(graph.shape(of: node.inputs[0])!.channels / conv.groups))
        }
        #expect(model.graph.node.contains { attribute($0, "group")?.i == 2 })
    }

    @Test func fullyConnectedLayersAreGemmWithTransposedWeights() throws {
        let model = try roundTrip(try shipped("alexnet-mini"))
        let gemms = model.graph.node.filter { $0.opType == "Gemm" }
        #expect(gemms.map(\.name) == ["fc6", "fc7", "fc8"])
        #expect(gemms.allSatisfy { attribute($0, "transB")?.i == 1 && $0.input.count == 3 })
        // Only the first reads a feature map: it alone is flattened, and reads the flattened value.
        let flatten = model.graph.node.filter { $0.opType == "Flatten" }
        #expect(flatten.map(\.output) == [["fc6/flatten"]] && attribute(flatten[0], "axis")?.i == 1)
        #expect(gemms[0].input[0] == "fc6/flatten")
    }

    @Test func theMeanImageIsSubtractedInsideTheModel() throws {
        let graph = try shipped("zfnet-mini")
        let mean = (0..<784).map { Float($0) / 784 }
        let contract = ONNXExport.InputContract(stored: (1, 32, 32), mean: mean, meanDescription: "the mean image data/mean of w.safetensors (1×32×32)",
                                                classes: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
        let model = try roundTrip(graph, contract: contract)
        #expect(model.graph.node[0].opType == "Sub" && model.graph.node[0].input == ["input", "input/mean"])
        #expect(model.graph.node[1].input[0] == "input/mean_subtracted")
        let stored = try #require(model.graph.initializer.first { $0.name == "input/mean" })
        #expect(stored.dims == [1, 1, 28, 28] && stored.floatValues == mean)
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        for key in ["strata.input", "strata.input.layout", "strata.input.range", "strata.input.stored_size", "strata.input.crop",
                    "strata.input.mean", "strata.classes", "strata.outputs", "strata.network", "strata.spec"] {
            #expect(metadata[key] != nil, "no metadata \(key)")
        }
        #expect(metadata["strata.input.stored_size"] == "1×32×32" && metadata["strata.input.crop"] == "centre 28×28")
        #expect(metadata["strata.input.range"] == "[0, 1]")
        #expect(metadata["strata.input.mean"]?.hasPrefix("subtracted inside the model: the mean image data/mean") == true)
        #expect(metadata["strata.classes"] == #"["a","b","c","d","e","f","g","h","i","j"]"#)
        #expect(metadata["strata.input"]?.contains("centre 28×28") == true)
        #expect(metadata["strata.outputs"] == "prob (softmax) (N, 10)")
    }

    @Test func withoutAMeanTheLayersReadTheInputAndTheMetadataSaysSo() throws {
        let model = try roundTrip(try shipped("zfnet-mini"), contract: noMean)
        #expect(!model.graph.node.contains { $0.opType == "Sub" } && !model.graph.initializer.contains { $0.name == "input/mean" })
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        #expect(metadata["strata.input.mean"] == "none (--mean none)")
        #expect(metadata["strata.classes"] == nil)
    }

    @Test func namedLayersBecomeTheOutputs() throws {
        let graph = try shipped("zfnet-mini")
        let wanted = ["conv1", "norm2", "fc8"].map { name in graph.nodes.firstIndex { $0.name == name }! }
        let model = try roundTrip(graph, outputs: wanted)
        #expect(model.graph.output.map(\.name) == ["conv1", "norm2", "fc8"])
        #expect(model.graph.output[1].type.tensorType.shape.dim.dropFirst().map(\.dimValue) == [64, 6, 6])
        // The other layers' shapes are there for readers too, each once.
        #expect(model.graph.valueInfo.count == graph.nodes.count - 3 && model.graph.valueInfo.contains { $0.name == "prob" })
    }
}

@Suite("ONNX export: pooling, concat and what has no ONNX form")
struct ONNXPoolingTests {
    static func graph(_ layers: String, input: String = "{channels: 2, height: 7, width: 7}") throws -> Graph {
        try Compiler().shapedGraph(text: "name: t\ninput: \(input)\nlayers:\n" + layers, file: "t.yaml")
    }

    /// `ceil: true` is written as explicit padding at the bottom and right, without ceil_mode.
    @Test func ceilModeBecomesExplicitPadding() throws {
        // a: 9×8 → 4×4, the last column window needs one more column; b: 4×4 → 2×2, one more row and
        // column (no padding, so the average is over the image part: count_include_pad 0); c needs none.
        let g = try Self.graph("""
              - {name: a, op: maxpool, kernel: 3, stride: 2, ceil: true}
              - {name: b, op: avgpool, kernel: 3, stride: 2, ceil: true}
              - {name: c, op: maxpool, kernel: 2, stride: 2, ceil: true}
              - {name: d, op: avgpool, kernel: 2, stride: 1, pad: 1}
            """, input: "{channels: 2, height: 9, width: 8}")
        #expect(g.nodes.map { $0.shape!.dims } == [[2, 4, 4], [2, 2, 2], [2, 1, 1], [2, 2, 2]])
        let nodes = try roundTrip(g).graph.node
        #expect(nodes.map(\.opType) == ["MaxPool", "AveragePool", "MaxPool", "AveragePool"])
        #expect(attribute(nodes[0], "pads")?.ints == [0, 0, 0, 1] && attribute(nodes[0], "ceil_mode")?.i == 0)
        #expect(attribute(nodes[1], "pads")?.ints == [0, 0, 1, 1] && attribute(nodes[1], "count_include_pad")?.i == 0)
        #expect(attribute(nodes[2], "pads")?.ints == [0, 0, 0, 0])
        #expect(attribute(nodes[3], "pads")?.ints == [1, 1, 1, 1] && attribute(nodes[3], "count_include_pad")?.i == 1)
        #expect(attribute(nodes[0], "kernel_shape")?.ints == [3, 3] && attribute(nodes[0], "strides")?.ints == [2, 2])
    }

    @Test func concatTanhAndLayersWithoutBiasMap() throws {
        let g = try Self.graph("""
              - {name: a, op: conv, filters: 3, kernel: 3, bias: false}
              - {name: b, op: conv, filters: 4, kernel: 3, from: input}
              - {name: j, op: concat, from: [a, b]}
              - {name: t, op: tanh}
              - {name: f, op: fc, units: 5, bias: false}
              - {name: s, op: softmax}
            """)
        let model = try roundTrip(g)
        #expect(model.graph.node.map(\.opType) == ["Conv", "Conv", "Concat", "Tanh", "Flatten", "Gemm", "Softmax"])
        #expect(model.graph.node[0].input == ["input", "a.weight"] && model.graph.node[1].input == ["input", "b.weight", "b.bias"])
        #expect(model.graph.node[2].input == ["a", "b"] && attribute(model.graph.node[2], "axis")?.i == 1)
        #expect(model.graph.node[5].input == ["f/flatten", "f.weight"])
        #expect(attribute(model.graph.node[6], "axis")?.i == 1)
    }

    /// Strata's average over a ceil window that passes the padding divides by its part inside the
    /// padded input; no AveragePool setting does that, so the export stops there, at `ceil`.
    @Test func anAveragePoolONNXCannotExpressIsALocatedError() throws {
        let g = try Self.graph("""
              - {name: c, op: conv, filters: 2, kernel: 1}
              - {name: p, op: avgpool, kernel: 3, stride: 2, pad: 1, ceil: true}
              - {name: q, op: avgpool, kernel: 3, stride: 2, pad: 1, ceil: true}
            """, input: "{channels: 2, height: 6, width: 6}")
        do {
            _ = try ONNXExport.model(graph: g, parameters: parameters(g), contract: noMean, outputs: [2], producerVersion: "test")
            Issue.record("the export did not fail")
        } catch {
            // Both layers are reported, each at its `ceil`.
            #expect(error.diagnostics.map(\.location?.description) == ["t.yaml:5:64", "t.yaml:6:64"], "\(error)")
            #expect(error.diagnostics[0].message.hasPrefix("avgpool 'p' has no exact ONNX form: with 'ceil' and 'pad' (1)"), "\(error)")
            #expect(error.diagnostics[0].message.hasSuffix("use 'pad: 0' or 'ceil: false'"))
        }
        // The same window without padding has an exact form.
        let fine = try Self.graph("  - {name: p, op: avgpool, kernel: 3, stride: 2, ceil: true}\n", input: "{channels: 2, height: 6, width: 6}")
        #expect(try roundTrip(fine).graph.node.map(\.opType) == ["AveragePool"])
    }

    @Test func aMissingOrMisshapenParameterIsAnError() throws {
        let g = try Self.graph("  - {name: f, op: fc, units: 3}\n")
        var weights = parameters(g)
        weights["f.bias"] = nil
        weights["f.weight"]!.shape = [3, 97]
        do {
            _ = try ONNXExport.model(graph: g, parameters: weights, contract: noMean, outputs: [0], producerVersion: "test")
            Issue.record("the export did not fail")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["'f.weight' is (3, 97) in the weights but 'f' needs (3, 98)",
                                                         "the weights have no 'f.bias', which 'f' needs, of shape (3)"])
        }
    }

    @Test func aLayerNamedLikeAParameterIsRefused() throws {
        let g = try Self.graph("  - {name: f, op: fc, units: 3}\n  - {name: f.weight, op: relu}\n")
        #expect(throws: DiagnosticError.self) {
            _ = try ONNXExport.model(graph: g, parameters: parameters(g), contract: noMean, outputs: [1], producerVersion: "test")
        }
    }
}
