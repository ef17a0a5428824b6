import StrataIR

/// The positions of each layer's output that a change in a region of the input can reach: the
/// projective field, the forward counterpart of `ReceptiveField`. What incremental occlusion
/// recomputes (Krypton, Nakandala et al. 2019): an occluder at rows a…b, columns c…d of the input
/// changes only these positions of each layer, and nothing elsewhere.
public enum ProjectiveField {
    /// A region of a layer's output.
    public enum Region: Sendable, Equatable {
        /// No position changes.
        case none
        /// Rows `rows` and columns `columns` (closed ranges) of every channel.
        case window(rows: ClosedRange<Int>, columns: ClosedRange<Int>)
        /// Every value (a fully connected layer and everything after it mixes all positions).
        case all

        /// The smallest region holding both.
        func union(_ other: Region) -> Region {
            switch (self, other) {
            case (.none, let x), (let x, .none): x
            case (.all, _), (_, .all): .all
            case let (.window(r1, c1), .window(r2, c2)):
                .window(rows: min(r1.lowerBound, r2.lowerBound)...max(r1.upperBound, r2.upperBound),
                        columns: min(c1.lowerBound, c2.lowerBound)...max(c1.upperBound, c2.upperBound))
            }
        }

        /// The number of positions (rows × columns), or nil for `.all`.
        public var positions: Int? {
            switch self {
            case .none: 0
            case .window(let r, let c): r.count * c.count
            case .all: nil
            }
        }
    }

    /// Output indices o whose window [o·s − p, o·s − p + k − 1] meets input indices a…b, clipped
    /// to 0…length − 1; nil when none does.
    static func reach(_ x: ClosedRange<Int>, kernel k: Int, stride s: Int, pad p: Int, length: Int) -> ClosedRange<Int>? {
        // o·s − p + k − 1 ≥ a  ⇔  o ≥ ⌈(a + p − k + 1) / s⌉;  o·s − p ≤ b  ⇔  o ≤ ⌊(b + p) / s⌋.
        func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let low = max(0, -floorDivide(-(x.lowerBound + p - k + 1), s)), high = min(length - 1, floorDivide(x.upperBound + p, s))
        return low <= high ? low...high : nil
    }

    /// For every node of a shaped graph, the region of its output that a change of the input at
    /// `rows` × `columns` can reach.
    public static func of(_ graph: Graph, rows: ClosedRange<Int>, columns: ClosedRange<Int>) -> [Region] {
        var regions: [Region] = []
        for node in graph.nodes {
            let input = node.inputs.reduce(Region.none) { union, value in
                switch value {
                case .input: union.union(.window(rows: rows, columns: columns))
                case .node(let j): union.union(regions[j])
                }
            }
            regions.append(through(node, input))
        }
        return regions
    }

    /// What a layer makes of a changed region of its input(s).
    static func through(_ node: Node, _ input: Region) -> Region {
        guard case .window(let r, let c) = input, let shape = node.shape, shape.isFeatureMap else {
            return input == .none ? .none : .all
        }
        switch node.layer.positions {
        case .window(let k, let s, let p):
            guard let rows = reach(r, kernel: k.h, stride: s.h, pad: p.h, length: shape.height),
                  let columns = reach(c, kernel: k.w, stride: s.w, pad: p.w, length: shape.width) else { return .none }
            return .window(rows: rows, columns: columns)
        case .mixed: return .all
        case .kept: return input
        }
    }
}
