import ArgumentParser
import Foundation
import StrataFormats
import StrataIR
import StrataPlan
import StrataSpec
import StrataTrain
#if canImport(Glibc)
import Glibc
#endif

/// `strata bench SPEC`: random data, warm-up, then per-layer forward (and backward) times like
/// `caffe time`, and images/s for the whole step (median over the iterations). A training step
/// is forward, backward and an SGD update with momentum and weight decay.
struct Bench: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a network on random data: per-layer times and images/s (median over iterations).")

    @OptionGroup var network: NetworkArguments


    @Option(help: "Batch size (default: the spec's training batch, else 32).")
    var batch: Int?

    @Flag(help: "Time a training step (forward, backward, SGD update) instead of inference.")
    var training = false

    @Option(help: "Timed iterations (after 2 warm-up runs).")
    var iterations = 10

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        if let batch, batch < 1 || batch > CommandSupport.maximumBatch { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        guard let (graph, spec) = CommandSupport.graph(network.spec, errors: &errors) else { return 1 }
        return CommandSupport.run(errors: &errors) {
            let backend = try network.backend
            let batch = self.batch ?? spec.training?.batch ?? 32
            let executor = try Benchmark.executor(graph: graph, spec: spec, backend: backend, batch: batch, training: training)
            let plan = executor.plan

            func step(_ seed: UInt64) throws { try executor.run(seed: seed) }
            for k in 0..<2 { try step(UInt64(k)) }
            executor.timing = true
            var totals: [Double] = []
            var perStep: [[Double]] = []
            for k in 0..<iterations {
                let t0 = now()
                try step(UInt64(k + 2))
                totals.append(now() - t0)
                perStep.append(executor.stepSeconds)
            }
            let median = totals.sorted()[totals.count / 2]
            // Per layer: the median over iterations of each step's time, summed by node and pass.
            var forward = [Double](repeating: 0, count: graph.nodes.count), backward = forward
            var other = 0.0
            for (k, s) in plan.steps.enumerated() {
                let t = perStep.map { $0[k] }.sorted()[perStep.count / 2]
                guard let node = s.node else { other += t; continue }
                if k < plan.backwardStart { forward[node] += t } else { backward[node] += t }
            }
            let imagesPerSecond = Double(batch) / median
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let rssMiB = Double(usage.ru_maxrss) / 1024
            let settings = executor.settingsSummary.filter { $0.name != "precision" }
            if json {
                func milliseconds(_ seconds: Double) -> JSONValue { .double(seconds * 1000, decimals: 2) }
                let layers: [JSONValue] = graph.nodes.enumerated().map { i, node in
                    ["name": .string(node.name), "op": .string(node.op), "forward_ms": milliseconds(forward[i]), "backward_ms": milliseconds(backward[i])]
                }
                let fields = settings.map { ($0.name == "device" ? "device_name" : $0.name, Int($0.value).map { JSONValue.int($0) } ?? .string($0.value)) }
                let json = JSONValue.object([("name", .string(graph.name)), ("device", .string(plan.traits.name))] + fields
                    + [("batch", .int(batch)), ("training", .bool(training)), ("ms_per_batch", milliseconds(median)), ("images_per_s", .double(round1(imagesPerSecond))),
                       ("peak_rss_mib", .double(round1(rssMiB))), ("layers", .array(layers))])
                output.write(json.text() + "\n")
            } else {
                var out = "\(graph.name): \(training ? "training" : "inference"), batch \(batch), \(plan.traits.name), "
                out += settings.map { "\($0.name) \($0.value)" }.joined(separator: ", ") + ", "
                out += "median of \(iterations)\n\n"
                let width = max(5, graph.nodes.map(\.name.count).max() ?? 5)
                func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
                func right(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
                out += pad("layer", width) + "  " + pad("op", 8) + right("forward ms", 11) + (training ? right("backward ms", 13) : "") + "\n"
                for (i, node) in graph.nodes.enumerated() {
                    out += pad(node.name, width) + "  " + pad(node.op, 8) + right(ms(forward[i]), 11) + (training ? right(ms(backward[i]), 13) : "") + "\n"
                }
                if training { out += pad("(loss, sums)", width + 10) + right("", 11) + right(ms(other), 13) + "\n" }
                out += "\n\(ms(median)) ms per batch, \(round1(imagesPerSecond)) images/s; peak RSS \(round1(rssMiB)) MiB\n"
                output.write(out)
            }
            return 0
        }
    }

    /// An executor of `graph` at `batch` with the spec's initial weights, random input (and labels and
    /// a small learning rate for a training step): what `bench` and `tune` time.

    func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func ms(_ seconds: Double) -> String { String(format: "%.2f", seconds * 1000) }
    func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
}
