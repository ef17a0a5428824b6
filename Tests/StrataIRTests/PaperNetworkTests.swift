import StrataDiagnostics
@testable import StrataIR
import Testing

@Suite("Paper networks")
struct PaperNetworkTests {
    @Test func alexNetMatchesThePaper() throws {
        let g = try compileShipped("networks/alexnet.yaml")
        let s = NetworkSummary(g)
        let outputs = s.rows.filter { $0.op == "conv" || $0.op == "fc" }.map(\.output.dims)
        #expect(outputs == [[96, 55, 55], [256, 27, 27], [384, 13, 13], [384, 13, 13], [256, 13, 13], [4096], [4096], [1000]])
        let neurons = s.rows.filter { $0.op == "conv" || $0.op == "fc" }.map(\.neurons)
        // The paper's counts for layers 2–8; its layer-1 figure (253,440) is a known inconsistency: 55·55·96 = 290,400.
        #expect(neurons == [290_400, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000])
        #expect(s.totalParameters == 60_965_224)
        #expect(s.totalMultiplyAdds == 724_406_816)
        #expect(g.input.dims == [3, 227, 227])
    }

    @Test func zfNetMatchesThePaper() throws {
        let g = try compileShipped("networks/zfnet.yaml")
        let s = NetworkSummary(g)
        #expect(shapes(g)["conv1"] == [96, 110, 110])
        #expect(shapes(g)["pool1"] == [96, 55, 55])
        #expect(shapes(g)["conv2"] == [256, 26, 26])
        #expect(shapes(g)["pool2"] == [256, 13, 13])
        #expect(shapes(g)["conv5"] == [256, 13, 13])
        #expect(shapes(g)["pool5"] == [256, 6, 6])
        #expect(s.rows.filter { $0.op == "fc" }.map(\.output.dims) == [[4096], [4096], [1000]])
        #expect(s.totalParameters == 62_357_608)
        #expect(s.totalMultiplyAdds == 1_168_032_896)
    }

    @Test func zfNetMiniMatchesTheReferenceNetwork() throws {
        let s = NetworkSummary(try compileShipped("networks/zfnet-mini.yaml"))
        #expect(s.totalParameters == 645_258)
        #expect(s.totalMultiplyAdds == 16_645_632)
        #expect(s.rows.map(\.op) == ["conv", "relu", "maxpool", "lrn", "conv", "relu", "maxpool", "lrn",
                                     "conv", "relu", "conv", "relu", "conv", "relu", "maxpool",
                                     "fc", "relu", "dropout", "fc", "relu", "dropout", "fc", "softmax"])
    }

    @Test func alexNetMiniKeepsAlexNetsOrderAndGroups() throws {
        let g = try compileShipped("networks/alexnet-mini.yaml")
        #expect(Array(g.nodes.prefix(4).map(\.op)) == ["conv", "relu", "lrn", "maxpool"])
        let groups = g.nodes.compactMap { node -> Int? in if case .conv(let c) = node.layer { return c.groups }; return nil }
        #expect(groups == [1, 2, 1, 2, 2])
        #expect(g.input.dims == [1, 28, 28])
    }

    @Test func colourVariantsTakeCIFARImages() throws {
        for name in ["zfnet-mini-cifar", "alexnet-mini-cifar"] {
            let g = try compileShipped("networks/\(name).yaml")
            #expect(g.input.dims == [3, 32, 32])
            #expect(g.nodes.last?.shape?.dims == [10])
        }
    }

    /// The rows of the ZF paper's Table 3, as variants of the two base networks.
    @Test(arguments: [
        ("alexnet-no-conv3-4", [[96, 55, 55], [256, 27, 27], [256, 13, 13], [4096], [4096], [1000]]),
        ("alexnet-no-fc7", [[96, 55, 55], [256, 27, 27], [384, 13, 13], [384, 13, 13], [256, 13, 13], [4096], [1000]]),
        ("alexnet-no-fc6-7", [[96, 55, 55], [256, 27, 27], [384, 13, 13], [384, 13, 13], [256, 13, 13], [1000]]),
        ("alexnet-no-conv3-4-fc6-7", [[96, 55, 55], [256, 27, 27], [256, 13, 13], [1000]]),
        ("alexnet-fc2048", [[96, 55, 55], [256, 27, 27], [384, 13, 13], [384, 13, 13], [256, 13, 13], [2048], [2048], [1000]]),
        ("alexnet-fc8192", [[96, 55, 55], [256, 27, 27], [384, 13, 13], [384, 13, 13], [256, 13, 13], [8192], [8192], [1000]]),
        ("zfnet-fc2048", [[96, 110, 110], [256, 26, 26], [384, 13, 13], [384, 13, 13], [256, 13, 13], [2048], [2048], [1000]]),
        ("zfnet-fc8192", [[96, 110, 110], [256, 26, 26], [384, 13, 13], [384, 13, 13], [256, 13, 13], [8192], [8192], [1000]]),
        ("zfnet-conv512-1024-512", [[96, 110, 110], [256, 26, 26], [512, 13, 13], [1024, 13, 13], [512, 13, 13], [4096], [4096], [1000]]),
        ("zfnet-conv512-1024-512-fc8192", [[96, 110, 110], [256, 26, 26], [512, 13, 13], [1024, 13, 13], [512, 13, 13], [8192], [8192], [1000]]),
    ])
    func ablationVariants(name: String, weighted: [[Int]]) throws {
        let g = try compileShipped("networks/variants/\(name).yaml")
        #expect(g.name == name)
        #expect(g.nodes.filter { $0.op == "conv" || $0.op == "fc" }.map { $0.shape?.dims ?? [] } == weighted)
    }

    @Test func removedLayersAreBridged() throws {
        let g = try compileShipped("networks/variants/alexnet-no-fc6-7.yaml")
        let fc8 = try #require(g.node(named: "fc8"))
        #expect(fc8.inputs.map { g.name(of: $0) } == ["pool5"])
        let conv5 = try #require(try compileShipped("networks/variants/alexnet-no-conv3-4.yaml").node(named: "conv5"))
        #expect(conv5.inputs.count == 1)
    }

    @Test func everyShippedSpecChecksCleanAndVerifies() throws {
        let specs = shippedSpecs()
        #expect(specs.count >= 16)
        for path in specs {
            let g = try compileShipped(path)
            #expect(Verifier.verify(g, shapes: true).isEmpty, "\(path)")
            #expect(g.nodes.last?.op == "softmax", "\(path) ends in softmax")
        }
    }
}
