import StrataIR
import StrataPlan
import Testing

/// Every layer type in the registry lowers to steps: forward, and backward under every rule.
@Suite("Layer lowering")
struct LoweringTests {
    /// One small network per registered op (layers reading `input`, the op last). A new op without
    /// one fails `everyRegisteredOpHasALoweringCase`, naming it.
    static let cases: [String: (layers: String, input: String)] = [
        "conv": ("  - {name: x, op: conv, filters: 4, kernel: 3, stride: 2, pad: 1}\n", "{channels: 2, height: 9, width: 9}"),
        "maxpool": ("  - {name: x, op: maxpool, kernel: 3, stride: 2}\n", "{channels: 2, height: 9, width: 9}"),
        "avgpool": ("  - {name: x, op: avgpool, kernel: 2, ceil: true}\n", "{channels: 2, height: 7, width: 7}"),
        "lrn": ("  - {name: x, op: lrn, size: 3}\n", "{channels: 3, height: 4, width: 5}"),
        "relu": ("  - {name: x, op: relu}\n", "{channels: 3, height: 4, width: 5}"),
        "tanh": ("  - {name: x, op: tanh}\n", "{channels: 3, height: 4, width: 5}"),
        "dropout": ("  - {name: x, op: dropout, rate: 0.3}\n", "{channels: 3, height: 4, width: 5}"),
        "fc": ("  - {name: x, op: fc, units: 5}\n", "{channels: 2, height: 3, width: 3}"),
        "concat": ("  - {name: a, op: conv, filters: 3, kernel: 1}\n  - {name: x, op: concat, from: [a, input]}\n", "{channels: 2, height: 4, width: 4}"),
        "softmax": ("  - {name: f, op: fc, units: 4}\n  - {name: x, op: softmax}\n", "{channels: 2, height: 2, width: 2}"),
    ]

    /// Every registered definition has a lowering (the `Layer.lowering` switch makes a missing one
    /// a compile error; this names it for a definition that is registered but not in `Layer`) and
    /// a case here.
    @Test func everyRegisteredOpHasALoweringCase() {
        for definition in Layer.registry {
            #expect(definition is any LayerLowering.Type, "op '\(definition.op)' has no StrataPlan/Lowering/ file (LayerLowering conformance)")
            #expect(Self.cases[definition.op] != nil, "op '\(definition.op)' has no case in LoweringTests.cases")
        }
        for op in Self.cases.keys where !Layer.opNames.contains(op) { Issue.record("lowering case for '\(op)', which is not a registered op") }
    }

    /// Every op derives forward and backward steps under every rule, each carrying its kernel's
    /// constants where the kernel needs them.
    @Test(arguments: BackwardRule.allCases)
    func everyOpDerivesUnderEveryRule(_ rule: BackwardRule) throws {
        for (op, c) in Self.cases {
            let g = try compileLayers(c.layers, input: c.input)
            #expect(g.nodes.last?.op == op)
            let derived = try DerivedGraph.derive(g, backward: BackwardPass(seed: .value(g.nodes.count - 1), rule: rule, inputGradient: true),
                                                   dropout: true)
            let produced = Set(derived.steps.flatMap(\.outputs))
            #expect(produced.contains(.inputGradient) || derived.aliases[.inputGradient] != nil, "op '\(op)' under \(rule) does not reach the input")
            for step in derived.steps {
                let needs: [Kernel: String] = [.conv_forward: "conv", .conv_backward_data: "conv", .conv_backward_filter: "conv", .maxpool_forward: "pool",
                                               .maxpool_backward: "pool", .avgpool_forward: "pool", .avgpool_backward: "pool", .lrn_forward: "lrn",
                                               .lrn_backward: "lrn", .fc_forward: "fc", .fc_backward_data: "fc", .fc_backward_filter: "fc"]
                if let kind = needs[step.kernel] { #expect("\(step.constants)".hasPrefix(kind), "op '\(op)': \(step.kernel) carries \(step.constants)") }
            }
        }
    }
}
