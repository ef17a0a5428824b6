import StrataIR

/// What a backend tells the planner before it plans: how to align buffers, how many threads run
/// (each with its own scratch), and how much scratch each step needs on it.
public struct BackendTraits: Sendable {
    /// `cpu`, `opencl`.
    public var name: String
    /// Alignment of every buffer, in bytes (a power of two).
    public var alignment: Int
    /// Workers that each hold a scratch area.
    public var threads: Int
    /// Scratch elements (4-byte) one thread needs to run a step: im2col columns, say.
    public var scratchElements: @Sendable (StrataPlan.Step) -> Int

    public init(name: String, alignment: Int, threads: Int, scratchElements: @escaping @Sendable (StrataPlan.Step) -> Int = { _ in 0 }) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        self.name = name
        self.alignment = alignment
        self.threads = max(1, threads)
        self.scratchElements = scratchElements
    }

    /// Rounds a byte count up to the alignment.
    public func align(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
}
