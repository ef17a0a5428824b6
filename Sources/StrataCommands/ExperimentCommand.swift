import ArgumentParser
import Foundation
import StrataCPU
import StrataDiagnostics
import StrataFormats
import StrataIR
import StrataMPI
import StrataSpec
import StrataTrain

/// `strata experiment EXP.yaml`: trains and evaluates every row of an experiment and tabulates them.
struct ExperimentCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Train and evaluate every row of an experiment (variants of a base spec) and write its table.",
        discussion: """
            An experiment file names a base spec, rows (each a variant: remove, set, insert or training \
            written inline, or a spec file), the data, training settings and seeds (docs/experiments.md). \
            Every row is resolved and checked before anything trains, its errors located. Each row and \
            seed trains in OUT/rows/ROW/seed-S; a finished one (result.json) is skipped, a cut-off one \
            resumes exactly. OUT/table.csv and OUT/table.md give train top-1 and the held-out split's top-1 and top-5 (named test or val after the split) \
            error per row (mean ± std over seeds), parameters, multiply-adds and training minutes. With a \
            robustness: {limit: N, seed: S} block, strata robustness's measures (defaults) on every \
            row's checkpoints, the first row the others' mCE baseline: OUT/robustness.csv and .md.
            """)

    @Argument(help: "The experiment file (YAML).")
    var file: String

    @Option(help: "Where the runs and the table go (default: runs/NAME, NAME the experiment's name).")
    var out: String?

    @Option(help: "The device that runs the rows: cpu, opencl or opencl:P:D.")
    var device: Device = .cpu

    @Option(help: "Only this row (the table still lists every finished row).")
    var only: String?

    @Flag(help: "Print the resolved rows and their check tables; train nothing.")
    var dryRun = false

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        let loader = SpecLoader()
        let experiment: Experiment
        do {
            experiment = try Experiment.load(path: file, loader: loader)
        } catch {
            CommandSupport.warn(loader, errors: &errors)
            errors.write(DiagnosticRenderer(sources: loader.sources).render(error.diagnostics))
            return 1
        }
        CommandSupport.warn(loader, errors: &errors)
        let live = errors is StandardStream
        var collected = ""
        defer { if !live { errors.write(collected) } }
        var runner = ExperimentRunner(experiment: experiment, out: out ?? "runs/\(experiment.name)", backend: CPUBackend()) { graph, spec, seed in
            var initial = Initialization.weights(graph: graph, spec: spec, seed: seed)
            if let path = Pretrained.path(in: spec) {
                initial = try Pretrained.merge(initial, with: try Safetensors.read(path: path), source: path, graph: graph, spec: spec).weights
            }
            return initial
        }
        runner.log = { line in if live { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { collected += line + "\n" } }
        runner.only = only
        if dryRun {
            // What the real run would hit before training: the data, its classes, every weights file.
            let status = CommandSupport.run(errors: &errors) { try runner.preflight(); return 0 }
            guard status == 0 else { return status }
            for row in experiment.rows where only == nil || row.name.value == only {
                output.write("row \(row.name.value): \(row.spec.chain.joined(separator: " ← "))\n")
                let batch = experiment.batch ?? row.spec.training?.batch ?? 32
                output.write(SummaryFormat.table(NetworkSummary(row.graph), file: row.spec.file, batch: batch) + "\n")
            }
            output.write("\(experiment.rows.count) row(s) × \(experiment.seeds.count) seed(s); data \(experiment.data)\n")
            return 0
        }
        return CommandSupport.run(errors: &errors) {
            runner.backend = try device.backend(threads: nil)
            runner.version = StrataCommand.configuration.version
            runner.command = (["strata", "experiment", file] + (out.map { ["--out", $0] } ?? []) + (device.selector == "cpu" ? [] : ["--device", device.selector])
                              + (only.map { ["--only", $0] } ?? [])).joined(separator: " ")
            runner.communicator = World.current
            try runner.run()
            guard runner.communicator.isRoot else { return 0 }   // rank 0 wrote the table
            try ExperimentRobustness.run(experiment, runner: runner, only: only, backend: runner.backend, log: runner.log)
            output.write(try String(contentsOfFile: runner.out + "/table.md", encoding: .utf8))
            if experiment.robustness != nil { output.write("\n" + (try String(contentsOfFile: runner.out + "/robustness.md", encoding: .utf8))) }
            output.write("\nwrote \(runner.out)/table.csv and \(runner.out)/table.md\(experiment.robustness == nil ? "" : ", robustness.csv and robustness.md")\n")
            return 0
        }
    }
}
