import StrataDiagnostics
import StrataIR
import Testing

/// One wrong spec and the first error it must give, as `line:col: message`.
struct BadSpec: CustomTestStringConvertible, Sendable {
    var name: String
    /// Files by path; the spec compiled is `t.yaml`.
    var files: [String: String]
    var expected: String

    init(_ name: String, layers: String, input: String = "{channels: 3, height: 32, width: 32}", _ expected: String) {
        self.name = name
        self.files = ["t.yaml": "name: t\ninput: \(input)\nlayers:\n" + layers]
        self.expected = expected
    }

    init(_ name: String, files: [String: String], _ expected: String) {
        self.name = name
        self.files = files
        self.expected = expected
    }

    var testDescription: String { name }
}

@Suite("Bad specs")
struct BadSpecTests {
    static let cases: [BadSpec] = [
        BadSpec("YAML syntax", files: ["t.yaml": "name: t\ninput: {channels: 3\nlayers: []\n"],
                "t.yaml:3:7: invalid YAML: did not find expected ',' or '}'"),
        BadSpec("tab indentation", files: ["t.yaml": "name: t\nlayers:\n\t- {name: a, op: relu}\n"],
                "t.yaml:3:1: invalid YAML: found character that cannot start any token"),
        BadSpec("spec is a list", files: ["t.yaml": "- a\n- b\n"],
                "t.yaml:1:1: a spec must be a mapping with 'name', 'input' and 'layers', got a list"),
        BadSpec("missing input", files: ["t.yaml": "name: t\nlayers: [{name: a, op: relu}]\n"],
                "t.yaml:1:1: the spec needs 'input'"),
        BadSpec("misspelt top-level key", files: ["t.yaml": "name: t\ninput: {channels: 1, height: 4, width: 4}\nlayer: []\n"],
                "t.yaml:3:1: unknown key 'layer' in the spec"),
        BadSpec("input misses a key", files: ["t.yaml": "name: t\ninput: {channels: 1, height: 4}\nlayers: [{name: a, op: relu}]\n"],
                "t.yaml:2:8: 'input' needs 'width' (an integer)"),
        BadSpec("zero input size", layers: "  - {name: a, op: relu}\n", input: "{channels: 3, height: 0, width: 4}",
                "t.yaml:2:30: 'height' of 'input' must be between 1 and 1048576, got 0"),
        BadSpec("layers is not a list", files: ["t.yaml": "name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: {a: 1}\n"],
                "t.yaml:3:9: 'layers' must be a list of layers (each '- name: ..., op: ...'), got a mapping"),
        BadSpec("layer without op", layers: "  - {name: a}\n", "t.yaml:4:5: layer 'a' needs 'op'"),
        BadSpec("bad layer name", layers: "  - {name: 9lives, op: relu}\n",
                "t.yaml:4:12: layer name '9lives' must start with a letter or '_' and contain only letters, digits, '_', '-' and '.'"),
        BadSpec("unknown op", layers: "  - {name: a, op: covn, filters: 4, kernel: 3}\n", "t.yaml:4:19: unknown op 'covn' in layer 'a'"),
        BadSpec("unknown attribute", layers: "  - {name: a, op: conv, filters: 4, kernel: 3, strde: 2}\n",
                "t.yaml:4:48: unknown key 'strde' in conv layer 'a'"),
        BadSpec("missing attribute", layers: "  - {name: a, op: conv, kernel: 3}\n", "t.yaml:4:5: conv layer 'a' needs 'filters' (an integer)"),
        BadSpec("fractional kernel", layers: "  - {name: a, op: conv, filters: 4, kernel: 2.5}\n",
                "t.yaml:4:45: 'kernel' of conv layer 'a' must be an integer or a list [height, width], got '2.5'"),
        BadSpec("kernel list of three", layers: "  - {name: a, op: conv, filters: 4, kernel: [3, 3, 3]}\n",
                "t.yaml:4:45: 'kernel' of conv layer 'a' must be an integer or a list [height, width], got a list of 3"),
        BadSpec("zero stride", layers: "  - {name: a, op: maxpool, kernel: 3, stride: 0}\n",
                "t.yaml:4:47: 'stride' of maxpool layer 'a' must be between 1 and 65536, got 0"),
        BadSpec("negative pad", layers: "  - {name: a, op: conv, filters: 4, kernel: 3, pad: -1}\n",
                "t.yaml:4:53: 'pad' of conv layer 'a' must be between 0 and 65536, got -1"),
        BadSpec("quoted number", layers: "  - {name: a, op: fc, units: \"10\"}\n",
                "t.yaml:4:30: 'units' of fc layer 'a' must be an integer, got '10'"),
        BadSpec("dropout rate of one", layers: "  - {name: a, op: dropout, rate: 1}\n",
                "t.yaml:4:34: 'rate' of dropout layer 'a' must be in [0, 1), got 1"),
        BadSpec("boolean spelt yes", layers: "  - {name: a, op: conv, filters: 2, kernel: 1, bias: yes}\n",
                "t.yaml:4:54: 'bias' of conv layer 'a' must be true or false, got 'yes'"),
        BadSpec("even lrn size", layers: "  - {name: a, op: lrn, size: 4}\n",
                "t.yaml:4:30: 'size' of lrn must be odd (the window is centred on each channel), got 4"),
        BadSpec("pool padding over half the kernel", layers: "  - {name: a, op: maxpool, kernel: 3, pad: 2}\n",
                "t.yaml:4:44: 'pad' (2) of maxpool must be at most half of 'kernel' (3)"),
        BadSpec("absurd filter count", layers: "  - {name: a, op: conv, filters: 1000000000, kernel: 3}\n",
                "t.yaml:4:34: 'filters' of conv layer 'a' must be between 1 and 1048576, got 1000000000"),
        BadSpec("absurd activation size", layers: "  - {name: a, op: conv, filters: 1048576, kernel: 1}\n", input: "{channels: 1, height: 100, width: 100}",
                "t.yaml:4:5: layer 'a' would produce (1048576, 100, 100) per image; more than 4294967296 values is refused"),
        BadSpec("absurd parameter count", layers: "  - {name: a, op: fc, units: 16777216}\n", input: "{channels: 256, height: 6, width: 6}",
                "t.yaml:4:5: layer 'a' would have more than 17179869184 parameters"),
        BadSpec("duplicate layer name", layers: "  - {name: a, op: relu}\n  - {name: a, op: tanh}\n",
                "t.yaml:5:12: duplicate layer name 'a'; layer names must be unique"),
        BadSpec("layer named input", layers: "  - {name: input, op: relu}\n",
                "t.yaml:4:12: a layer cannot be named 'input': 'from: input' names the network input"),
        BadSpec("unknown from", layers: "  - {name: a, op: relu}\n  - {name: b, op: relu, from: aa}\n",
                "t.yaml:5:31: layer 'b' reads 'aa', but no layer has that name"),
        BadSpec("forward from", layers: "  - {name: a, op: relu, from: b}\n  - {name: b, op: relu}\n",
                "t.yaml:4:31: layer 'a' reads 'b', which is declared below it; a layer can only read layers above it"),
        BadSpec("layer reads itself", layers: "  - {name: a, op: relu, from: a}\n", "t.yaml:4:31: layer 'a' cannot read itself"),
        BadSpec("list from on a single-input op", layers: "  - {name: a, op: relu}\n  - {name: b, op: relu, from: [a, input]}\n",
                "t.yaml:5:32: relu layer 'b' reads one layer, but 'from' lists 2"),
        BadSpec("concat of one", layers: "  - {name: a, op: relu}\n  - {name: b, op: concat, from: [a]}\n",
                "t.yaml:5:34: concat layer 'b' joins several layers; 'from' must list at least two, e.g. 'from: [a, b]'"),
        BadSpec("groups that do not divide channels", layers: "  - {name: a, op: conv, filters: 4, kernel: 3, groups: 2}\n",
                "t.yaml:4:56: 'groups' (2) must divide the input channels, but the input is (3, 32, 32)"),
        BadSpec("groups that do not divide filters", layers: "  - {name: a, op: conv, filters: 3, kernel: 3, groups: 2}\n",
                "t.yaml:4:56: 'groups' (2) of conv layer 'a' must divide 'filters' (3)"),
        BadSpec("window larger than padded input", layers: "  - {name: a, op: maxpool, kernel: 9, pad: 1}\n", input: "{channels: 1, height: 6, width: 6}",
                "t.yaml:4:36: window 9×9 of 'a' is larger than its padded input 8×8 (the input is (1, 6, 6), pad 1)"),
        BadSpec("conv after fc", layers: "  - {name: f, op: fc, units: 8}\n  - {name: c, op: conv, filters: 2, kernel: 1}\n",
                "t.yaml:5:19: conv layer 'c' needs a (C, H, W) feature map, but 'f' produces (8)"),
        BadSpec("mismatched concat", layers: "  - {name: a, op: maxpool, kernel: 2}\n  - {name: b, op: concat, from: [a, input]}\n",
                "t.yaml:5:34: concat 'b' needs feature maps of the same height and width, but 'a' produces (3, 16, 16) and the input is (3, 32, 32)"),
        BadSpec("softmax on a feature map", layers: "  - {name: s, op: softmax}\n",
                "t.yaml:4:19: softmax 's' needs a vector (F), but the input is (3, 32, 32); put an 'fc' layer before it"),
        BadSpec("missing base", files: ["t.yaml": "base: nets/alexnet.yaml\n"],
                "t.yaml:1:7: cannot read base spec 'nets/alexnet.yaml': No such file or directory"),
        BadSpec("cyclic base", files: ["t.yaml": "base: u.yaml\n", "u.yaml": "base: t.yaml\n"],
                "u.yaml:1:7: 'base' makes a cycle: t.yaml → u.yaml → t.yaml"),
        BadSpec("remove of an unknown layer", files: ["t.yaml": "base: b.yaml\nremove: [fc9]\n",
                                                      "b.yaml": "name: b\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: fc8, op: fc, units: 2}]\n"],
                "t.yaml:2:10: cannot remove 'fc9': the base has no layer of that name"),
        BadSpec("error inside a base is reported in the base", files: ["t.yaml": "base: b.yaml\nname: t\n",
                                                                       "b.yaml": "name: b\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: f, op: fc, units: 0}]\n"],
                "b.yaml:3:35: 'units' of fc layer 'f' must be between 1 and 16777216, got 0"),
        BadSpec("alias", files: ["t.yaml": "name: &n t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: *n, op: relu}]\n"],
                "t.yaml:3:17: YAML aliases are not allowed in a spec"),
    ]

    @Test(arguments: cases)
    func reportsALocatedError(_ bad: BadSpec) {
        do {
            _ = try compile(bad.files, "t.yaml")
            Issue.record("\(bad.name): compiled without an error")
        } catch {
            let first = error.diagnostics.first
            let got = first.map { d in "\(d.location.map { "\($0.file):\($0.line):\($0.column)" } ?? "-"): \(d.message)" }
            #expect(got == bad.expected, "\(bad.name)")
            #expect(error.diagnostics.allSatisfy { $0.location != nil })
        }
    }

    @Test func suggestsTheClosestSpelling() throws {
        let error = #expect(throws: DiagnosticError.self) {
            try compileLayers("  - {name: a, op: maxpol, kernel: 2}\n  - {name: b, op: conv, filtrs: 2, kernel: 1}\n")
        }
        let notes = error?.diagnostics.flatMap(\.notes).map(\.message) ?? []
        #expect(notes.contains("did you mean 'maxpool'?"))
        #expect(notes.contains("did you mean 'filters'?"))
    }

    @Test func reportsEveryIndependentErrorOfAStage() throws {
        let error = #expect(throws: DiagnosticError.self) {
            try compileLayers("""
                  - {name: a, op: conv, filters: 0, kernel: 3}
                  - {name: b, op: maxpool, kernel: 3, stride: 0}
                  - {name: c, op: relu, from: zz}
                  - {name: d, op: dropout, rate: 2}

                """)
        }
        #expect(error?.diagnostics.map { $0.location?.line ?? 0 } == [4, 5, 6, 7])
    }

    @Test func shapeErrorsSkipWhatDependsOnThemButNotIndependentBranches() throws {
        let error = #expect(throws: DiagnosticError.self) {
            try compileLayers("""
                  - {name: a, op: conv, filters: 4, kernel: 40}
                  - {name: b, op: relu}
                  - {name: c, op: softmax, from: input}

                """)
        }
        #expect(error?.diagnostics.count == 2)
        #expect(error?.diagnostics.map { $0.location?.line ?? 0 } == [4, 6])
    }

    @Test func shapeErrorsPointAtTheInputsDeclarations() throws {
        let error = #expect(throws: DiagnosticError.self) {
            try compileLayers("  - {name: p, op: maxpool, kernel: 2}\n  - {name: j, op: concat, from: [p, input]}\n")
        }
        let notes = error?.diagnostics.first?.notes ?? []
        #expect(notes.map(\.message) == ["'p' declared here", "the input declared here"])
        #expect(notes.map { $0.location?.line ?? 0 } == [4, 2])
    }
}
