import ArgumentParser
import StrataCPU
import StrataPlan

/// What every command that runs a network takes: the spec and the device.
struct NetworkArguments: ParsableArguments {
    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(help: "The device that runs the network: \(Device.allValueStrings.joined(separator: ", ")).")
    var device: Device = .cpu

    /// The backend `--device` names.
    var backend: any Backend { device.backend }
}

/// The devices this build can run on. This is the one place that picks a backend: every command
/// and the trainer get theirs from here and see only `Backend` and `Executor`.
enum Device: String, ExpressibleByArgument, CaseIterable {
    case cpu

    /// The backend, with its default settings (`STRATA_THREADS`, `STRATA_GEMM`).
    var backend: any Backend { backend(threads: nil) }

    /// The backend with `threads` workers (nil: its default).
    func backend(threads: Int?) -> any Backend {
        switch self {
        case .cpu: CPUBackend(threads.map { CPUSettings(threads: $0) } ?? CPUSettings())
        }
    }
}
