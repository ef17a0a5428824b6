import Foundation
import StrataFormats
import Testing

/// `strata draw`: the network as Graphviz DOT (and SVG when Graphviz is installed).
@Suite("strata draw")
struct DrawCommandTests {
    /// Whether Graphviz's `dot` is on this machine's PATH (CI need not have it).
    static let hasGraphviz = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/dot") }

    static func draw(_ spec: String) -> String {
        let run = strata("draw", spec)
        #expect(run.status == 0, "\(run.errors)")
        return run.output
    }

    static func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "strata-draw-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The parameter counts written in the labels of the layers' own boxes (not their groups').
    static func layerParameters(_ dot: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in dot.split(separator: "\n") where line.contains(" parameters\"") && !line.contains("/group") {
            let name = String(line.split(separator: "\"")[1])
            let figure = line.components(separatedBy: "\\n").last!.components(separatedBy: " parameters")[0]
            counts[name] = Int(figure.replacingOccurrences(of: ",", with: ""))
        }
        return counts
    }

    @Test func alexNetHasEveryLayerWithItsShapeAndParameters() throws {
        let dot = Self.draw(packageRoot + "/networks/alexnet.yaml")
        #expect(dot.hasPrefix("digraph \"alexnet\" {\n"))
        #expect(dot.contains("\"input\" [label=\"input\\n3×227×227\", shape=oval];"))
        #expect(dot.contains("\"conv1\" [label=\"conv1\\nconv filters=96 kernel=11 stride=4 groups=1\\n96×55×55\\n34,944 parameters\"];"))
        #expect(dot.contains("\"pool5\" [label=\"pool5\\nmaxpool kernel=3 stride=2\\n256×6×6\"];"))
        #expect(dot.contains("\"fc6\" [label=\"fc6\\nfc units=4096\\n4096\\n37,752,832 parameters\"];"))
        // Every layer and every edge of the spec, in order; the layers' counts add up to check's total.
        let check = strata("check", packageRoot + "/networks/alexnet.yaml", "--json")
        let summary = try JSONValue.parse(Array(check.output.utf8))
        let layers = summary["layers"]?.arrayItems ?? []
        #expect(layers.count == 23)
        for layer in layers {
            let name = layer["name"]?.text ?? "?"
            let shape = (layer["output"]?.arrayItems ?? []).compactMap(\.integer).map(String.init).joined(separator: "×")
            #expect(dot.contains("\"\(name)\" [label=\"\(name)\\n") && dot.contains("\\n\(shape)"), "no box for \(name) with \(shape)")
        }
        #expect(Self.layerParameters(dot).values.reduce(0, +) == summary["params"]?.integer)
        #expect(dot.contains("\"input\" -> \"conv1\";\n\"conv1\" -> \"relu1\";".replacingOccurrences(of: "\n", with: "\n  ")))
        #expect(dot.contains("  \"fc8\" -> \"prob\";\n}\n"))
    }

    @Test func alexNetsGroupedConvolutionsAreTwoTowers() throws {
        let dot = Self.draw(packageRoot + "/networks/alexnet.yaml")
        for layer in ["conv2", "conv4", "conv5"] {
            #expect(dot.contains("subgraph \"cluster_\(layer)\" {"), "\(layer) is not drawn as a cluster")
            #expect(dot.contains("\"\(layer)/group1\" [label=\"group 1 of 2\\n") && dot.contains("fillcolor=\"#cfe2f3\""))
            #expect(dot.contains("\"\(layer)/group2\" [label=\"group 2 of 2\\n") && dot.contains("fillcolor=\"#fce5cd\""))
            #expect(!dot.contains("-> \"\(layer)\""), "an edge goes to \(layer) itself instead of its groups")
        }
        #expect(!dot.contains("cluster_conv1") && !dot.contains("cluster_conv3"))
        // conv2: 256 filters in two groups, each reading 48 of pool1's 96 maps and writing 128.
        #expect(dot.contains("\"conv2/group1\" [label=\"group 1 of 2\\nmaps 1–128\\n128×27×27\\n153,728 parameters\""))
        #expect(dot.contains("\"pool1\" -> \"conv2/group1\" [label=\"maps 1–48\"];"))
        #expect(dot.contains("\"pool1\" -> \"conv2/group2\" [label=\"maps 49–96\"];"))
        #expect(dot.contains("\"conv2/group2\" -> \"relu2\" [label=\"maps 129–256\"];"))
        #expect(dot.contains("\"relu4\" -> \"conv5/group2\" [label=\"maps 193–384\"];"))
        #expect(Self.layerParameters(dot)["conv2"] == 307_456)
    }

    @Test func branchesConcatenationsAndGroupsReadingGroupsAreDrawnAsTheGraphHasThem() throws {
        let path = try Self.write("""
            name: branches
            input: {channels: 4, height: 8, width: 8}
            layers:
              - {name: a, op: conv, filters: 8, kernel: 1, groups: 2}
              - {name: b, op: conv, filters: 8, kernel: 1, groups: 4}
              - {name: c, op: conv, filters: 2, kernel: 3, pad: 1, from: input}
              - {name: mix, op: concat, from: [b, c]}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dot = Self.draw(path)
        // b's four groups each read a quarter of a's maps: a's first group feeds b's first two.
        #expect(dot.contains("\"a/group1\" -> \"b/group1\" [label=\"maps 1–2\"];"))
        #expect(dot.contains("\"a/group1\" -> \"b/group2\" [label=\"maps 3–4\"];"))
        #expect(dot.contains("\"a/group2\" -> \"b/group3\" [label=\"maps 5–6\"];"))
        #expect(!dot.contains("\"a/group1\" -> \"b/group3\"") && !dot.contains("\"a/group2\" -> \"b/group1\""))
        #expect(dot.contains("\"input\" -> \"a/group1\" [label=\"maps 1–2\"];"))
        #expect(dot.contains("\"input\" -> \"c\";"))
        #expect(dot.contains("\"b/group4\" -> \"mix\" [label=\"maps 7–8\"];") && dot.contains("\"c\" -> \"mix\";"))
        #expect(dot.contains("\"mix\" [label=\"mix\\nconcat\\n10×8×8\"];"))
    }

    /// A depthwise convolution (a group per channel) is one box saying its groups, not a wall of them.
    @Test func aLayerOfManyGroupsIsOneBox() throws {
        let path = try Self.write("""
            name: depthwise
            input: {channels: 64, height: 8, width: 8}
            layers:
              - {name: dw, op: conv, filters: 64, kernel: 3, pad: 1, groups: 64}
              - {name: pw, op: conv, filters: 64, kernel: 1, groups: 16}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dot = Self.draw(path)
        #expect(!dot.contains("dw/group") && dot.contains("\"dw\" [label=\"dw\\nconv filters=64 kernel=3 stride=1 groups=64"), "\(dot)")
        #expect(dot.contains("\"input\" -> \"dw\";"))
        #expect(dot.contains("\"pw/group16\"") && dot.contains("\"dw\" -> \"pw/group1\" [label=\"maps 1–4\"];"), "16 groups are still drawn")
    }

    @Test func withoutShapesEveryGroupJoinsEveryGroup() {
        let ir = strata("compile", packageRoot + "/networks/alexnet.yaml", "--stop-after", "ir", "--emit", "dot")
        #expect(ir.status == 0 && ir.output.contains("\"conv2/group2\" [label=\"group 2 of 2\", style=filled"))
        #expect(ir.output.contains("\"pool1\" -> \"conv2/group1\";") && !ir.output.contains("maps") && !ir.output.contains("parameters"))
    }

    @Test func outWritesDOTAndAWrongSpecIsALocatedError() throws {
        let out = NSTemporaryDirectory() + "strata-draw-\(UUID().uuidString).dot"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = strata("draw", packageRoot + "/networks/zfnet-mini.yaml", "--out", out)
        #expect(run.status == 0 && run.output == "wrote \(out)\n")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == Self.draw(packageRoot + "/networks/zfnet-mini.yaml"))
        let bad = try Self.write("name: t\ninput: {channels: 1, height: 4, width: 4}\nlayers: [{name: a, op: conv, filters: 2, kernel: 9}]\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let refused = strata("draw", bad)
        #expect(refused.status == 1 && refused.errors.contains("error: kernel 9×9 of 'a' is larger than its padded input"))
    }

    @Test(.enabled(if: hasGraphviz, "needs Graphviz's dot (apt-get install graphviz)"))
    func svgIsRenderedByGraphviz() throws {
        let out = NSTemporaryDirectory() + "strata-draw-\(UUID().uuidString).svg"
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(strata("draw", packageRoot + "/networks/alexnet.yaml", "--out", out).status == 0)
        let svg = try String(contentsOfFile: out, encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("<title>conv2/group2</title>") && svg.contains("153,728 parameters"))
        let printed = strata("draw", packageRoot + "/networks/alexnet.yaml", "--format", "svg")
        #expect(printed.output.contains("<title>pool1&#45;&gt;conv2/group1</title>"))
    }

    @Test func svgWithoutGraphvizSaysWhatToInstall() throws {
        let run = try strataProcess(["draw", "networks/zfnet-mini.yaml", "--format", "svg"], environment: ["PATH": "/nonexistent"])
        #expect(run.status == 1)
        #expect(run.errors.contains("error: SVG needs Graphviz's 'dot' on the PATH (Debian: apt-get install graphviz)"), "\(run.errors)")
    }
}
