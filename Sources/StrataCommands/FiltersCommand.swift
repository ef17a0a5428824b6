import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFigures
import StrataFormats
import StrataIR

/// `strata filters SPEC --weights W --layer conv1 --out DIR`.
struct FiltersCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "A conv layer's filters as a montage (ZF Fig. 6), and the RMS of every filter.",
        discussion: """
            Writes DIR/LAYER.png (or .pdf, .svg: --format): the filters, numbered, 16 across; RGB for 3 \
            input channels, the diverging map for 1, else the RMS over input channels at each tap; each \
            filter on its own range or one shared (--scale, --clip-percentile); one labelled block per \
            group; filters at the clip radius outlined), \
            DIR/LAYER-rms.csv (filter,group,rms,at_clip_radius) and DIR/run.json. With the spec's \
            training.filter_rms_clip, also the fraction of filters at the radius (within 1%).
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights or a checkpoint (.safetensors).")
    var weights: String

    @Option(help: "The conv layer.")
    var layer: String

    @Option(help: "The output folder (created if missing).")
    var out: String

    @OptionGroup var figure: FigureArguments

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            try FileCheck.prepareOutputFolder(out)   // an unusable --out is found before the work
            let node = try CommandSupport.layers(layer, in: graph)[0]
            guard case .conv(let conv) = graph.nodes[node].layer else {
                throw CommandError("'\(layer)' is a \(graph.nodes[node].op) layer; strata filters draws a conv layer's filters")
            }
            let file = try Safetensors.read(path: weights)
            let name = "\(graph.nodes[node].name).weight"
            let dims = graph.namedParameters().first { $0.name == name }!.dims
            if let bad = file.tensors[name]?.values.first(where: { !$0.isFinite }) {
                throw CommandError("\(weights): '\(name)' holds \(bad); weights must be finite numbers (a run that diverged?)")
            }
            guard let tensor = file.tensors[name], tensor.shape == dims else {
                throw CommandError("\(weights) has no \(name) of shape (\(dims.map(String.init).joined(separator: ", "))) for '\(graph.name)'")
            }
            let (f, c, kh, kw) = (dims[0], dims[1], dims[2], dims[3])
            let rms = Filters.rms(tensor.values, filters: f)
            let radius = spec.training?.filterRMSClip
            let drawing = FiltersFigure(network: graph.name, layer: graph.nodes[node].name, weights: weights, weight: tensor.values, filters: f, channels: c,
                                        kernel: (kh, kw), groups: conv.groups, radius: radius, scale: figure.scale, clipPercent: figure.clipPercentile)
            let figurePath = "\(out)/\(graph.nodes[node].name).\(figure.format.fileExtension)"
            try makeDirectory(out)
            try drawing.write(to: figurePath, format: figure.format)
            try AtomicFile.write(Data(Filters.rmsCSV(rms, groups: conv.groups, radius: radius).utf8), to: "\(out)/\(graph.nodes[node].name)-rms.csv")
            try RunRecord.write(to: out, command: "filters", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: weights,
                                parameters: [("layer", graph.nodes[node].name), ("format", figure.format.rawValue), ("scale", figure.scale.rawValue),
                                             ("clip_percentile", "\(figure.clipPercentile)")])
            let mean = rms.reduce(0, +) / Double(max(rms.count, 1))
            var line = "\(graph.nodes[node].name): \(f) filters of \(c)×\(kh)×\(kw) in \(conv.groups) group(s); RMS mean \(String(format: "%.4g", mean)), max \(String(format: "%.4g", rms.max() ?? 0))"
            if let radius {
                let at = rms.filter { $0 >= 0.99 * radius }.count
                line += "; \(at) of \(f) (\(String(format: "%.1f", 100 * Double(at) / Double(f)))%) at the clip radius \(radius)"
            }
            output.write(line + "; wrote \(figurePath)\n")
            return 0
        }
    }
}
