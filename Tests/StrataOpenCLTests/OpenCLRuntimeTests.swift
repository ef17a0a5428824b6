import Foundation
import Testing
@testable import StrataOpenCL

/// The OpenCL runtime on whatever device the machine has (PoCL on the CPU here and in CI; tools/bootstrap installs it).
@Suite("OpenCL runtime", .serialized)
struct OpenCLRuntimeTests {
    @Test func devicesAreListedWithTheirProperties() throws {
        let devices = try OpenCL.devices()
        #expect(!devices.isEmpty)
        for d in devices {
            #expect(!d.name.isEmpty && d.version.hasPrefix("OpenCL") && d.computeUnits >= 1 && d.globalMemory > 0 && d.peakGFLOPS > 0, "\(d)")
        }
        let first = try OpenCL.select("opencl")
        #expect(first.selector == (devices.first(where: \.isGPU) ?? devices[0]).selector)
        #expect(try OpenCL.select("opencl:0:0").name == devices[0].name)
        let missing = #expect(throws: OpenCLError.self) { try OpenCL.select("opencl:7:3") }
        #expect(missing?.detail.contains("there is no device opencl:7:3") == true)
        #expect(throws: OpenCLError.self) { try OpenCL.select("opencl:x") }
    }

    /// A kernel specialised with a -D constant runs and gives the right numbers.
    @Test func aSpecialisedKernelRuns() throws {
        let context = try OpenCLContext(device: OpenCL.select("opencl"))
        let program = try context.program(source: """
            __kernel void axpb(__global const float *x, __global float *y, const float a) {
                const int i = get_global_id(0);
                if (i < N) y[i] = a * x[i] + B;
            }
            """, file: "kernels/test.cl", options: "-D N=5 -D B=1.5f")
        let kernel = try program.kernel("axpb")
        let x = try context.buffer(floats: 8), y = try context.buffer(floats: 8)
        try context.write([1, 2, 3, 4, 5, 6, 7, 8], to: x)
        try context.write([Float](repeating: -1, count: 8), to: y)
        try kernel.set(0, x)
        try kernel.set(1, y)
        try kernel.set(2, Float(2))
        try context.run(kernel, global: [8])
        try context.finish()
        #expect(try context.read(y) == [3.5, 5.5, 7.5, 9.5, 11.5, -1, -1, -1])
    }

    /// A build error names the kernel file and line, and the status by name.
    @Test func aBuildErrorShowsTheLogWithTheFileAndLine() throws {
        let context = try OpenCLContext(device: OpenCL.select("opencl"))
        let error = #expect(throws: OpenCLError.self) {
            try context.program(source: "__kernel void k(__global float *y) {\n  y[0] = undeclared;\n}\n", file: "kernels/broken.cl")
        }
        #expect(error?.description.hasPrefix("clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE") == true)
        #expect(error?.detail.contains("kernels/broken.cl:2:") == true && error?.detail.contains(": error: ") == true, "\(error?.detail ?? "")")
        #expect(error?.detail.contains("undeclared") == true)
    }

    @Test func buildLogPlacesAreRenamedToTheKernelFile() {
        #expect(OpenCLContext.locate("error: /root/.cache/pocl/kcache/tempfile_x.cl:2:10: use of undeclared identifier", file: "kernels/conv.cl")
                == "kernels/conv.cl:2:10: error: use of undeclared identifier")
        #expect(OpenCLContext.locate("<source>:7:3: warning: unused\n  y = 1;", file: "kernels/pool.cl") == "kernels/pool.cl:7:3: warning: unused\n  y = 1;")
    }

    /// A built program lands in the cache; the next build loads it; a corrupt entry is rebuilt.
    @Test func programsAreCachedOnDisk() throws {
        let folder = NSTemporaryDirectory() + "strata-programs-\(UUID().uuidString)"
        let previous = ProcessInfo.processInfo.environment["STRATA_PROGRAM_CACHE"]
        setenv("STRATA_PROGRAM_CACHE", folder, 1)
        defer {
            if let previous { setenv("STRATA_PROGRAM_CACHE", previous, 1) } else { unsetenv("STRATA_PROGRAM_CACHE") }
            try? FileManager.default.removeItem(atPath: folder)
        }
        let context = try OpenCLContext(device: OpenCL.select("opencl"))
        let source = "__kernel void twice(__global float *y) { y[get_global_id(0)] *= 2.0f * M; }"
        func run() throws -> [Float] {
            let k = try context.program(source: source, file: "kernels/twice.cl", options: "-D M=3").kernel("twice")
            let y = try context.buffer(floats: 3)
            try context.write([1, 2, 3], to: y)
            try k.set(0, y)
            try context.run(k, global: [3])
            return try context.read(y)
        }
        #expect(try run() == [6, 12, 18])
        // (Other suites may build into the same folder meanwhile: look for this program's entry.)
        let entry = folder + "/" + ProgramCache.key(source: source, options: "-D M=3", device: context.device) + ".bin"
        #expect(FileManager.default.fileExists(atPath: entry))
        #expect(try run() == [6, 12, 18])
        try Data("not a binary".utf8).write(to: URL(fileURLWithPath: entry))
        #expect(try run() == [6, 12, 18])
        // A truncated entry (it once made the driver crash on the short binary) is discarded by its
        // length and checksum before the driver sees it, and rebuilt.
        let whole = try Data(contentsOf: URL(fileURLWithPath: entry))
        #expect(ProgramCache.unframe(whole).binary != nil)
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: entry))
        #expect(try run() == [6, 12, 18])
        #expect(try Data(contentsOf: URL(fileURLWithPath: entry)) == whole)
        // One flipped byte inside the binary: the checksum catches it.
        var flipped = whole
        flipped[flipped.count - 10] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: entry))
        #expect(ProgramCache.unframe(flipped).problem?.contains("checksum") == true)
        #expect(try run() == [6, 12, 18])
    }

    @Test func statusesHaveNames() {
        #expect(OpenCLError.name(-5) == "CL_OUT_OF_RESOURCES")
        #expect(OpenCLError.name(-9999) == "OpenCL status -9999")
        #expect(OpenCLError("clFinish", -36).description == "clFinish failed: CL_INVALID_COMMAND_QUEUE")
    }

    @Test func anAllocationBeyondTheDevicesLimitIsRefusedInWords() throws {
        let context = try OpenCLContext(device: OpenCL.select("opencl"))
        let tooMany = Int(context.device.maxAllocation / 4) + 1
        let error = #expect(throws: OpenCLError.self) { try context.buffer(floats: tooMany, name: "conv1's output") }
        #expect(error?.detail.contains("conv1's output needs") == true)
    }
}

@Suite("Embedded kernels")
struct EmbeddedKernelTests {
    /// The binary's copy of kernels/*.cl is the files' text (the EmbedKernels plugin makes it at build time).
    @Test func theEmbeddedSourcesAreTheKernelFiles() throws {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let folder = parts.joined(separator: "/") + "/kernels"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".cl") }
        #expect(Set(files.map { String($0.dropLast(3)) }) == Set(EmbeddedKernels.sources.keys))
        for file in files {
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            #expect(EmbeddedKernels.sources[String(file.dropLast(3))] == (text.hasSuffix("\n") ? String(text.dropLast()) : text),
                    "kernels/\(file) differs from the embedded copy: the EmbedKernels build step did not run")
        }
    }
}
