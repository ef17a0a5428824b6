/// The shape of one image's tensor: `[C, H, W]` for feature maps, `[F]` for vectors. The batch
/// dimension N is symbolic in the IR; it is fixed only when a plan is made for a batch size.
/// Layout is NCHW throughout Strata.
public struct TensorShape: Hashable, Sendable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) {
        self.dims = dims
    }

    public static func chw(_ c: Int, _ h: Int, _ w: Int) -> TensorShape { TensorShape([c, h, w]) }
    public static func vector(_ f: Int) -> TensorShape { TensorShape([f]) }

    public var rank: Int { dims.count }
    public var isFeatureMap: Bool { dims.count == 3 }
    public var channels: Int { dims[0] }
    public var height: Int { dims[1] }
    public var width: Int { dims[2] }

    /// Elements per image (C·H·W or F), or nil if that overflows.
    public var elementCount: Int? { ExactArithmetic.product(dims) }

    /// `(256, 13, 13)`.
    public var description: String { "(" + dims.map(String.init).joined(separator: ", ") + ")" }
    /// `(N, 256, 13, 13)`.
    public var batchedDescription: String { "(N, " + dims.map(String.init).joined(separator: ", ") + ")" }
    /// `256×13×13`.
    public var compactDescription: String { dims.map(String.init).joined(separator: "×") }
}

/// Integer arithmetic that reports overflow instead of trapping: a spec can ask for absurd sizes.
public enum ExactArithmetic {
    public static func product(_ values: [Int]) -> Int? {
        var result = 1
        for v in values {
            let (r, overflow) = result.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            result = r
        }
        return result
    }

    public static func sum(_ values: [Int]) -> Int? {
        var result = 0
        for v in values {
            let (r, overflow) = result.addingReportingOverflow(v)
            if overflow { return nil }
            result = r
        }
        return result
    }

    /// Floor or ceiling division of non-negative numerator by a positive divisor.
    public static func divide(_ a: Int, _ b: Int, roundingUp: Bool) -> Int {
        roundingUp ? (a + b - 1) / b : a / b
    }
}
