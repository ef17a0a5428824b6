import StrataDiagnostics

/// The resolved spec as YAML: what `strata compile --stop-after spec` prints. Stable and diffable:
/// keys in a fixed order, one layer per line in flow style, the training section with every default
/// filled in.
public enum SpecPrinter {
    public static func print(_ spec: NetworkSpec) -> String {
        var out = ""
        if spec.chain.count > 1 {
            out += "# resolved from \(spec.chain.joined(separator: " ← "))\n"
        }
        out += "name: \(scalar(spec.name.value, plain: false))\n"
        if let d = spec.description { out += "description: \(scalar(d, plain: false))\n" }
        out += "input: {channels: \(spec.input.channels.value), height: \(spec.input.height.value), width: \(spec.input.width.value)}\n"
        out += "layers:\n"
        for layer in spec.layers {
            var fields = ["name: \(scalar(layer.name.value, plain: false))", "op: \(scalar(layer.op.value, plain: false))"]
            if let from = layer.from {
                let names = from.map { scalar($0.value, plain: false) }
                fields.append("from: " + (layer.fromIsList ? "[\(names.joined(separator: ", "))]" : names[0]))
            }
            for entry in layer.attributes {
                fields.append("\(scalar(entry.key, plain: false)): \(flow(entry.value))")
            }
            out += "  - {\(fields.joined(separator: ", "))}\n"
        }
        if let t = spec.training { out += training(t) }
        return out
    }

    static func training(_ t: TrainingSpec) -> String {
        var out = "training:\n"
        out += "  batch: \(t.batch)\n  epochs: \(t.epochs)\n"
        let o = t.optimizer
        out += "  optimizer: {type: \(o.type), lr: \(number(o.learningRate)), momentum: \(number(o.momentum)), weight_decay: \(number(o.weightDecay))}\n"
        switch t.schedule {
        case .constant: out += "  schedule: {type: constant}\n"
        case let .step(factor, epochs): out += "  schedule: {type: step, factor: \(number(factor)), epochs: [\(epochs.map(String.init).joined(separator: ", "))]}\n"
        case let .plateau(factor, patience): out += "  schedule: {type: plateau, factor: \(number(factor)), patience: \(patience)}\n"
        }
        let i = t.initialization
        var initFields = ["std: \(number(i.std))", "bias: \(number(i.bias))"]
        if !i.layers.isEmpty {
            let overrides = i.layers.keys.sorted().map { name -> String in
                let o = i.layers[name]!
                let parts = [o.std.map { "std: \(number($0))" }, o.bias.map { "bias: \(number($0))" }].compactMap { $0 }
                return "\(name): {\(parts.joined(separator: ", "))}"
            }
            initFields.append("layers: {\(overrides.joined(separator: ", "))}")
        }
        out += "  init: {\(initFields.joined(separator: ", "))}\n"
        if let clip = t.filterRMSClip { out += "  filter_rms_clip: \(number(clip))\n" }
        let a = t.augment
        var aug: [String] = []
        if let c = a.crop { aug.append(c.0 == c.1 ? "crop: \(c.0)" : "crop: [\(c.0), \(c.1)]") }
        aug.append("flip: \(a.flip)")
        aug.append("pca_color: \(number(a.pcaColor))")
        out += "  augment: {\(aug.joined(separator: ", "))}\n"
        if !t.freeze.isEmpty { out += "  freeze: [\(t.freeze.map(\.value).joined(separator: ", "))]\n" }
        if let w = t.weights { out += "  weights: \(scalar(w.value, plain: false))\n" }
        return out
    }

    /// A node in YAML flow style.
    public static func flow(_ node: SpecNode) -> String {
        switch node.kind {
        case let .scalar(s, plain): return scalar(s, plain: plain)
        case let .sequence(items): return "[" + items.map(flow).joined(separator: ", ") + "]"
        case let .mapping(entries): return "{" + entries.map { "\(scalar($0.key, plain: false)): \(flow($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// A scalar as YAML: bare when that reads back as the same value, double-quoted otherwise.
    public static func scalar(_ s: String, plain: Bool) -> String {
        let safe = !s.isEmpty && s.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "_.-+".unicodeScalars.contains($0)
        } && !s.hasPrefix("-") || (plain && !s.isEmpty && s.unicodeScalars.first.map { ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "." } == true
                                   && s.unicodeScalars.allSatisfy { ($0 >= "0" && $0 <= "9") || "-+.eE".unicodeScalars.contains($0) })
        // A string that looks like a number, boolean or null must stay quoted to stay a string.
        let looksTyped = Double(s) != nil || ["true", "false", "True", "False", "TRUE", "FALSE", "null", "Null", "NULL", "~"].contains(s)
        if safe && (plain || !looksTyped) { return s }
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7F { out += "\\x" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        return "\(x)"
    }
}
