import ArgumentParser
import StrataFormats
import StrataOpenCL

/// `strata devices`: the OpenCL platforms and devices this machine has.
struct DevicesCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the OpenCL platforms and devices (name, version, memory, compute units, a float32 peak estimate).",
        discussion: """
            Each line starts with the selector that picks the device (--device opencl:PLATFORM:DEVICE; \
            --device opencl picks the first GPU, else the first device), and ends with the GEMM tile \
            the device uses (strata tune times the candidates and stores the fastest). The CPU backend \
            (--device cpu) is always there.
            """)

    @Flag(help: "Print one JSON object.")
    var json = false

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        output.write(json ? "" : "cpu  the CPU backend (every command)\n")
        do {
            let devices = try OpenCL.devices()
            if json {
                let items: [JSONValue] = devices.map { d in
                    ["selector": .string(d.selector), "platform": .string(d.platformName), "name": .string(d.name), "kind": .string(d.kind),
                     "vendor": .string(d.vendor), "version": .string(d.version), "driver": .string(d.driver),
                     "global_memory_bytes": .int(d.globalMemory), "compute_units": .int(d.computeUnits), "clock_mhz": .int(d.clockMHz),
                     "peak_gflops_estimate": d.peakGFLOPS.isFinite ? .int(Int(d.peakGFLOPS.rounded())) : .null,
                     "tiles": .string(Tuning.tiles(for: d).description), "tiles_tuned": .bool(Tuning.stored(for: d) != nil)]
                }
                output.write(JSONValue.object([("devices", .array(items))]).text() + "\n")
            } else {
                var platform = -1
                for d in devices {
                    if d.platform != platform {
                        platform = d.platform
                        output.write("platform \(d.platform): \(d.platformName)\n")
                    }
                    output.write("  \(d); tiles \(Tuning.tiles(for: d))\(Tuning.stored(for: d) != nil ? " (tuned)" : "")\n")
                }
            }
            return 0
        } catch {
            errors.write("error: \(error)\n")
            return 1
        }
    }
}
