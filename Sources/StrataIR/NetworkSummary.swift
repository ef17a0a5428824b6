/// Per-layer figures of a shaped graph: what `strata check` prints. Neurons are output values per
/// image (C·H·W), parameters are learnable weights and biases, multiply-adds are per image.
public struct NetworkSummary: Sendable {
    public struct Row: Sendable {
        public var name: String
        public var op: String
        public var output: TensorShape
        public var neurons: Int
        public var parameters: Int
        public var multiplyAdds: Int
    }

    public var name: String
    public var input: TensorShape
    public var rows: [Row]

    public init(_ graph: Graph) {
        name = graph.name
        input = graph.input
        rows = graph.nodes.map { node in
            let inputs = node.inputs.compactMap { graph.shape(of: $0) }
            let output = node.shape ?? TensorShape([])
            let definition = node.layer.definition
            return Row(name: node.name, op: node.op, output: output, neurons: output.elementCount ?? 0,
                       parameters: definition.parameters(inputs: inputs).reduce(0) { $0 + $1.elementCount },
                       multiplyAdds: definition.multiplyAdds(inputs: inputs, output: output))
        }
    }

    public var totalParameters: Int { rows.reduce(0) { $0 + $1.parameters } }
    public var totalMultiplyAdds: Int { rows.reduce(0) { $0 + $1.multiplyAdds } }
    public var totalNeurons: Int { rows.reduce(0) { $0 + $1.neurons } }

    /// Bytes of float32 activations for a batch when every layer's output is kept (as training
    /// needs for the backward pass), the input included.
    public func activationBytes(batch: Int) -> Int {
        (totalNeurons + (input.elementCount ?? 0)) * batch * 4
    }
}
