/// The range raw pixels are shown over in every figure.
public enum Picture {
    /// The smallest and largest finite value.
    public static func range(_ values: some Collection<Float>) -> (Float, Float) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        return lo <= hi ? (lo, hi) : (0, 0)
    }

    /// The range to show raw pixels over: [0, 1] (no per-image stretch), widened only where values
    /// lie outside it (an .npy given with --mean none may hold any values).
    public static func rawRange(_ values: some Collection<Float>) -> (Float, Float) {
        let (lo, hi) = range(values)
        return (min(lo, 0), max(hi, 1))
    }
}
