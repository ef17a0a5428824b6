/// Krypton's two approximations of incremental occlusion (Nakandala et al., SIGMOD 2019, §4), each
/// a stated bound on what is left out:
/// - projective-field thresholding: each layer recomputes at most a fraction τ of its rows and of its
///   columns around the occluder's field; beyond that window the unoccluded activations stand in
///   for the occluded ones (the change there is what the approximation drops);
/// - adaptive drill-down: the occluder first moves over a coarse grid (every `step`-th position, and
///   the last row and column); a position between coarse ones is computed only where its coarse
///   neighbours' p(true class) differ by more than `moved`, their most probable classes differ, or
///   one's most probable class leads its runner-up by less than `lead` (a class could change in
///   between), and otherwise (a flat stretch of the map) takes its neighbours' mean.
public struct OcclusionApproximation: Sendable, Equatable, CustomStringConvertible {
    /// τ in (0, 1]; 1 recomputes every layer's whole field (exact but for the drill-down).
    public var threshold: Double
    public var drillDown: DrillDown?

    public struct DrillDown: Sendable, Equatable {
        /// The coarse grid's step, in occluder positions along rows and along columns.
        public var step: Int
        /// The spread of p(true class) over a fine position's coarse neighbours that sends it to the fine stride.
        public var moved: Float

        public init(step: Int = 4, moved: Float = 0.2) { (self.step, self.moved) = (step, moved) }

        /// The least lead of a coarse neighbour's most probable class over its runner-up: a quarter
        /// of `moved`.
        public var lead: Float { moved / 4 }

        func isCoarse(_ k: Int, count: Int) -> Bool { k % step == 0 || k == count - 1 }

        /// Whether position `p` of a `rows` × `columns` grid is on the coarse grid.
        public func isCoarse(position p: Int, rows: Int, columns: Int) -> Bool {
            isCoarse(p / columns, count: rows) && isCoarse(p % columns, count: columns)
        }

        /// The coarse positions around `p`: the coarse rows at or on either side of its row, times
        /// the coarse columns at or on either side of its column (1, 2 or 4 positions).
        public func neighbours(of p: Int, rows: Int, columns: Int) -> [Int] {
            func around(_ k: Int, _ count: Int) -> [Int] {
                if isCoarse(k, count: count) { return [k] }
                let low = k / step * step
                return [low, min(low + step, count - 1)]
            }
            return around(p / columns, rows).flatMap { i in around(p % columns, columns).map { i * columns + $0 } }
        }
    }

    public init(threshold: Double, drillDown: DrillDown? = DrillDown()) {
        precondition(threshold > 0 && threshold <= 1, "τ is a fraction of each layer, in (0, 1]")
        (self.threshold, self.drillDown) = (threshold, drillDown)
    }

    /// The largest recomputed window along a side of `side` positions.
    func cap(_ side: Int) -> Int { max(1, min(side, Int((threshold * Double(side)).rounded(.up)))) }

    /// The bound as a run states it.
    public var description: String {
        var s = "approximate (Krypton): each layer recomputed over at most τ = \(threshold) of its rows and columns around the occluder's field"
        if let d = drillDown {
            s += "; drill-down: one position in \(d.step) along rows and columns first, a position between computed only where its coarse neighbours' p(true) differ by more "
                + "than \(d.moved), their top classes differ or one leads its runner-up by less than \(d.lead), else their mean"
        }
        return s
    }
}

/// How far one occlusion's maps are from another's over the first `images` images: what an
/// approximate run measures against the exact one.
public struct OcclusionAgreement: Sendable, CustomStringConvertible {
    public var images: Int
    /// Largest and mean |Δ p(true class)| over the positions.
    public var largestProbabilityDifference: Double
    public var meanProbabilityDifference: Double
    /// The fraction of positions whose most probable class is the same (the top-1 map).
    public var topClassAgreement: Double
    /// The largest |Δ activation| of the strongest map over that image's largest |activation|.
    public var largestActivationDifference: Double

    public init(_ a: Occlusion, _ b: Occlusion, images: Int) {
        precondition(a.rows == b.rows && a.columns == b.columns, "occlusions of different grids")
        let positions = a.rows * a.columns, n = images * positions
        precondition(a.probability.count >= n && b.probability.count >= n, "fewer images than compared")
        var largest = 0.0, sum = 0.0, same = 0, activation = 0.0
        for q in 0..<n {
            let d = Double(abs(a.probability[q] - b.probability[q]))
            (largest, sum) = (max(largest, d), sum + d)
            if a.topClass[q] == b.topClass[q] { same += 1 }
        }
        for i in 0..<images {
            let range = (i * positions)..<((i + 1) * positions)
            let scale = max(Double(b.activation[range].map(abs).max() ?? 0), 1e-12)
            for q in range { activation = max(activation, Double(abs(a.activation[q] - b.activation[q])) / scale) }
        }
        (self.images, largestProbabilityDifference, meanProbabilityDifference) = (images, largest, n > 0 ? sum / Double(n) : 0)
        (topClassAgreement, largestActivationDifference) = (n > 0 ? Double(same) / Double(n) : 1, activation)
    }

    public var description: String {
        String(format: "on %d image%@ against the exact maps: top class the same at %.2f%% of positions, |Δ p(true)| at most %.2g (mean %.2g), "
               + "strongest map's activation within %.2g of its largest", images, images == 1 ? "" : "s", 100 * topClassAgreement,
               largestProbabilityDifference, meanProbabilityDifference, largestActivationDifference)
    }
}
