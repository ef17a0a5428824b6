import ArgumentParser
import Foundation
import StrataFormats
import StrataIR

/// `strata draw SPEC [--out FILE] [--format dot|svg]`: a picture of the network, as Caffe's
/// `draw_net`: one box per layer with its op, output shape and parameter count, grouped
/// convolutions as one box per group (AlexNet's two towers), edges as the layers read each other.
struct DrawCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "draw",
        abstract: "Draw a network: Graphviz DOT, or SVG through Graphviz's dot, with shapes, parameter counts and channel groups.",
        discussion: "The DOT text is `strata compile SPEC --emit dot`'s. SVG needs Graphviz's `dot` on the PATH (Debian: apt-get install graphviz).")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case dot, svg
    }

    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(help: "Write the picture to this file instead of printing it.")
    var out: String?

    @Option(help: "dot (Graphviz's text) or svg (rendered by Graphviz's dot); default: svg when --out ends in .svg, else dot.")
    var format: Format?

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, _) = CommandSupport.graph(spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            let text = GraphPrinter.dot(graph)
            let picture = (format ?? (out?.hasSuffix(".svg") == true ? .svg : .dot)) == .svg ? try Graphviz.svg(text) : Data(text.utf8)
            guard let out else {
                output.write(String(decoding: picture, as: UTF8.self))
                return 0
            }
            try AtomicFile.write(picture, to: out)
            output.write("wrote \(out)\n")
            return 0
        }
    }
}

/// Graphviz's `dot`, found on the PATH.
enum Graphviz {
    /// The first executable `dot` in the folders of `path` (a PATH value).
    static func executable(path: String = ProcessInfo.processInfo.environment["PATH"] ?? "") -> String? {
        path.split(separator: ":").map { "\($0)/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `dot -Tsvg` of the DOT text (through temporary files: nothing waits on a pipe).
    static func svg(_ text: String) throws -> Data {
        guard let dot = executable() else {
            throw CommandError("SVG needs Graphviz's 'dot' on the PATH (Debian: apt-get install graphviz); "
                               + "'--format dot' writes the DOT text, which any Graphviz renders")
        }
        let base = NSTemporaryDirectory() + "strata-draw-\(getpid())-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".dot")
            try? FileManager.default.removeItem(atPath: base + ".svg")
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: base + ".dot"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dot)
        process.arguments = ["-Tsvg", base + ".dot", "-o", base + ".svg"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0,
              let svg = FileManager.default.contents(atPath: base + ".svg") else {
            throw CommandError("\(dot) could not draw the graph (exit \(process.terminationStatus)): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return svg
    }
}
