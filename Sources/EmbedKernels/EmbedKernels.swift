import Foundation
import PackagePlugin

/// Generates `EmbeddedKernels.swift` (kernels/*.cl as Swift strings) into the build folder at
/// every build that changed a kernel, so `kernels/` is the one source of the OpenCL programs and
/// the binary still carries them (an installed strata needs no source tree).
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let kernels = root.appending(path: "kernels")
        let sources = try FileManager.default.contentsOfDirectory(at: kernels, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "cl" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let script = root.appending(path: "tools/embed-kernels")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedKernels.swift")
        return [.buildCommand(displayName: "Embedding kernels/*.cl", executable: URL(fileURLWithPath: "/usr/bin/env"),
                              arguments: ["bash", script.path, output.path] + sources.map(\.path), inputFiles: sources + [script], outputFiles: [output])]
    }
}
