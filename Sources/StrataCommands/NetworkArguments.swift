import ArgumentParser
import StrataCPU
import StrataMPI
import StrataOpenCL
import StrataPlan

/// What every command that runs a network takes: the spec and the device.
struct NetworkArguments: ParsableArguments {
    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(help: "The device that runs the network: cpu, opencl (the first GPU, else the first OpenCL device) or opencl:P:D (strata devices lists them).")
    var device: Device = .cpu

    /// The backend `--device` names (an error when it names an OpenCL device this machine lacks).
    var backend: any Backend {
        get throws { try device.backend(threads: nil) }
    }
}

/// A device this build can run on: the CPU, or an OpenCL device. This is the one place that picks
/// a backend: every command and the trainer get theirs from here and see only `Backend` and `Executor`.
struct Device: ExpressibleByArgument, Sendable {
    /// `cpu`, `opencl` or `opencl:P:D`.
    var selector: String

    static let cpu = Device(selector: "cpu")

    init(selector: String) { self.selector = selector }

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where argument == "cpu" || argument == "opencl": break
        case 3 where parts[0] == "opencl" && Int(parts[1]).map({ $0 >= 0 }) == true && Int(parts[2]).map({ $0 >= 0 }) == true: break
        default: return nil
        }
        selector = argument
    }

    static var allValueStrings: [String] { ["cpu", "opencl", "opencl:P:D"] }
    var defaultValueDescription: String { selector }

    /// The backend, with `threads` CPU workers (nil: the default; `STRATA_THREADS`, `STRATA_GEMM`).
    func backend(threads: Int?) throws -> any Backend {
        if selector == "cpu" { return CPUBackend(threads.map { CPUSettings(threads: $0) } ?? CPUSettings()) }
        // Under mpirun, each rank of a node takes its own GPU (local rank mod the node's GPUs).
        let localRank = World.launchedByMPI ? World.current.localRank : 0
        do { return try OpenCLBackend(selector, localRank: localRank) } catch let error as OpenCLError { throw CommandError("--device \(selector): \(error)") }
    }
}
