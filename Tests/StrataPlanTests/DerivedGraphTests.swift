import StrataIR
import StrataPlan
import Testing

/// What `DerivedGraph.derive` asks each layer for: only the gradients somebody needs.
@Suite("Training graph derivation")
struct DerivedGraphTests {
    static let layers = """
          - {name: c1, op: conv, filters: 4, kernel: 3}
          - {name: r1, op: relu}
          - {name: c2, op: conv, filters: 4, kernel: 3}
          - {name: r2, op: relu}
          - {name: f, op: fc, units: 3}
          - {name: prob, op: softmax}

        """

    func kernels(_ tg: DerivedGraph, node name: String) -> [Kernel] {
        let i = tg.graph.nodes.firstIndex { $0.name == name }!
        return tg.steps[tg.backwardStart...].filter { $0.node == i }.map(\.kernel)
    }

    @Test func trainingComputesEveryParameterGradientButNotTheInputs() throws {
        let tg = try DerivedGraph.derive(try compileLayers(Self.layers, input: "{channels: 1, height: 7, width: 7}"), training: true)
        #expect(kernels(tg, node: "c1") == [.conv_backward_filter])
        #expect(kernels(tg, node: "c2") == [.conv_backward_filter, .conv_backward_data])
        #expect(!tg.steps.flatMap(\.outputs).contains(.inputGradient))
    }

    /// Frozen layers get no parameter gradient, and nothing below the last trained layer runs backward.
    @Test func frozenLayersGetNoGradient() throws {
        let g = try compileLayers(Self.layers, input: "{channels: 1, height: 7, width: 7}")
        let frozen = Set(g.nodes.indices.filter { ["c1", "c2"].contains(g.nodes[$0].name) })
        let tg = try DerivedGraph.derive(g, backward: BackwardPass(frozen: frozen))
        #expect(kernels(tg, node: "f") == [.fc_backward_filter])
        #expect(kernels(tg, node: "r2").isEmpty && kernels(tg, node: "c2").isEmpty && kernels(tg, node: "r1").isEmpty && kernels(tg, node: "c1").isEmpty)
        // Freezing only c2 still needs its data gradient, to reach c1.
        let middle = try DerivedGraph.derive(g, backward: BackwardPass(frozen: [frozen.max()!]))
        #expect(kernels(middle, node: "c2") == [.conv_backward_data])
        #expect(kernels(middle, node: "c1") == [.conv_backward_filter])
    }

    /// A projection from c2 asks for no parameter gradient, reaches the input, and runs nothing after c2.
    @Test func projectionsReachTheInputOnly() throws {
        let g = try compileLayers(Self.layers, input: "{channels: 1, height: 7, width: 7}")
        let c2 = g.nodes.firstIndex { $0.name == "c2" }!
        let tg = try DerivedGraph.derive(g, backward: .projection(from: c2, rule: .deconvnet))
        #expect(tg.seed == .gradient(c2))
        #expect(tg.steps.allSatisfy { ($0.node ?? 0) <= c2 })
        #expect(tg.steps[tg.backwardStart...].map(\.kernel) == [.conv_backward_data, .relu_forward, .conv_backward_data])
        #expect(tg.steps.last?.outputs == [.inputGradient])
        #expect(tg.mode == "backward from 'c2' (deconvnet)")
    }
}
