import StrataDiagnostics

/// The `training:` section: how the training command trains this network. Parsed and validated with
/// the spec; used by `strata train`.
///
///     training:
///       batch: 128
///       epochs: 90
///       optimizer: {type: sgd, lr: 0.01, momentum: 0.9, weight_decay: 0.0005}
///       schedule: {type: step, factor: 0.1, epochs: [30, 60]}   # or {type: plateau, factor: 0.1, patience: 1}
///       init: {std: 0.01, bias: 0, layers: {conv2: {bias: 1}}}
///       filter_rms_clip: 0.1
///       augment: {crop: 224, flip: true, pca_color: 0.1}
public struct TrainingSpec: Sendable {
    public var batch: Int = 128
    public var epochs: Int = 10
    public var optimizer = Optimizer()
    public var schedule: Schedule = .constant
    public var initialization = Initialization()
    /// ZF's feature-scale clipping: after each update, a conv filter whose RMS exceeds this is scaled back to it.
    public var filterRMSClip: Double?
    public var augment = Augment()
    /// Layers whose weights stay as loaded (transfer with frozen features): no gradient where nothing
    /// below needs one, no update, no momentum.
    public var freeze: [Located<String>] = []
    /// Pretrained weights (a .safetensors file of weights or a checkpoint) that initialise the layers
    /// they fit by name; relative paths are relative to the spec's folder. `train --init-from` overrides it.
    public var weights: Located<String>?
    public var location: SourceLocation

    public struct Optimizer: Sendable, Equatable {
        public var type = "sgd"
        public var learningRate = 0.01
        public var momentum = 0.9
        public var weightDecay = 0.0005

        public init(type: String = "sgd", learningRate: Double = 0.01, momentum: Double = 0.9, weightDecay: Double = 0.0005) {
            self.type = type
            self.learningRate = learningRate
            self.momentum = momentum
            self.weightDecay = weightDecay
        }
    }

    public enum Schedule: Sendable, Equatable {
        /// The learning rate never changes.
        case constant
        /// Multiply by `factor` at each listed epoch.
        case step(factor: Double, epochs: [Int])
        /// Multiply by `factor` when validation error has not improved for `patience` epochs (the AlexNet rule).
        case plateau(factor: Double, patience: Int)
    }

    public struct Initialization: Sendable {
        /// Weights ~ N(0, std²).
        public var std = 0.01
        /// Biases start at this constant.
        public var bias = 0.0
        /// Per-layer overrides, by layer name.
        public var layers: [String: LayerOverride] = [:]
        public var layerLocations: [String: SourceLocation] = [:]

        public init() {}
    }

    public struct LayerOverride: Sendable, Equatable {
        public var std: Double?
        public var bias: Double?

        public init(std: Double? = nil, bias: Double? = nil) {
            self.std = std
            self.bias = bias
        }
    }

    public struct Augment: Sendable, Equatable {
        /// Random crops of this size (the paper's translations); nil: no cropping.
        public var crop: (Int, Int)? = nil
        public var flip = false
        /// Standard deviation of the PCA colour augmentation's α (the paper: 0.1); 0 turns it off.
        public var pcaColor = 0.0

        public init() {}

        public static func == (a: Augment, b: Augment) -> Bool {
            a.crop?.0 == b.crop?.0 && a.crop?.1 == b.crop?.1 && a.flip == b.flip && a.pcaColor == b.pcaColor
        }
    }

    public init(location: SourceLocation) {
        self.location = location
    }

    static let keys = ["batch", "epochs", "optimizer", "schedule", "init", "filter_rms_clip", "augment", "freeze", "weights"]

    /// Decodes and validates the section; errors go to `bag`.
    static func decode(_ node: SpecNode, bag: inout DiagnosticBag) -> TrainingSpec {
        var t = TrainingSpec(location: node.location)
        var r = AttributeReader(node: node, owner: "'training'")
        t.batch = r.int("batch", default: 128, in: 1...1_048_576) ?? t.batch
        t.epochs = r.int("epochs", default: 10, in: 1...1_000_000) ?? t.epochs
        if var o = r.mapping("optimizer") {
            t.optimizer.type = o.string("type", default: "sgd", oneOf: ["sgd"])?.value ?? "sgd"
            t.optimizer.learningRate = o.double("lr", in: 0...1e6) ?? t.optimizer.learningRate
            t.optimizer.momentum = o.double("momentum", default: 0.9, in: 0...1, openUpper: true) ?? t.optimizer.momentum
            t.optimizer.weightDecay = o.double("weight_decay", default: 0.0005, in: 0...1e6) ?? t.optimizer.weightDecay
            o.finish()
            r.merge(o)
        }
        if var s = r.mapping("schedule") {
            let type = s.string("type", oneOf: ["constant", "step", "plateau"])?.value
            switch type {
            case "step":
                let factor = s.double("factor", default: 0.1, in: 0...1, openUpper: true) ?? 0.1
                let epochs = s.intList("epochs", in: 1...1_000_000) ?? []
                if zip(epochs, epochs.dropFirst()).contains(where: { $0 >= $1 }) {
                    s.report("'epochs' of \(s.owner) must be increasing, got \(epochs)", at: s.location(of: "epochs"))
                }
                t.schedule = .step(factor: factor, epochs: epochs)
            case "plateau":
                let factor = s.double("factor", default: 0.1, in: 0...1, openUpper: true) ?? 0.1
                let patience = s.int("patience", default: 1, in: 1...1_000_000) ?? 1
                t.schedule = .plateau(factor: factor, patience: patience)
            default:
                t.schedule = .constant
            }
            s.finish(extraCandidates: ["factor", "epochs", "patience"])
            r.merge(s)
        }
        if var i = r.mapping("init") {
            t.initialization.std = i.double("std", default: 0.01, in: 0...1e3) ?? 0.01
            t.initialization.bias = i.double("bias", default: 0, in: -1e6...1e6) ?? 0
            if var layers = i.mapping("layers") {
                for entry in layers.entries {
                    var l = AttributeReader(node: entry.value, owner: "init override for '\(entry.key)'")
                    let o = LayerOverride(std: l.has("std") ? l.double("std", in: 0...1e3) : nil,
                                          bias: l.has("bias") ? l.double("bias", in: -1e6...1e6) : nil)
                    _ = l.node("std"); _ = l.node("bias")
                    l.finish()
                    layers.merge(l)
                    t.initialization.layers[entry.key] = o
                    t.initialization.layerLocations[entry.key] = entry.keyLocation
                }
                i.merge(layers)
            }
            i.finish()
            r.merge(i)
        }
        if r.has("filter_rms_clip") {
            t.filterRMSClip = r.double("filter_rms_clip", in: 1e-12...1e6)
        } else {
            _ = r.node("filter_rms_clip")
        }
        if var a = r.mapping("augment") {
            t.augment.crop = a.has("crop") ? a.pair("crop", in: 1...65_536) : { _ = a.node("crop"); return nil }()
            t.augment.flip = a.bool("flip", default: false) ?? false
            t.augment.pcaColor = a.double("pca_color", default: 0, in: 0...10) ?? 0
            a.finish()
            r.merge(a)
        }
        if r.has("weights") { t.weights = r.string("weights") } else { _ = r.node("weights") }
        t.freeze = r.layerNames("freeze") ?? []
        r.finish()
        bag.append(contentsOf: r.bag.diagnostics)
        return t
    }
}
