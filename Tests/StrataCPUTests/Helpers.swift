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

/// An executor for a training plan with random weights (scaled by `scale`), input and labels.
func trainingExecutor(_ g: Graph, batch: Int, precision: CPUExecutor.Precision, dropout: Bool = false, seed: UInt64 = 1,
                      scale: Double = 0.5) throws -> CPUExecutor {
    let plan = Planner.plan(try TrainingGraph.derive(g, training: true, dropout: dropout), batch: batch)
    let executor = CPUExecutor(plan: plan, precision: precision)
    var random = Random(seed)
    for p in executor.parameterNames {
        let count = p.shape.reduce(1, *)
        executor.write(p.tensor, (0..<count).map { _ in random.uniform() * scale })
    }
    executor.write(.input, (0..<plan.buffer(.input)!.elements).map { _ in random.uniform() })
    let classes = g.nodes.last!.shape!.elementCount!
    executor.setLabels((0..<batch).map { _ in Int32(random.int(classes)) })
    return executor
}
