import Foundation
import Testing

@Suite("strata check and compile")
struct CheckCommandTests {
    let alexnet = packageRoot + "/networks/alexnet.yaml"

    @Test func checkPrintsOneRowPerLayerAndTheTotals() throws {
        let run = strata("check", alexnet)
        #expect(run.status == 0)
        #expect(run.errors.isEmpty)
        try expectGolden(run.output.replacingOccurrences(of: packageRoot + "/", with: ""), "alexnet.check.txt")
        #expect(run.output.contains("conv1  conv     96×55×55     290,400      34,944    105,415,200"))
        #expect(run.output.contains("total                      1,931,344  60,965,224    724,406,816"))
    }

    @Test func checkJSONHasTheDocumentedFields() throws {
        let run = strata("check", alexnet, "--json", "--batch", "32")
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "alexnet")
        #expect(object["input"] as? [Int] == [3, 227, 227])
        #expect(object["params"] as? Int == 60_965_224)
        #expect(object["macs"] as? Int == 724_406_816)
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.count == 23)
        #expect(Set(layers[0].keys) == ["name", "op", "output", "neurons", "params", "macs"])
        #expect(layers[0]["output"] as? [Int] == [96, 55, 55])
        #expect(layers.last?["output"] as? [Int] == [1000])
        #expect(object["activation_bytes"] as? Int == (1_931_344 + 3 * 227 * 227) * 32 * 4)
        #expect(run.output.hasPrefix(#"{"name": "alexnet", "input": [3, 227, 227], "layers": [{"name": "conv1", "op": "conv", "output""#))
    }

    @Test func checkReportsSpecErrorsWithExitOne() throws {
        let directory = NSTemporaryDirectory() + "strata-check-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.yaml"
        try "name: bad\ninput: {channels: 1, height: 8, width: 8}\nlayers:\n  - {name: a, op: covn}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = strata("check", path)
        #expect(run.status == 1)
        #expect(run.output.isEmpty)
        #expect(run.errors == """
            \(path):4:19: error: unknown op 'covn' in layer 'a'
                - {name: a, op: covn}
                                ^
            \(path):4:19: note: did you mean 'conv'?
            note: ops are 'conv', 'maxpool', 'avgpool', 'lrn', 'relu', 'tanh', 'dropout', 'fc', 'concat', 'softmax'

            """)
    }

    @Test(arguments: [
        ["check"], ["check", "a.yaml", "--batch", "0"], ["check", "a.yaml", "--bogus"], ["frobnicate"],
        ["compile", "a.yaml", "--stop-after", "plan9"], ["compile", "a.yaml", "--stop-after", "spec", "--emit", "dot"],
    ])
    func usageErrorsExitTwo(arguments: [String]) {
        let run = strata(arguments)
        #expect(run.status == 2)
        #expect(!run.errors.isEmpty)
    }

    @Test func missingFilesExitOne() {
        let run = strata("check", "/nonexistent/net.yaml")
        #expect(run.status == 1)
        #expect(run.errors == "error: cannot read spec '/nonexistent/net.yaml': No such file or directory\n")
    }

    @Test func helpExitsZero() {
        let run = strata("check", "--help")
        #expect(run.status == 0)
        #expect(run.output.contains("USAGE: strata check <spec>"))
    }

    @Test func compileStopsAfterEachStage() throws {
        func relative(_ s: String) -> String { s.replacingOccurrences(of: packageRoot + "/", with: "") }
        let variant = packageRoot + "/networks/variants/alexnet-no-fc6-7.yaml"
        let spec = strata("compile", variant, "--stop-after", "spec")
        #expect(spec.status == 0)
        try expectGolden(relative(spec.output), "alexnet-no-fc6-7.spec.yaml")
        let ir = strata("compile", packageRoot + "/networks/zfnet.yaml", "--stop-after", "ir")
        try expectGolden(ir.output, "zfnet.ir.txt")
        #expect(!ir.output.contains("(N, 96, 110, 110)"))
        let shaped = strata("compile", packageRoot + "/networks/zfnet.yaml")
        try expectGolden(shaped.output, "zfnet.shapes.txt")
        let dot = strata("compile", packageRoot + "/networks/zfnet-mini.yaml", "--emit", "dot")
        try expectGolden(dot.output, "zfnet-mini.dot")
    }

    /// The resolved spec printed by `--stop-after spec` is itself a spec that compiles to the same graph.
    @Test func resolvedSpecsRoundTrip() throws {
        let directory = NSTemporaryDirectory() + "strata-roundtrip-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["variants/alexnet-no-conv3-4", "variants/zfnet-conv512-1024-512-fc8192", "alexnet-mini-cifar"] {
            let original = packageRoot + "/networks/\(name).yaml"
            let resolved = strata("compile", original, "--stop-after", "spec").output
            let copy = directory + "/resolved.yaml"
            try resolved.write(toFile: copy, atomically: true, encoding: .utf8)
            #expect(strata("compile", copy).output == strata("compile", original).output, "\(name)")
            #expect(strata("compile", copy, "--stop-after", "spec").output.contains("name: "))
        }
    }

    @Test func theExecutableExitsWithTheSameCodes() throws {
        #expect(try strataProcess(["check", "networks/zfnet.yaml"]).status == 0)
        let bad = try strataProcess(["check", "networks/nope.yaml"])
        #expect(bad.status == 1)
        #expect(bad.errors.contains("error: cannot read spec 'networks/nope.yaml'"))
        #expect(try strataProcess(["check"]).status == 2)
        let table = try strataProcess(["check", "networks/alexnet.yaml"])
        #expect(table.output.hasPrefix("alexnet (networks/alexnet.yaml): input 3×227×227\n"))
    }
}
