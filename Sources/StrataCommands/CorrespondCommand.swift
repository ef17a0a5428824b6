import ArgumentParser
import Foundation
import StrataAnalysis
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataSpec
import StrataTrain

/// `strata correspond SPEC --weights W --input X --regions REGIONS.yaml --layers L5,L7 [--random R] --out DIR`.
struct CorrespondCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "correspond",
        abstract: "Correspondence (ZF Table 1): whether hiding the same part changes different images' features the same way.",
        discussion: """
            REGIONS.yaml names parts, each with one rectangle [row, column, height, width] per image:
            
              parts:
                right_eye: [[10, 4, 6, 6], [11, 5, 6, 6], ...]
                nose: [...]
            
            For a part and a layer, ε_i = features(image i) − features(image i with the part zeroed); the \
            score is the mean over image pairs i < j of the fraction of feature positions where \
            sign(ε_i) ≠ sign(ε_j), ± its standard deviation over pairs (lower: more consistent). The \
            control: --random R rectangles of the same size, each at one random position used in every \
            image, mean ± std over the R draws. Writes DIR/correspondence.csv, DIR/correspondence.md and DIR/run.json.
            """)

    @OptionGroup var network: NetworkArguments

    @Option(help: "Weights or a checkpoint (.safetensors).")
    var weights: String

    @Option(help: "Images: an .npy float32 N×C×H×W, or a folder of PNG/JPEG (in name order).")
    var input: String

    @Option(help: "The parts, with a rectangle per image (YAML).")
    var regions: String

    @Option(help: "Comma-separated layers.")
    var layers: String

    @Option(help: "Random rectangles of each part's size for the control.")
    var random = 10

    @Option(help: "Seed of the random rectangles.")
    var seed: UInt64 = 0

    @Option(help: "Images per run.")
    var batch = 64

    @Option(help: "The output folder (created if missing).")
    var out: String

    func validate() throws {
        guard random >= 0 else { throw ValidationError("--random must be 0 or more") }
        guard batch >= 1, batch <= CommandSupport.maximumBatch else { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
    }

    /// Parts in file order, each with its rectangles; errors located in the file.
    static func parts(_ path: String, images: Int, height: Int, width: Int) throws -> [(String, [[Int]])] {
        let text = String(decoding: try FileCheck.contents(path, mapped: false), as: UTF8.self)
        let root = try YAMLReader.parse(text: text, file: path)
        var bag: [Diagnostic] = []
        guard let parts = root.mapping?.first(where: { $0.key == "parts" })?.value.mapping, !parts.isEmpty else {
            throw DiagnosticError(.error("expected a mapping 'parts:' of part names to lists of [row, column, height, width], one per image", at: root.location))
        }
        var result: [(String, [[Int]])] = []
        for entry in parts {
            guard let list = entry.value.sequence else {
                bag.append(.error("'\(entry.key)' must be a list of [row, column, height, width], one per image", at: entry.value.location)); continue
            }
            if list.count != images {
                bag.append(.error("'\(entry.key)' has \(list.count) rectangles but there are \(images) images; give one per image", at: entry.value.location))
            }
            var rects: [[Int]] = []
            for item in list {
                let numbers = item.sequence?.compactMap { $0.scalar.flatMap(Int.init) } ?? []
                guard numbers.count == 4, item.sequence?.count == 4, numbers[2] >= 1, numbers[3] >= 1, numbers[0] >= 0, numbers[1] >= 0,
                      numbers[0] + numbers[2] <= height, numbers[1] + numbers[3] <= width else {
                    bag.append(.error("expected [row, column, height, width] of whole numbers inside the \(height)×\(width) input", at: item.location))
                    continue
                }
                rects.append(numbers)
            }
            result.append((entry.key, rects))
        }
        if !bag.isEmpty { throw DiagnosticError(bag) }
        return result
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        let progress = AnalysisProgress("correspond: parts", live: errors is StandardStream)
        defer { if !(errors is StandardStream) { errors.write(progress.collected) } }
        return CommandSupport.run(errors: &errors) {
            let nodes = try CommandSupport.layers(layers, in: graph)
            let file = try Safetensors.read(path: weights)
            try Weights.check(file, path: weights, graph: graph)
            let (c, h, w) = (graph.input.channels, graph.input.height, graph.input.width)
            let preprocessing = try Preprocessing.inference(weights: file, path: weights, input: (c, h, w))
            let images = try AnalysisInput.load(input: input, labels: nil, graph: graph, preprocessing: preprocessing)
            guard images.count >= 2 else { throw CommandError("correspondence compares image pairs; \(input) has \(images.count) image") }
            let parts = try Self.parts(regions, images: images.count, height: h, width: w)
            let runner = try BatchRunner(graph: graph, backend: try network.backend, batch: batch, keeping: nodes, weights: file.parameterTensors)
            let clean = try runner.outputs(images.images, count: images.count, nodes: nodes)
            /// Per layer, the difference vectors for images with the given rectangle each.
            func differences(_ rects: [[Int]]) throws -> [[[Float]]] {
                var hidden = images.images
                for i in 0..<images.count {
                    var one = Array(images.image(i))
                    Correspondence.zero(&one, channels: c, height: h, width: w, rect: rects[i])
                    hidden.replaceSubrange((i * images.perImage)..<((i + 1) * images.perImage), with: one)
                }
                let occluded = try runner.outputs(hidden, count: images.count, nodes: nodes)
                return nodes.indices.map { k in
                    let size = graph.nodes[nodes[k]].shape!.elementCount!
                    return (0..<images.count).map { i in (0..<size).map { clean[k][i * size + $0] - occluded[k][i * size + $0] } }
                }
            }
            var g = SplitMix64(seed: seed)
            var rows: [(part: String, layer: String, score: (Double, Double), control: (Double, Double))] = []
            for (part, rects) in parts {
                let scores = try differences(rects).map(Correspondence.score)
                // The control: R rectangles of the part's (first) size, each at one random place in every image.
                var controls = [[Double]](repeating: [], count: nodes.count)
                let (rh, rw) = (rects[0][2], rects[0][3])
                for _ in 0..<random {
                    let r = Int(g.next() % UInt64(h - rh + 1)), q = Int(g.next() % UInt64(w - rw + 1))
                    for (k, s) in try differences([[Int]](repeating: [r, q, rh, rw], count: images.count)).map(Correspondence.score).enumerated() {
                        controls[k].append(s.mean)
                    }
                }
                for (k, node) in nodes.enumerated() {
                    rows.append((part, graph.nodes[node].name, scores[k], Correspondence.meanAndStd(controls[k])))
                }
                progress.update(rows.count / nodes.count, parts.count)
            }
            try makeDirectory(out)
            var table = "part,layer,score_mean,score_std,random_mean,random_std\n"
            for r in rows { table += "\(r.part),\(r.layer),\(csv(r.score.0)),\(csv(r.score.1)),\(csv(r.control.0)),\(csv(r.control.1))\n" }
            try AtomicFile.write(Data(table.utf8), to: "\(out)/correspondence.csv")
            var md = "| part | " + nodes.map { graph.nodes[$0].name }.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: nodes.count) + "\n"
            for (part, _) in parts {
                for control in [false, true] {
                    let cells = nodes.map { node -> String in
                        let r = rows.first { $0.part == part && $0.layer == graph.nodes[node].name }!
                        let v = control ? r.control : r.score
                        return String(format: "%.3f ± %.3f", v.0, v.1)
                    }
                    md += "| \(control ? "random, \(part)'s size" : part) | " + cells.joined(separator: " | ") + " |\n"
                }
            }
            try AtomicFile.write(Data(md.utf8), to: "\(out)/correspondence.md")
            try RunRecord.write(to: out, command: "correspond", arguments: Array(CommandLine.arguments.dropFirst()), spec: spec, weightsPath: weights,
                                parameters: [("layers", nodes.map { graph.nodes[$0].name }.joined(separator: ",")), ("random", "\(random)"),
                                             ("seed", "\(seed)"), ("images", "\(images.count)"), ("regions", regions)])
            output.write(md)
            return 0
        }
    }
}
