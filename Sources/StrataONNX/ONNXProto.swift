import Foundation
import SwiftProtobuf

/// Small builders over the generated protobuf types (onnx.pb.swift), so the layer mapping reads as
/// a list of operators and attributes rather than field assignments.
extension Onnx_NodeProto {
    /// An operator of the default domain (`ai.onnx`).
    init(_ opType: String, name: String, inputs: [String], outputs: [String], attributes: [Onnx_AttributeProto] = [], doc: String = "") {
        self.init()
        self.opType = opType
        self.name = name
        input = inputs
        output = outputs
        attribute = attributes
        if !doc.isEmpty { docString = doc }
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    /// ONNX attributes are float32: the value is rounded once, here.
    static func float(_ name: String, _ value: Double) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = Float(value)
        return a
    }
}

extension Onnx_TensorProto {
    /// A float32 tensor with its values as little-endian raw bytes (the compact form; ONNX's
    /// `raw_data` is little-endian by definition).
    init(name: String, dims: [Int], values: [Float]) {
        self.init()
        self.name = name
        self.dims = dims.map(Int64.init)
        dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        let littleEndian = 1.littleEndian == 1
        rawData = littleEndian ? values.withUnsafeBytes { Data($0) }   // the bytes as they are: a plain copy of 233 MiB for AlexNet
            : values.withUnsafeBufferPointer { buffer in
                var data = Data(capacity: buffer.count * 4)
                for v in buffer { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                return data
            }
    }

    /// The values of a float32 tensor written with `raw_data` (or `float_data`).
    public var floatValues: [Float] {
        guard rawData.isEmpty else {
            return rawData.withUnsafeBytes { raw in
                (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
        }
        return floatData
    }
}

extension Onnx_ValueInfoProto {
    /// A float32 tensor value of shape (N, dims...), N named `batch`.
    init(name: String, batch: String, dims: [Int], doc: String = "") {
        self.init()
        self.name = name
        var shape = Onnx_TensorShapeProto()
        var n = Onnx_TensorShapeProto.Dimension()
        n.dimParam = batch
        shape.dim = [n] + dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(d)
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape = shape
        type = Onnx_TypeProto()
        type.tensorType = tensor
        if !doc.isEmpty { docString = doc }
    }
}
