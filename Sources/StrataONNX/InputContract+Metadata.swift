import StrataFormats
import StrataIR

extension ONNXExport.InputContract {
    /// The input contract in one sentence: what to feed the model's `input`.
    public func summary(_ graph: Graph) -> String {
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        let channels = c == 3 ? "channels R, G, B" : c == 1 ? "one grey channel" : "\(c) channels"
        var text = "raw pixels scaled to [0, 1], float32, NCHW (N×\(c)×\(h)×\(w)), \(channels)"
        let cropped = stored.height != h || stored.width != w
        if cropped {
            text += "; each image is first brought to its stored size \(stored.height)×\(stored.width) (resized so the shorter side covers it, "
                + "then centre-cropped), and the model takes its centre \(h)×\(w)"
        }
        text += mean == nil ? "; the model subtracts no mean (\(noMeanReason))"
            : "; the model subtracts the mean image itself (\(meanDescription)\(cropped ? ", its centre \(h)×\(w)" : ""); initializer '\(ONNXExport.meanName)')"
        return text
    }

    /// The `metadata_props`, in a fixed order: the contract in parts a program can read, the
    /// classes, the outputs and where the network came from.
    func metadata(_ graph: Graph, outputs: [Int]) -> [(String, String)] {
        let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
        var props: [(String, String)] = [
            ("strata.input", summary(graph)),
            ("strata.input.layout", "NCHW float32, N×\(c)×\(h)×\(w)"),
            ("strata.input.range", "[0, 1]"),
            ("strata.input.stored_size", "\(stored.channels)×\(stored.height)×\(stored.width)"),
            ("strata.input.crop", stored.height == h && stored.width == w ? "none (stored at the input size)" : "centre \(h)×\(w)"),
            ("strata.input.mean", mean == nil ? "none (\(noMeanReason))" : "subtracted inside the model: \(meanDescription)"),
        ]
        if let classes { props.append(("strata.classes", JSONValue.strings(classes).text(.minimal))) }
        props.append(("strata.outputs", outputs.map { "\(graph.nodes[$0].name) (\(graph.nodes[$0].op)) \(graph.nodes[$0].shape!.batchedDescription)" }
            .joined(separator: ", ")))
        props.append(("strata.network", graph.name))
        props.append(("strata.spec", graph.file))
        return props
    }

    /// Why nothing is subtracted: the input rule's "nothing (--mean none)" without its "nothing".
    private var noMeanReason: String {
        meanDescription.hasPrefix("nothing (") && meanDescription.hasSuffix(")") ? String(meanDescription.dropFirst(9).dropLast()) : meanDescription
    }
}
