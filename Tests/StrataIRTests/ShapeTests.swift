import StrataDiagnostics
@testable import StrataIR
import Testing

@Suite("Shape inference")
struct ShapeTests {
    @Test(arguments: [
        // (kernel, stride, pad, input) → output, ⌊(in + 2p − k) / s⌋ + 1
        (11, 4, 0, 227, 55), (5, 1, 2, 27, 27), (3, 1, 1, 13, 13), (7, 2, 1, 224, 110), (5, 2, 0, 55, 26),
        (3, 2, 0, 8, 3), (2, 3, 0, 7, 2), (1, 1, 0, 1, 1), (4, 4, 1, 9, 2),
    ])
    func convOutputSize(kernel: Int, stride: Int, pad: Int, input: Int, expected: Int) throws {
        let g = try compileLayers("  - {name: c, op: conv, filters: 6, kernel: \(kernel), stride: \(stride), pad: \(pad)}\n",
                                  input: "{channels: 2, height: \(input), width: \(input)}")
        #expect(g.nodes[0].shape?.dims == [6, expected, expected])
    }

    @Test func convTakesRectangularKernelsStridesAndPads() throws {
        let g = try compileLayers("  - {name: c, op: conv, filters: 4, kernel: [3, 5], stride: [1, 2], pad: [0, 2]}\n",
                                  input: "{channels: 1, height: 9, width: 11}")
        #expect(g.nodes[0].shape?.dims == [4, 7, 6])
        #expect(NetworkSummary(g).rows[0].parameters == 4 * 1 * 3 * 5 + 4)
        #expect(NetworkSummary(g).rows[0].multiplyAdds == 4 * 15 * 7 * 6)
    }

    @Test func groupsDivideParametersAndWork() throws {
        let g = try compileLayers("  - {name: c, op: conv, filters: 8, kernel: 3, groups: 4, bias: false}\n",
                                  input: "{channels: 4, height: 5, width: 5}")
        let row = NetworkSummary(g).rows[0]
        #expect(row.parameters == 8 * 1 * 3 * 3)
        #expect(row.multiplyAdds == 8 * 1 * 9 * 3 * 3)
    }

    @Test(arguments: [
        // (kernel, stride, pad, ceil, input) → output
        (3, 2, 0, false, 55, 27), (3, 2, 0, false, 13, 6), (3, 2, 0, false, 110, 54), (3, 2, 0, true, 110, 55),
        (3, 2, 1, false, 110, 55), (3, 2, 0, true, 26, 13), (2, 2, 0, false, 7, 3), (2, 2, 0, true, 7, 4),
        // ceil: ⌈(6 + 2 − 3) / 2⌉ + 1 = 4; ⌈(5 + 2 − 2) / 2⌉ + 1 = 4, but that last window would start in the
        // right padding ((4 − 1)·2 ≥ 5 + 1), so it is dropped (PyTorch's rule) → 3
        (3, 2, 1, true, 6, 4), (2, 2, 1, true, 5, 3), (3, 3, 0, true, 10, 4),
        // stride larger than the kernel: the ceil window beginning past the input is dropped
        (1, 3, 0, true, 7, 3),
    ])
    func poolOutputSize(kernel: Int, stride: Int, pad: Int, ceil: Bool, input: Int, expected: Int) throws {
        for op in ["maxpool", "avgpool"] {
            let g = try compileLayers("  - {name: p, op: \(op), kernel: \(kernel), stride: \(stride), pad: \(pad), ceil: \(ceil)}\n",
                                      input: "{channels: 3, height: \(input), width: \(input)}")
            #expect(g.nodes[0].shape?.dims == [3, expected, expected], "\(op)")
        }
    }

    @Test func poolStrideDefaultsToItsKernel() throws {
        let g = try compileLayers("  - {name: p, op: maxpool, kernel: 2}\n")
        #expect(g.nodes[0].shape?.dims == [3, 16, 16])
    }

    @Test func elementwiseLayersKeepTheirShape() throws {
        let g = try compileLayers("""
              - {name: n, op: lrn}
              - {name: r, op: relu}
              - {name: t, op: tanh}
              - {name: d, op: dropout, rate: 0}

            """)
        #expect(g.nodes.allSatisfy { $0.shape?.dims == [3, 32, 32] })
    }

    @Test func fcFlattensInChannelHeightWidthOrder() throws {
        let g = try compileLayers("  - {name: f, op: fc, units: 10}\n  - {name: s, op: softmax}\n", input: "{channels: 2, height: 3, width: 5}")
        #expect(shapes(g) == ["f": [10], "s": [10]])
        let row = NetworkSummary(g).rows[0]
        #expect(row.parameters == 10 * 30 + 10 && row.multiplyAdds == 300)
        #expect(g.nodes[0].layer.definition.parameters(inputs: [.chw(2, 3, 5)]).map(\.dims) == [[10, 30], [10]])
    }

    @Test func concatJoinsADagAlongChannels() throws {
        let g = try compileLayers("""
              - {name: a, op: conv, filters: 4, kernel: 1}
              - {name: b, op: conv, filters: 6, kernel: 3, pad: 1, from: input}
              - {name: c, op: maxpool, kernel: 3, stride: 1, pad: 1, from: input}
              - {name: j, op: concat, from: [a, b, c, input]}
              - {name: f1, op: fc, units: 3, from: a}
              - {name: f2, op: fc, units: 5, from: b}
              - {name: v, op: concat, from: [f1, f2]}

            """)
        #expect(shapes(g)["j"] == [4 + 6 + 3 + 3, 32, 32])
        #expect(shapes(g)["v"] == [8])
        #expect(g.nodes[3].inputs == [.node(0), .node(1), .node(2), .input])
        #expect(Verifier.verify(g, shapes: true).isEmpty)
    }

    @Test func aLayerWithoutFromReadsThePreviousOne() throws {
        let g = try compileLayers("  - {name: a, op: relu}\n  - {name: b, op: relu}\n  - {name: c, op: relu, from: input}\n")
        #expect(g.nodes.map(\.inputs) == [[.input], [.node(0)], [.input]])
    }

    @Test func verifierCatchesBrokenInvariants() throws {
        var g = try compileLayers("  - {name: a, op: relu}\n  - {name: b, op: conv, filters: 2, kernel: 3}\n")
        #expect(Verifier.verify(g, shapes: true).isEmpty)
        g.nodes[0].inputs = [.node(1)]
        g.nodes[1].shape = .chw(2, 31, 31)
        g.nodes.append(g.nodes[0])
        let problems = Verifier.verify(g, shapes: true)
        #expect(problems.contains("'a' reads a later node #1"))
        #expect(problems.contains("'b' has shape (2, 31, 31), which its rule does not give"))
        #expect(problems.contains("duplicate node name 'a'"))
    }

    @Test func windowArithmeticRefusesWindowsLargerThanTheInput() {
        #expect(Window.outputLength(input: 4, kernel: 5, stride: 1, pad: 0, ceil: false) == nil)
        #expect(Window.outputLength(input: 4, kernel: 5, stride: 1, pad: 1, ceil: false) == 2)
    }

    @Test func exactArithmeticReportsOverflow() {
        #expect(ExactArithmetic.product([1 << 40, 1 << 30]) == nil)
        #expect(ExactArithmetic.sum([Int.max, 1]) == nil)
        #expect(ExactArithmetic.product([96, 55, 55]) == 290_400)
    }
}

@Suite("Layer registry")
struct RegistryTests {
    /// At least one shape case per registered op: layers reading `input`, and the last layer's
    /// output shape. A new op without one fails `everyRegisteredOpHasAShapeCase`, naming it.
    static let shapeCases: [String: (layers: String, input: String, output: [Int])] = [
        "conv": ("  - {name: x, op: conv, filters: 4, kernel: 3, stride: 2, pad: 1}\n", "{channels: 2, height: 9, width: 9}", [4, 5, 5]),
        "maxpool": ("  - {name: x, op: maxpool, kernel: 3, stride: 2}\n", "{channels: 2, height: 9, width: 9}", [2, 4, 4]),
        "avgpool": ("  - {name: x, op: avgpool, kernel: 2, ceil: true}\n", "{channels: 2, height: 7, width: 7}", [2, 4, 4]),
        "lrn": ("  - {name: x, op: lrn, size: 3}\n", "{channels: 3, height: 4, width: 5}", [3, 4, 5]),
        "relu": ("  - {name: x, op: relu}\n", "{channels: 3, height: 4, width: 5}", [3, 4, 5]),
        "tanh": ("  - {name: x, op: tanh}\n", "{channels: 3, height: 4, width: 5}", [3, 4, 5]),
        "dropout": ("  - {name: x, op: dropout, rate: 0.3}\n", "{channels: 3, height: 4, width: 5}", [3, 4, 5]),
        "fc": ("  - {name: x, op: fc, units: 5}\n", "{channels: 2, height: 3, width: 3}", [5]),
        "concat": ("  - {name: a, op: conv, filters: 3, kernel: 1}\n  - {name: x, op: concat, from: [a, input]}\n",
                   "{channels: 2, height: 4, width: 4}", [5, 4, 4]),
        "softmax": ("  - {name: f, op: fc, units: 4}\n  - {name: x, op: softmax}\n", "{channels: 2, height: 2, width: 2}", [4]),
    ]

    /// Every registered layer type has a unique op name, wraps itself in `Layer` with the same op,
    /// has a summary, and has a shape case above that compiles to the expected shape.
    @Test func everyRegisteredOpHasAShapeCase() throws {
        let names = Layer.opNames
        #expect(Set(names).count == names.count)
        for definition in Layer.registry {
            #expect(!definition.summary.isEmpty, "op '\(definition.op)' has no summary")
            guard let c = Self.shapeCases[definition.op] else {
                Issue.record("op '\(definition.op)' has no shape case in RegistryTests.shapeCases")
                continue
            }
            let g = try compileLayers(c.layers, input: c.input)
            #expect(g.nodes.last?.op == definition.op)
            #expect(g.nodes.last?.layer.op == definition.op)
            #expect(g.nodes.last?.shape?.dims == c.output, "op '\(definition.op)'")
            // A diagram names only attributes the layer has (a misspelt name would hide silently).
            if let layer = g.nodes.last?.layer.definition {
                let names = layer.attributeList.map(\.0)
                for a in layer.diagramAttributes ?? [] { #expect(names.contains(a), "op '\(definition.op)': diagram attribute '\(a)' is not one of \(names)") }
            }
        }
        for op in Self.shapeCases.keys where !names.contains(op) { Issue.record("shape case for '\(op)', which is not a registered op") }
    }

}
