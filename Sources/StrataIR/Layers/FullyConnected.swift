import StrataSpec

/// `fc`: a fully connected layer, y = W·x + b. A (C, H, W) input is flattened in C, H, W order (as
/// PyTorch's `flatten` does), so F = C·H·W. Attributes: `units` (required), `bias` [true].
/// Output: (units). Parameters: `weight` [units, F], `bias` [units].
public struct FullyConnected: LayerDefinition, Equatable {
    public static let op = "fc"
    public static let summary = "fully connected (flattens its input)"
    public var units: Int
    public var bias: Bool

    public init(units: Int, bias: Bool = true) {
        self.units = units
        self.bias = bias
    }

    public init?(attributes r: inout AttributeReader) {
        let units = r.int("units", in: 1...16_777_216, doc: "outputs")
        let bias = r.bool("bias", default: true, doc: "whether the layer adds a learnt bias per unit")
        guard let units, let bias else { return nil }
        self.init(units: units, bias: bias)
    }

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? { .vector(units) }

    public func parameters(inputs: [TensorShape]) -> [ParameterShape] {
        let weight = ParameterShape("weight", [units, inputs[0].elementCount ?? Int.max])
        return bias ? [weight, ParameterShape("bias", [units])] : [weight]
    }

    public func multiplyAdds(inputs: [TensorShape], output: TensorShape) -> Int {
        ExactArithmetic.product([units, inputs[0].elementCount ?? Int.max]) ?? Int.max
    }

    public var attributeList: [(String, String)] { [("units", "\(units)"), ("bias", "\(bias)")] }
    public var layer: Layer { .fc(self) }
    public var diagramAttributes: [String]? { ["units"] }
}
