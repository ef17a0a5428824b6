import StrataDiagnostics
@testable import StrataSpec
import Testing

@Suite("Spec documents and variants")
struct VariantTests {
    @Test func parsesLayersInOrderWithLocations() throws {
        let spec = try load(["tiny.yaml": tiny], "tiny.yaml")
        #expect(spec.name.value == "tiny")
        #expect(spec.input.channels.value == 1 && spec.input.height.value == 8)
        #expect(spec.layers.map(\.name.value) == ["c1", "r1", "c2", "r2", "f"])
        #expect(spec.layers[0].op.location == SourceLocation(file: "tiny.yaml", line: 4, column: 20))
        #expect(spec.layers[0].attributes.map(\.key) == ["filters", "kernel"])
        #expect(spec.layers[0].from == nil)
        #expect(spec.chain == ["tiny.yaml"])
    }

    @Test func fromTakesANameOrAList() throws {
        let text = tiny + "  - {name: j, op: concat, from: [c1, c2]}\n  - {name: k, op: relu, from: input}\n"
        let spec = try load(["t.yaml": text], "t.yaml")
        #expect(spec.layers[5].from?.map(\.value) == ["c1", "c2"] && spec.layers[5].fromIsList)
        #expect(spec.layers[6].from?.map(\.value) == ["input"] && !spec.layers[6].fromIsList)
    }

    @Test func topLevelKeysOfAVariantReplaceTheBase() throws {
        let files = ["nets/tiny.yaml": tiny,
                     "nets/v/wide.yaml": "base: ../tiny.yaml\nname: wide\ninput: {channels: 3, height: 16, width: 16}\n"]
        let spec = try load(files, "nets/v/wide.yaml")
        #expect(spec.name.value == "wide")
        #expect(spec.input.channels.value == 3)
        #expect(spec.input.channels.location.file == "nets/v/wide.yaml")
        #expect(spec.layers.count == 5)
        #expect(spec.layers[0].name.location.file == "nets/tiny.yaml")
        #expect(spec.chain == ["nets/v/wide.yaml", "nets/tiny.yaml"])
    }

    @Test func removeLetsTheNextLayerReadWhatTheRemovedOneRead() throws {
        let files = ["tiny.yaml": tiny, "v.yaml": "base: tiny.yaml\nremove: [c2, r2]\n"]
        let spec = try load(files, "v.yaml")
        #expect(spec.layers.map(\.name.value) == ["c1", "r1", "f"])
        #expect(spec.layers[2].from == nil)   // reads r1, the previous layer
    }

    @Test func removeRewritesExplicitReferences() throws {
        let base = tiny + "  - {name: g, op: relu, from: r2}\n  - {name: j, op: concat, from: [r2, r1]}\n"
        let files = ["b.yaml": base, "v.yaml": "base: b.yaml\nremove: [r2]\n"]
        let spec = try load(files, "v.yaml")
        #expect(spec.layers.first { $0.name.value == "g" }?.from?.map(\.value) == ["c2"])
        #expect(spec.layers.first { $0.name.value == "j" }?.from?.map(\.value) == ["c2", "r1"])
    }

    @Test func removingALayerWithAnExplicitInputMakesTheNextOneExplicit() throws {
        let base = tiny + "  - {name: side, op: relu, from: r1}\n  - {name: after, op: relu}\n"
        let spec = try load(["b.yaml": base, "v.yaml": "base: b.yaml\nremove: [side]\n"], "v.yaml")
        let after = try #require(spec.layers.first { $0.name.value == "after" })
        #expect(after.from?.map(\.value) == ["r1"])
        #expect(after.from?.first?.location.file == "v.yaml")
    }

    @Test func setChangesAddsAndRemovesAttributes() throws {
        let v = "base: tiny.yaml\nset:\n  c1: {filters: 16, stride: 2, kernel: ~}\n  f: {units: 7}\n"
        let spec = try load(["tiny.yaml": tiny, "v.yaml": v], "v.yaml")
        let c1 = spec.layers[0].attributes
        #expect(c1.map(\.key) == ["filters", "stride"])
        #expect(c1[key: "filters"]?.value.scalar == "16")
        #expect(c1[key: "filters"]?.value.location.file == "v.yaml")
        #expect(spec.layers[4].attributes[key: "units"]?.value.scalar == "7")
    }

    @Test func insertPlacesLayersAfterANameOrAtTheStart() throws {
        let v = """
            base: tiny.yaml
            insert:
              - after: r1
                layers:
                  - {name: n1, op: lrn}
                  - {name: p1, op: maxpool, kernel: 2}
              - {after: input, layers: [{name: first, op: relu}]}

            """
        let spec = try load(["tiny.yaml": tiny, "v.yaml": v], "v.yaml")
        #expect(spec.layers.map(\.name.value) == ["first", "c1", "r1", "n1", "p1", "c2", "r2", "f"])
    }

    @Test func variantsOfVariantsResolveInOrder() throws {
        let files = ["a.yaml": tiny,
                     "b.yaml": "base: a.yaml\nname: b\nset: {f: {units: 3}}\n",
                     "c.yaml": "base: b.yaml\nname: c\nremove: [r2]\n"]
        let spec = try load(files, "c.yaml")
        #expect(spec.name.value == "c")
        #expect(spec.layers.map(\.name.value) == ["c1", "r1", "c2", "f"])
        #expect(spec.layers[3].attributes[key: "units"]?.value.scalar == "3")
        #expect(spec.chain == ["c.yaml", "b.yaml", "a.yaml"])
    }

    @Test func removingALayerDropsItsInitOverride() throws {
        let base = tiny + "training:\n  init: {layers: {c2: {bias: 1}, f: {std: 0.1}}}\n"
        let spec = try load(["b.yaml": base, "v.yaml": "base: b.yaml\nremove: [c2]\n"], "v.yaml")
        #expect(spec.training?.initialization.layers.keys.sorted() == ["f"])
    }

    @Test func cyclesAreErrors() {
        let files = ["a.yaml": "base: b.yaml\n", "b.yaml": "base: ./a.yaml\n"]
        #expect(errors(files, "a.yaml") == ["b.yaml:1:7: 'base' makes a cycle: a.yaml → b.yaml → a.yaml"])
        #expect(errors(["s.yaml": "base: s.yaml\n"], "s.yaml") == ["s.yaml:1:7: 'base' makes a cycle: s.yaml → s.yaml"])
    }

    @Test func missingBaseIsAnErrorAtTheBaseKey() {
        #expect(errors(["v.yaml": "name: v\nbase: gone.yaml\n"], "v.yaml")
                == ["v.yaml:2:7: cannot read base spec 'gone.yaml': No such file or directory"])
    }

    @Test func missingFileIsAnUnlocatedError() {
        #expect(errors([:], "nope.yaml") == ["-: cannot read spec 'nope.yaml': No such file or directory"])
    }

    @Test func variantOperationsOnUnknownLayersAreErrors() {
        let v = "base: tiny.yaml\nremove: [c3]\nset: {cc1: {filters: 2}}\ninsert: [{after: r9, layers: []}]\n"
        #expect(errors(["tiny.yaml": tiny, "v.yaml": v], "v.yaml") == [
            "v.yaml:2:10: cannot remove 'c3': the base has no layer of that name",
            "v.yaml:3:7: cannot set attributes of 'cc1': there is no layer of that name",
            "v.yaml:4:18: cannot insert after 'r9': there is no layer of that name",
        ])
    }

    @Test func variantOperationsNeedABase() {
        #expect(errors(["t.yaml": tiny + "remove: [c1]\n"], "t.yaml") == ["t.yaml:9:1: 'remove' changes a base spec, but this spec has no 'base'"])
    }

    @Test func pathsNormalise() {
        #expect(Path.normalize("networks/variants/../alexnet.yaml") == "networks/alexnet.yaml")
        #expect(Path.normalize("./a/./b") == "a/b")
        #expect(Path.normalize("../x/../y") == "../y")
        #expect(Path.normalize("/a/../../b") == "/b")
        #expect(Path.join(Path.directory(of: "a.yaml"), "b.yaml") == "b.yaml")
        #expect(Path.join(Path.directory(of: "/n/a.yaml"), "../b.yaml") == "/n/../b.yaml")
    }
}

@Suite("Training section")
struct TrainingSpecTests {
    @Test func readsEverySetting() throws {
        let text = tiny + """
            training:
              batch: 64
              epochs: 30
              optimizer: {type: sgd, lr: 0.02, momentum: 0.8, weight_decay: 0.001}
              schedule: {type: step, factor: 0.5, epochs: [10, 20]}
              init: {std: 0.02, bias: 0.5, layers: {c1: {bias: 1}, f: {std: 0.005}}}
              filter_rms_clip: 0.1
              augment: {crop: [6, 7], flip: true, pca_color: 0.1}

            """
        let t = try #require(try load(["t.yaml": text], "t.yaml").training)
        #expect(t.batch == 64 && t.epochs == 30)
        #expect(t.optimizer == .init(type: "sgd", learningRate: 0.02, momentum: 0.8, weightDecay: 0.001))
        #expect(t.schedule == .step(factor: 0.5, epochs: [10, 20]))
        #expect(t.initialization.std == 0.02 && t.initialization.bias == 0.5)
        #expect(t.initialization.layers["c1"] == .init(std: nil, bias: 1))
        #expect(t.initialization.layers["f"] == .init(std: 0.005, bias: nil))
        #expect(t.filterRMSClip == 0.1)
        #expect(t.augment.crop?.0 == 6 && t.augment.crop?.1 == 7 && t.augment.flip && t.augment.pcaColor == 0.1)
    }

    @Test func defaultsFillTheRest() throws {
        let t = try #require(try load(["t.yaml": tiny + "training: {optimizer: {lr: 0.1}, schedule: {type: plateau}}\n"], "t.yaml").training)
        #expect(t.batch == 128 && t.optimizer.momentum == 0.9 && t.optimizer.weightDecay == 0.0005)
        #expect(t.schedule == .plateau(factor: 0.1, patience: 1))
        #expect(t.filterRMSClip == nil && t.augment == TrainingSpec.Augment())
    }

    @Test func everyWrongSettingIsReported() {
        let text = tiny + """
            training:
              batch: 0
              optimizer: {type: adam, lr: -1}
              schedule: {type: step, epochs: [20, 10]}
              init: {layers: {nope: {bias: 1}}}
              augment: {flip: maybe, crop: 0}
              epoch: 3

            """
        #expect(errors(["t.yaml": text], "t.yaml") == [
            "t.yaml:10:10: 'batch' of 'training' must be between 1 and 1048576, got 0",
            "t.yaml:11:21: 'type' of 'optimizer' of 'training' must be one of 'sgd', got 'adam'",
            "t.yaml:11:31: 'lr' of 'optimizer' of 'training' must be in [0, 1000000], got -1",
            "t.yaml:12:34: 'epochs' of 'schedule' of 'training' must be increasing, got [20, 10]",
            "t.yaml:14:19: 'flip' of 'augment' of 'training' must be true or false, got 'maybe'",
            "t.yaml:14:32: 'crop' of 'augment' of 'training' must be between 1 and 65536, got 0",
            "t.yaml:15:3: unknown key 'epoch' in 'training'",
        ])
    }

    @Test func initOverridesMustNameLayers() {
        let text = tiny + "training: {init: {layers: {c3: {bias: 1}}}}\n"
        #expect(errors(["t.yaml": text], "t.yaml") == ["t.yaml:9:28: init override names 'c3', which is not a layer"])
    }
}

extension Array where Element == String {
    /// Sorts `file:line:col: message` strings by line then column, as diagnostics are reported.
    func sortedByPlace() -> [String] {
        sorted { a, b in
            func key(_ s: String) -> (Int, Int) {
                let parts = s.split(separator: ":")
                return (Int(parts[1]) ?? 0, Int(parts[2]) ?? 0)
            }
            return key(a) < key(b)
        }
    }
}
