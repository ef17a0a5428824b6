import Foundation
import StrataCPU
import StrataFormats
import StrataIR
import StrataSpec

/// Compiles a small spec.
func compile(_ text: String) throws -> Graph {
    try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: text, file: "test.yaml")))
}

/// Random weights for every parameter of `graph`, uniform in ±scale.
func randomWeights(_ graph: Graph, seed: UInt64 = 1, scale: Float = 0.5) -> [String: (shape: [Int], values: [Float])] {
    var g = SplitMix64(seed: seed)
    var out: [String: (shape: [Int], values: [Float])] = [:]
    for p in graph.namedParameters() {
        out[p.name] = (p.dims, (0..<p.elementCount).map { _ in Float(Double(g.next() >> 11) * 0x1.0p-53 * 2 - 1) * scale })
    }
    return out
}

func randomImages(_ count: Int, _ perImage: Int, seed: UInt64 = 2) -> [Float] {
    var g = SplitMix64(seed: seed)
    return (0..<(count * perImage)).map { _ in Float(Double(g.next() >> 11) * 0x1.0p-53) }
}

let smallNet = """
    name: small
    input: {channels: 2, height: 8, width: 8}
    layers:
      - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1}
      - {name: r1, op: relu}
      - {name: p1, op: maxpool, kernel: 2}
      - {name: c2, op: conv, filters: 4, kernel: 3, pad: 1, groups: 2}
      - {name: r2, op: relu}
      - {name: f1, op: fc, units: 3}
      - {name: prob, op: softmax}

    """
