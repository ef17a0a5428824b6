import Foundation
import StrataFormats
import ArgumentParser
import StrataCPU
import StrataDiagnostics
import StrataMPI
#if canImport(Glibc)
import Glibc
#endif

/// The `strata` command: every stage of the compiler is visible from here.
///
/// Exit codes: 0 success, 1 an error in the spec (or its files), 2 a usage error.
public struct StrataCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "A declarative network compiler: YAML specs -> checked graph IR -> CPU and OpenCL kernels; the ZF paper's analyses as commands.",
        discussion: "Exit status: 0 on success, 1 when the spec has errors, 2 on a usage error.",
        version: "0.1.0",
        subcommands: [Check.self, Compile.self, Init.self, ExportCommand.self, Features.self, Grad.self, Bench.self, Train.self, Eval.self,
                      SweepCommand.self, OccludeCommand.self, DeconvCommand.self, FiltersCommand.self, EvolveCommand.self,
                      CorrespondCommand.self, ReportCommand.self, DevicesCommand.self, TuneCommand.self, ExperimentCommand.self, ProbeCommand.self,
                      RobustnessCommand.self, SchemaCommand.self, DrawCommand.self, UpgradeCommand.self])

    public init() {}
}

/// Runs `strata` with `arguments` (without the program name) and returns the exit status.
/// Output goes to the given streams so tests can capture it.
public enum StrataMain {
    public static func run(_ arguments: [String], output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        if let repeated = repeatedOption(arguments) {
            errors.write("Error: \(repeated)\nSee 'strata \(arguments.first ?? "") --help'.\n")
            return 2
        }
        // STRATA_ISA asks for an instruction set of the CPU backend's GEMM; one this CPU lacks is refused.
        do { _ = try GEMMPath.fromEnvironment() } catch {
            errors.write("error: \(error)\n")
            return 2
        }
        let command: ParsableCommand
        do {
            command = try StrataCommand.parseAsRoot(arguments)
        } catch {
            return report(error, output: &output, errors: &errors)
        }
        do {
            // Every subcommand runs through its own `execute`; the root alone (help, version) runs as parsed.
            // What it writes is recorded for its run.json (AtomicFile's recorder, this command's own).
            if let c = command as? any StrataSubcommand {
                return try AtomicFile.$recorder.withValue(AtomicFile.Recorder()) { try c.execute(output: &output, errors: &errors) }
            }
            var c = command
            try c.run()
            return 0
        } catch {
            return report(error, output: &output, errors: &errors)
        }
    }

    /// Options a command takes more than once (the rest take one value: a second would silently win).
    static let repeatable: [String: Set<String>] = ["eval": ["--weights"]]

    /// "--weights is given 2 times ..." when an option that takes one value is repeated.
    static func repeatedOption(_ arguments: [String]) -> String? {
        guard let command = arguments.first, !command.hasPrefix("-") else { return nil }
        var counts: [String: Int] = [:]
        for argument in arguments.dropFirst() {
            if argument == "--" { break }
            guard argument.hasPrefix("--") else { continue }
            counts[String(argument.split(separator: "=", maxSplits: 1)[0]), default: 0] += 1
        }
        let allowed = repeatable[command] ?? []
        guard let (name, n) = counts.filter({ $0.value > 1 && !allowed.contains($0.key) }).min(by: { $0.key < $1.key }) else { return nil }
        return "\(name) is given \(n) times; '\(command)' takes it once"
    }

    private static func report(_ error: Error, output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        let code = StrataCommand.exitCode(for: error)
        let message = StrataCommand.fullMessage(for: error)
        if code == .success {
            output.write(message + "\n")
            return 0
        }
        if !message.isEmpty { errors.write(message + "\n") }
        // ArgumentParser's usage errors exit 64; ours are 2, like most Unix tools.
        return code == .validationFailure ? 2 : code.rawValue
    }

    /// The executable's entry point.
    public static func main() -> Never {
        // Under mpirun, MPI starts before anything else; without it, nothing of MPI runs.
        let world = World.launchedByMPI ? World.current : nil
        var out = StandardStream(descriptor: 1)
        var err = StandardStream(descriptor: 2)
        if let world, world.size > 1 {
            err.prefix = "[rank \(world.rank)/\(world.size)] "
            // Rank 0 prints the results; the others' errors and warnings still show, with their rank.
            if world.rank != 0 { out = StandardStream(descriptor: -1) }
        }
        let status = run(Array(CommandLine.arguments.dropFirst()), output: &out, errors: &err)
        // A failed rank aborts the job (the others may be waiting for it in a collective).
        World.end(status)
    }
}

/// A file descriptor (1: stdout, 2: stderr) as an unbuffered `TextOutputStream`.
public struct StandardStream: TextOutputStream {
    let descriptor: Int32
    /// Put at the start of every line (the rank, in a job of several).
    var prefix = ""
    var atLineStart = true
    public init(descriptor: Int32) { self.descriptor = descriptor }
    public mutating func write(_ string: String) {
        var text = string
        if !prefix.isEmpty && !string.isEmpty {
            text = (atLineStart ? prefix : "") + string.replacingOccurrences(of: "\n", with: "\n" + prefix)
            if string.hasSuffix("\n") { text.removeLast(prefix.count) }
            atLineStart = string.hasSuffix("\n")
        }
        guard descriptor >= 0 else { return }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }  // a closed pipe: nothing more to do
            bytes = bytes.dropFirst(n)
        }
    }
}

/// Prints diagnostics with their source lines and returns the exit status for a spec error.
func emit(_ error: DiagnosticError, sources: [String: String], errors: inout some TextOutputStream) -> Int32 {
    errors.write(DiagnosticRenderer(sources: sources).render(error.diagnostics))
    return 1
}

/// A `strata` subcommand: it parses its flags (ArgumentParser), then `execute` calls the library
/// and writes to the streams it is given (the terminal, or a test's strings), returning the exit
/// status. `StrataCommand.configuration.subcommands` is the one list of them.
protocol StrataSubcommand: ParsableCommand {
    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) throws -> Int32
}
