import StrataCPU
import StrataDiagnostics
import StrataIR
import StrataPlan
import StrataSpec
import Testing

/// A deterministic generator for tests.
struct Random {
    var generator: SplitMix64
    init(_ seed: UInt64) { generator = SplitMix64(seed: seed) }
    /// Uniform in [−1, 1).
    mutating func uniform() -> Double { Double(generator.next() >> 11) * 0x1.0p-53 * 2 - 1 }
    mutating func int(_ n: Int) -> Int { Int(generator.next() % UInt64(n)) }
}

/// Compiles layers under `input` into a shaped graph.
func graph(_ layers: String, input: String) throws -> Graph {
    let text = "name: test\ninput: \(input)\nlayers:\n" + layers
    return try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: text, file: "test.yaml")))
}

/// CPU settings for a test: 2 threads unless said, the machine's default GEMM unless said.
func cpu(_ precision: CPUSettings.Precision = .float32, threads: Int = 2, gemm: GEMMPath = .default) -> CPUSettings {
    CPUSettings(threads: threads, gemm: gemm, precision: precision)
}

/// An executor for a training plan with random weights (scaled by `scale`), input and labels.
func trainingExecutor(_ g: Graph, batch: Int, settings: CPUSettings, dropout: Bool = false, seed: UInt64 = 1,
                      scale: Double = 0.5, optimizer: OptimizerSteps? = nil) throws -> CPUExecutor {
    let derived = try DerivedGraph.derive(g, backward: .training, dropout: dropout, optimizer: optimizer)
    let plan = CPUBackend(settings).plan(derived, batch: batch)
    let executor = try CPUExecutor(plan: plan, settings: settings)
    var random = Random(seed)
    for p in plan.parameters {
        try executor.write(p.tensor, doubles: (0..<p.elementCount).map { _ in random.uniform() * scale })
    }
    try executor.write(.input, doubles: (0..<plan.buffer(.input)!.elements).map { _ in random.uniform() })
    let classes = g.nodes.last!.shape!.elementCount!
    try executor.setLabels((0..<batch).map { _ in Int32(random.int(classes)) })
    return executor
}
