import StrataDiagnostics
import StrataSpec

/// The stages of the compiler, in order, each a function from one typed value to the next.
/// `strata compile --stop-after STAGE` stops after any of them and prints what it made.
public enum Stage: String, CaseIterable, Sendable {
    /// The spec with variants resolved.
    case spec
    /// The graph IR: typed layers, resolved references.
    case ir
    /// The graph with every shape inferred.
    case shapes
    /// The kernel steps: forward, and for training the loss and the backward steps.
    case grad
    /// Steps and buffers for a backend and batch size.
    case plan
}

/// Runs the front end: spec file → resolved spec → IR → shaped IR.
public struct Compiler {
    public let loader: SpecLoader

    public init(loader: SpecLoader = SpecLoader()) {
        self.loader = loader
    }

    /// The source texts read so far, for rendering diagnostics.
    public var sources: [String: String] { loader.sources }

    public func spec(path: String) throws(DiagnosticError) -> NetworkSpec {
        try loader.load(path: path)
    }

    /// Loads, builds and shape-checks the network at `path`.
    public func shapedGraph(path: String) throws(DiagnosticError) -> Graph {
        try ShapeInference.infer(GraphBuilder.build(loader.load(path: path)))
    }

    /// The same from text (for tests and tools).
    public func shapedGraph(text: String, file: String) throws(DiagnosticError) -> Graph {
        try ShapeInference.infer(GraphBuilder.build(loader.load(text: text, file: file)))
    }
}
