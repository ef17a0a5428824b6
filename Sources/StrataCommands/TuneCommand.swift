import ArgumentParser
import Foundation
import StrataFormats
import StrataOpenCL
import StrataPlan
import StrataTrain
#if canImport(Glibc)
import Glibc
#endif

/// `strata tune`: times the GEMM tile candidates on an OpenCL device and keeps the fastest for it.
struct TuneCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Time the OpenCL GEMM tiles on a device and store the fastest for it (beside the program cache).",
        discussion: """
            Each candidate tile (TMxTNxTK/WMxWN: a work-group's block of the output, its depth per step, \
            each work item's block) runs a training step of the spec on random data; the one with the \
            least device time is stored in tuning.json beside the program cache, keyed by device and \
            driver, and every later run on that device uses it. Without a stored tile a device uses \
            the table's setting for its kind (strata devices does not time anything).
            """)

    @Argument(help: "The network whose training step is timed.")
    var spec = "networks/zfnet-mini.yaml"

    @Option(help: "The OpenCL device: opencl (the first GPU, else the first device) or opencl:P:D.")
    var device = "opencl"

    @Option(help: "Batch size (default: the spec's training batch, else 32).")
    var batch: Int?

    @Option(help: "Timed steps per candidate (after one warm-up step).")
    var iterations = 3

    @Option(help: "Only these tiles, comma-separated (TMxTNxTK/WMxWN).")
    var tiles: String?

    @Flag(help: "Time and print, but do not store the winner.")
    var dryRun = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard device == "opencl" || device.hasPrefix("opencl:") else { throw ValidationError("--device must be opencl or opencl:P:D (tuning is for OpenCL devices)") }
        if let batch, batch < 1 || batch > CommandSupport.maximumBatch { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
        if let tiles {
            let list = tiles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty else { throw ValidationError("--tiles needs at least one tile, TMxTNxTK/WMxWN (e.g. 64x64x16/4x4)") }
            if let bad = list.first(where: { GemmTiles($0) == nil }) {
                throw ValidationError("--tiles: '\(bad)' is not TMxTNxTK/WMxWN with each number between 0 and \(GemmTiles.largest) (e.g. 64x64x16/4x4)")
            }
        }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(self.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            let chosen: OpenCLDevice
            do { chosen = try OpenCL.select(device) } catch { throw CommandError("--device \(device): \(error)") }
            var candidates = Tuning.candidates(for: chosen)
            if let tiles {
                candidates = tiles.split(separator: ",").compactMap { GemmTiles($0.trimmingCharacters(in: .whitespaces)) }
                if let problem = candidates.lazy.compactMap({ $0.problem(on: chosen) }).first { throw CommandError("--tiles: \(problem)") }
            }
            let batch = self.batch ?? spec.training?.batch ?? 32
            if !json { output.write("tuning \(chosen.name) on a training step of \(graph.name) at batch \(batch), median of \(iterations)\n\n") }
            var lines = ""
            let results = try Tuning.time(candidates, iterations: iterations, executor: { tiles in
                try Benchmark.executor(graph: graph, spec: spec, backend: try OpenCLBackend(device, options: .init(tiles: tiles)), batch: batch, training: true)
            }, progress: { tiles, median in
                lines += "  \(tiles.description.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%9.2f", median * 1000)) ms\n"
            })
            if !json { output.write(lines) }
            guard let best = results.min(by: { $0.1 < $1.1 }) else { throw CommandError("--tiles: no tile to time") }
            var stored: String? = nil
            if !dryRun { stored = try Tuning.store(best.0, for: chosen) }
            if json {
                let rows: [JSONValue] = results.map { ["tiles": .string($0.0.description), "ms": .double($0.1 * 1000, decimals: 3)] }
                let json: JSONValue = ["device": .string(chosen.name), "spec": .string(graph.name), "batch": .int(batch), "best": .string(best.0.description),
                                       "stored": stored.map(JSONValue.string) ?? .null, "candidates": .array(rows)]
                output.write(json.text() + "\n")
            } else {
                output.write("\nfastest: \(best.0) (\(String(format: "%.2f", best.1 * 1000)) ms)" + (stored.map { "; stored in \($0)" } ?? "; not stored (--dry-run)") + "\n")
            }
            return 0
        }
    }
}
