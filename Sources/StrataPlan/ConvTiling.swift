/// How the CPU backend tiles a convolution's GEMMs, shared with the planner so that the plan's
/// scratch-memory figure is the one the backend allocates.
///
/// A small output (AlexNet's 13×13 = 169 positions, the mini nets' 6×6 = 36) makes a GEMM too
/// narrow to run fast, so several images' columns go side by side into one GEMM of about
/// `targetColumns` columns.
public enum ConvTiling {
    public static let targetColumns = 1024

    /// Images per GEMM for `positions` = OH·OW output positions.
    public static func imagesPerGEMM(positions: Int) -> Int {
        max(1, targetColumns / max(positions, 1))
    }

    /// Scratch per thread: the columns (depth × images·positions) and a GEMM output for one group.
    public static func scratchElements(depth: Int, filtersPerGroup: Int, positions: Int) -> Int {
        let images = imagesPerGEMM(positions: positions)
        return (depth + (images > 1 ? filtersPerGroup : 0)) * images * positions
    }
}
