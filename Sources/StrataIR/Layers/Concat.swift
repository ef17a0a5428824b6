import StrataSpec

/// `concat`: joins several layers along channels (`from: [a, b, ...]`). Feature maps must agree in
/// height and width; vectors join end to end. No attributes.
/// Output: (C₁ + C₂ + …, H, W) or (F₁ + F₂ + …).
public struct Concat: LayerDefinition, Equatable {
    public static let op = "concat"
    public static let summary = "concatenation along channels"
    public static let takesManyInputs = true

    public init() {}
    public init?(attributes r: inout AttributeReader) {}

    public func outputShape(_ inputs: [TensorShape], _ ctx: inout ShapeContext) -> TensorShape? {
        let first = inputs[0]
        for (i, x) in inputs.enumerated().dropFirst() {
            let fits = x.rank == first.rank && (x.rank != 3 || (x.height == first.height && x.width == first.width))
            if !fits {
                let what = first.rank == 3 && x.rank == 3 ? "feature maps of the same height and width" : "inputs of the same rank"
                ctx.error("concat '\(ctx.layerName)' needs \(what), but \(ctx.produces(0, first)) and \(ctx.produces(i, x))",
                          attribute: ctx.inputAttribute, inputs: [0, i])
                return nil
            }
        }
        guard let total = ExactArithmetic.sum(inputs.map { $0.dims[0] }) else { return nil }
        var dims = first.dims
        dims[0] = total
        return TensorShape(dims)
    }

    public var layer: Layer { .concat(self) }
}
