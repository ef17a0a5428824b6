import Foundation

/// The kernel sources. The binary carries them (`EmbeddedKernels`, made from kernels/*.cl at build
/// time by the EmbedKernels plugin), so an installed strata needs no source tree.
/// `STRATA_KERNELS=DIR` reads them from DIR instead, for editing kernels without rebuilding.
public enum KernelSources {
    /// The kernels/ folder of a source checkout (or STRATA_KERNELS).
    public static func folder() throws(OpenCLError) -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["STRATA_KERNELS"] { candidates.append(env) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
        var dir = (exe as NSString).deletingLastPathComponent
        candidates.append(dir + "/../share/strata/kernels")
        while !dir.isEmpty && dir != "/" {
            candidates.append(dir + "/kernels")
            dir = (dir as NSString).deletingLastPathComponent
        }
        var cwd = FileManager.default.currentDirectoryPath
        while !cwd.isEmpty && cwd != "/" {
            candidates.append(cwd + "/kernels")
            cwd = (cwd as NSString).deletingLastPathComponent
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/conv.cl") }) { return found }
        throw OpenCLError("finding the kernels", -30, detail: "no kernels/conv.cl was found (looked in STRATA_KERNELS, beside the executable and above the working directory); set STRATA_KERNELS to the kernels/ folder")
    }

    /// The source of `name`.cl as the device compiles it: its `#include "F.cl"` lines replaced by
    /// those files, with `#line` marks so that a build log names the file and line the error is in.
    public static func source(_ name: String) throws(OpenCLError) -> (text: String, path: String) {
        let (text, path) = try raw(name)
        var out = "#line 1 \"kernels/\(name).cl\"\n"
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#include \""), trimmed.hasSuffix(".cl\"") {
                let included = String(trimmed.dropFirst(10).dropLast(4))
                out += "#line 1 \"kernels/\(included).cl\"\n" + (try raw(included).text) + "\n#line \(k + 2) \"kernels/\(name).cl\"\n"
            } else {
                out += line + "\n"
            }
        }
        return (out, path)
    }

    /// The text of `name`.cl: from STRATA_KERNELS when set, else the embedded copy.
    static func raw(_ name: String) throws(OpenCLError) -> (text: String, path: String) {
        if ProcessInfo.processInfo.environment["STRATA_KERNELS"] == nil, let text = EmbeddedKernels.sources[name] {
            return (text, "kernels/\(name).cl")
        }
        let path = try folder() + "/\(name).cl"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw OpenCLError("reading \(path)", -30, detail: "the kernel source cannot be read")
        }
        return (text, path)
    }
}
