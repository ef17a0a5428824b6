import StrataCPU
import StrataIR
import StrataPlan
import Testing

/// NaN and ±∞ flow through the network as IEEE arithmetic has them (as in PyTorch): a NaN input
/// or weight never vanishes into a ReLU or a max-pool and comes out as a confident answer.
@Suite("Non-finite values")
struct NonFiniteTests {
    static let layers = """
          - {name: c1, op: conv, filters: 3, kernel: 3, pad: 1}
          - {name: r1, op: relu}
          - {name: p1, op: maxpool, kernel: 2}
          - {name: f1, op: fc, units: 6}
          - {name: r2, op: relu}
          - {name: f2, op: fc, units: 3}
          - {name: prob, op: softmax}

        """

    @Test("one NaN pixel makes that image's outputs NaN, and only that image's", arguments: [CPUSettings.Precision.float32, .float64])
    func aNaNPixelPropagates(_ precision: CPUSettings.Precision) throws {
        let g = try graph(Self.layers, input: "{channels: 1, height: 6, width: 6}")
        let settings = cpu(precision)
        let plan = CPUBackend(settings).plan(try DerivedGraph.derive(g, training: false), batch: 3, keep: [.value(1), .value(4)])
        let executor = try CPUExecutor(plan: plan, settings: settings)
        var random = Random(3)
        for p in plan.parameters { try executor.write(p.tensor, doubles: (0..<p.elementCount).map { _ in random.uniform() }) }
        var input = (0..<108).map { _ in random.uniform() }
        input[36 + 14] = .nan                                      // image 1, one pixel
        try executor.write(.input, doubles: input)
        try executor.run()
        let probabilities = try executor.read(.value(g.nodes.count - 1))
        #expect(probabilities[3..<6].allSatisfy { $0.isNaN })
        #expect(probabilities[0..<3].allSatisfy { $0.isFinite } && probabilities[6..<9].allSatisfy { $0.isFinite })
        // The ReLUs (the one fused into c1's plan step included) pass it on rather than clamping it to 0.
        #expect(try executor.read(.value(1))[108..<216].contains { $0.isNaN })
        #expect(try executor.read(.value(4))[6..<12].allSatisfy { $0.isNaN })
    }

    @Test("NaN weights give a NaN loss, not ln(classes)")
    func nanWeightsGiveANaNLoss() throws {
        let g = try graph(Self.layers, input: "{channels: 1, height: 6, width: 6}")
        let executor = try trainingExecutor(g, batch: 2, settings: cpu())
        let weight = executor.plan.parameters.first { $0.tensor == .parameter(0, "weight") }!
        try executor.write(weight.tensor, doubles: [Double](repeating: .nan, count: weight.elementCount))
        #expect(try executor.run()?.isNaN == true)
    }

    @Test("the ReLU and its backward let NaN through", arguments: [CPUSettings.Precision.float32, .float64])
    func reluKernels(_ precision: CPUSettings.Precision) throws {
        let g = try graph("  - {name: r, op: relu}\n  - {name: f, op: fc, units: 2}\n  - {name: prob, op: softmax}\n", input: "{channels: 4, height: 1, width: 1}")
        let settings = cpu(precision)
        let plan = CPUBackend(settings).plan(try DerivedGraph.derive(g, training: false), batch: 1, keep: [.value(0)], fuse: false)
        let executor = try CPUExecutor(plan: plan, settings: settings)
        try executor.write(.input, doubles: [-1, .nan, 2, -.infinity])
        try executor.run()
        let y = try executor.read(.value(0))
        #expect(y[0] == 0 && y[1].isNaN && y[2] == 2 && y[3] == 0)
    }

    @Test("a label outside the classes is an error, not an out-of-bounds write")
    func labelsAreRangeChecked() throws {
        let g = try graph(Self.layers, input: "{channels: 1, height: 6, width: 6}")
        let executor = try trainingExecutor(g, batch: 2, settings: cpu())
        for bad: [Int32] in [[0, 3], [-1, 0], [200, 1]] {
            let error = #expect(throws: ExecutorError.self) { try executor.setLabels(bad) }
            #expect(error?.description.contains("outside 0..<3") == true, "\(error?.description ?? "")")
        }
        try executor.setLabels([2, 0])
    }
}
