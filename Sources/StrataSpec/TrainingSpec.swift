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

    /// Decodes and validates the section; errors go to `bag`.
    static func decode(_ node: SpecNode, bag: inout DiagnosticBag) -> TrainingSpec {
        var r = AttributeReader(node: node, owner: "'training'")
        let t = read(&r, at: node.location)
        r.finish()
        bag.append(contentsOf: r.bag.diagnostics)
        return t
    }

    /// The section's keys, recorded from `read`: the `training` definition of `strata schema`.
    public static var schema: SchemaObject {
        var r = AttributeReader(recordingSchemaAs: "'training'")
        _ = read(&r, at: r.location)
        r.finish()
        return r.schema ?? SchemaObject()
    }

    /// Reads every key of the section (the caller finishes the reader).
    static func read(_ r: inout AttributeReader, at location: SourceLocation) -> TrainingSpec {
        var t = TrainingSpec(location: location)
        t.batch = r.int("batch", default: 128, in: 1...1_048_576, doc: "images per step") ?? t.batch
        t.epochs = r.int("epochs", default: 10, in: 1...1_000_000, doc: "passes over the training set") ?? t.epochs
        if var o = r.mapping("optimizer", doc: "the optimizer; `lr` is required when it is written") {
            t.optimizer.type = o.string("type", default: "sgd", oneOf: ["sgd"], doc: "stochastic gradient descent with momentum")?.value ?? "sgd"
            t.optimizer.learningRate = o.double("lr", in: 0...1e6, doc: "the learning rate") ?? t.optimizer.learningRate
            t.optimizer.momentum = o.double("momentum", default: 0.9, in: 0...1, openUpper: true, doc: "momentum, in [0, 1)") ?? t.optimizer.momentum
            t.optimizer.weightDecay = o.double("weight_decay", default: 0.0005, in: 0...1e6, doc: "L2 weight decay (weights, not biases)")
                ?? t.optimizer.weightDecay
            o.finish()
            r.merge(o)
        }
        if var s = r.mapping("schedule", doc: "how the learning rate changes; constant when absent") {
            t.schedule = s.variant("type", doc: "the rule", [
                VariantCase("constant", doc: "the learning rate never changes") { _ in .constant },
                VariantCase("step", doc: "multiply the rate by `factor` at each epoch listed in `epochs`") { s in
                    let factor = s.double("factor", default: 0.1, in: 0...1, openUpper: true, doc: "what the rate is multiplied by, in [0, 1)") ?? 0.1
                    let epochs = s.intList("epochs", in: 1...1_000_000, doc: "the epochs after which the rate drops, increasing") ?? []
                    if zip(epochs, epochs.dropFirst()).contains(where: { $0 >= $1 }) {
                        s.report("'epochs' of \(s.owner) must be increasing, got \(epochs)", at: s.location(of: "epochs"))
                    }
                    return .step(factor: factor, epochs: epochs)
                },
                VariantCase("plateau", doc: "multiply the rate by `factor` when the validation error has not improved for `patience` epochs (the AlexNet rule)") { s in
                    let factor = s.double("factor", default: 0.1, in: 0...1, openUpper: true, doc: "what the rate is multiplied by, in [0, 1)") ?? 0.1
                    let patience = s.int("patience", default: 1, in: 1...1_000_000, doc: "epochs without improvement before the rate drops") ?? 1
                    return .plateau(factor: factor, patience: patience)
                },
            ]) ?? .constant
            s.finish(extraCandidates: ["factor", "epochs", "patience"])
            r.merge(s)
        }
        if var i = r.mapping("init", doc: "initialisation: weights N(0, std²), biases constant, with per-layer overrides") {
            t.initialization.std = i.double("std", default: 0.01, in: 0...1e3, doc: "standard deviation of the weights") ?? 0.01
            t.initialization.bias = i.double("bias", default: 0, in: -1e6...1e6, doc: "the biases' starting value") ?? 0
            i.namedMappings("layers", owner: { "init override for '\($0)'" }, doc: "overrides by layer name") { name, l in
                let o = LayerOverride(std: l.double("std", optional: true, in: 0...1e3, doc: "this layer's weight standard deviation"),
                                      bias: l.double("bias", optional: true, in: -1e6...1e6, doc: "this layer's starting bias"))
                t.initialization.layers[name.value] = o
                t.initialization.layerLocations[name.value] = name.location
            }
            i.finish()
            r.merge(i)
        }
        t.filterRMSClip = r.double("filter_rms_clip", optional: true, in: 1e-12...1e6,
                                   doc: "ZF's feature-scale clipping: after each update, a conv filter whose RMS exceeds this is scaled back to it")
        if var a = r.mapping("augment", doc: "data augmentation") {
            t.augment.crop = a.pair("crop", optional: true, in: 1...65_536, doc: "random crops of this size (`224` or `[h, w]`); none when absent")
            t.augment.flip = a.bool("flip", default: false, doc: "random horizontal flips") ?? false
            t.augment.pcaColor = a.double("pca_color", default: 0, in: 0...10, doc: "standard deviation of the PCA colour noise's α (the paper: 0.1); 0 turns it off") ?? 0
            a.finish()
            r.merge(a)
        }
        t.weights = r.string("weights", optional: true,
                             doc: "pretrained weights (a .safetensors of weights or a checkpoint, relative to the spec's folder) loaded into the layers they fit by name")
        t.freeze = r.layerNames("freeze", doc: "layers whose weights stay as initialised or loaded (no gradient, update or momentum)") ?? []
        return t
    }
}
