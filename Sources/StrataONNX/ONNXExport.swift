import Foundation
import StrataDiagnostics
import StrataFormats
import StrataIR
import SwiftProtobuf

/// A trained network as an ONNX model: every layer as ONNX operators (`Layer.onnx`), every
/// parameter as a float32 initializer under its Strata name (`conv1.weight`, PyTorch's layouts),
/// the input rule as the model's stated contract (`metadata_props`), and the mean image subtracted
/// inside the model, so the model computes what `strata features` does from the same raw pixels.
///
/// Values are named after the layers that write them; the model's input is `input` (raw pixels),
/// and the names ONNX needs beyond Strata's hold a `/` (`input/mean`, `fc6/flatten`), which no
/// layer name can.
public enum ONNXExport {
    /// The operator set written (the default domain, `ai.onnx`).
    public static let opset = 17
    /// The IR version that came with opset 17 (ONNX 1.12): the oldest that can hold it, so older
    /// runtimes read the file too.
    public static let irVersion = 8
    /// The name of the batch dimension.
    public static let batch = "N"
    /// The model's input: raw pixels, as `InputContract` says.
    public static let inputName = "input"
    /// The mean image initializer (1, C, h, w) and the value with it subtracted.
    public static let meanName = "input/mean", preparedName = "input/mean_subtracted"

    /// What the model expects of its input: Strata's input rule (StrataTrain's `InputRule`) for
    /// these weights, stated in the model's metadata.
    public struct InputContract: Sendable {
        /// The size images are stored at (C, H, W) before the centre crop to the input.
        public var stored: (channels: Int, height: Int, width: Int)
        /// The mean image cropped to the input, C·h·w values, or nil when nothing is subtracted.
        public var mean: [Float]?
        /// Where the mean comes from, in words ("the mean image data/mean of W (1×28×28)").
        public var meanDescription: String
        /// The class names the weights record, in output order.
        public var classes: [String]?

        public init(stored: (channels: Int, height: Int, width: Int), mean: [Float]?, meanDescription: String, classes: [String]? = nil) {
            self.stored = stored
            self.mean = mean
            self.meanDescription = meanDescription
            self.classes = classes
        }
    }

    /// The model of `graph` (shaped) with `parameters` (`LAYER.weight`, `LAYER.bias`), giving the
    /// outputs of the nodes `outputs` (indices into `graph.nodes`, in that order).
    ///
    /// Throws every layer that has no exact ONNX form, each at its place in the spec, and any
    /// parameter that is missing or has another shape.
    public static func model(graph: Graph, parameters: [String: (shape: [Int], values: [Float])], contract: InputContract,
                             outputs: [Int], producerVersion: String) throws(DiagnosticError) -> Onnx_ModelProto {
        var bag = DiagnosticBag()
        var onnx = Onnx_GraphProto()
        onnx.name = graph.name
        onnx.input = [Onnx_ValueInfoProto(name: inputName, batch: batch, dims: graph.input.dims, doc: contract.summary(graph))]
        var first = inputName
        if let mean = contract.mean {
            onnx.initializer.append(Onnx_TensorProto(name: meanName, dims: [1] + graph.input.dims, values: mean))
            onnx.node.append(Onnx_NodeProto("Sub", name: "input/subtract_mean", inputs: [inputName, meanName], outputs: [preparedName],
                                            doc: "the input rule: \(contract.meanDescription)"))
            first = preparedName
        }
        func value(_ v: ValueID) -> String {
            switch v {
            case .input: first
            case .node(let i): graph.nodes[i].name
            }
        }
        for (i, node) in graph.nodes.enumerated() {
            let inputShapes = node.inputs.map { graph.shape(of: $0)! }
            let declared = node.layer.definition.parameters(inputs: inputShapes)
            var names: [String] = []
            for p in declared {
                let name = "\(node.name).\(p.name)"
                names.append(name)
                guard let tensor = parameters[name] else {
                    bag.error("the weights have no '\(name)', which '\(node.name)' needs, of shape \(TensorShape(p.dims))", at: node.location)
                    continue
                }
                guard tensor.shape == p.dims, tensor.values.count == p.elementCount else {
                    bag.error("'\(name)' is \(TensorShape(tensor.shape)) in the weights but '\(node.name)' needs \(TensorShape(p.dims))", at: node.location)
                    continue
                }
                onnx.initializer.append(Onnx_TensorProto(name: name, dims: p.dims, values: tensor.values))
            }
            let context = ONNXLayerContext(name: node.name, op: node.op, inputs: node.inputs.map(value), inputShapes: inputShapes,
                                           output: node.shape!, parameters: names, origin: "\(node.op) '\(node.name)' at \(node.location)")
            switch node.layer.onnx(context) {
            case .operators(let nodes):
                onnx.node.append(contentsOf: nodes)
            case .unsupported(let why, let attribute):
                bag.error(why, at: attribute.flatMap { node.attributeLocations[$0] } ?? node.location)
            }
            if !outputs.contains(i) {
                onnx.valueInfo.append(Onnx_ValueInfoProto(name: node.name, batch: batch, dims: node.shape!.dims))
            }
        }
        onnx.output = outputs.map { Onnx_ValueInfoProto(name: graph.nodes[$0].name, batch: batch, dims: graph.nodes[$0].shape!.dims) }
        checkNames(graph, onnx, &bag)
        try bag.throwIfErrors()

        var model = Onnx_ModelProto()
        model.irVersion = Int64(irVersion)
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        model.opsetImport = [opsetID]
        model.producerName = "strata"
        model.producerVersion = producerVersion
        model.docString = "\(graph.name) from \(graph.file), exported by strata export. Input: \(contract.summary(graph))"
        model.metadataProps = contract.metadata(graph, outputs: outputs).map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        model.graph = onnx
        return model
    }

    /// Protobuf's own limit on one message; larger models need ONNX's external data, which this does not write.
    public static let maximumBytes = Int(Int32.max)

    /// The model's bytes, refusing one past protobuf's 2 GiB.
    public static func serialized(_ model: Onnx_ModelProto) throws -> Data {
        let bytes = model.graph.initializer.reduce(0) { $0 + $1.rawData.count }
        guard bytes < maximumBytes - (64 << 20) else {
            throw FormatError(path: model.graph.name, reason: "its parameters take \(bytes >> 20) MiB, and a protobuf file holds at most 2 GiB "
                              + "(ONNX's external data, which strata export does not write, is needed)")
        }
        return try model.serializedBytes()
    }

    /// Writes the model to `path` atomically (a temporary file renamed over it).
    public static func write(_ model: Onnx_ModelProto, to path: String) throws {
        try AtomicFile.write(serialized(model), to: path)
    }

    /// Every value, node and initializer name once: a layer named like another layer's parameter
    /// (`conv1.weight`) would make the graph ambiguous.
    private static func checkNames(_ graph: Graph, _ onnx: Onnx_GraphProto, _ bag: inout DiagnosticBag) {
        let parameterNames = Set(onnx.initializer.map(\.name))
        for node in graph.nodes where parameterNames.contains(node.name) {
            bag.error("layer name '\(node.name)' is also the name of a parameter in ONNX (LAYER.weight, LAYER.bias); rename the layer",
                      at: node.location)
        }
    }
}
