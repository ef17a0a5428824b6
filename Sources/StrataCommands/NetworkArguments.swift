import ArgumentParser

/// What every command that runs a network takes: the spec and the device.
struct NetworkArguments: ParsableArguments {
    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(help: "Device: cpu.")
    var device = "cpu"
}
