import COpenCL
import StrataFormats
import StrataIR
import StrataPlan
import Foundation

/// A context and an in-order queue on one device.
public final class OpenCLContext: @unchecked Sendable {
    public let device: OpenCLDevice
    let context: cl_context
    let queue: cl_command_queue

    public init(device: OpenCLDevice) throws(OpenCLError) {
        self.device = device
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &id, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError("clCreateContext", status)
        }
        self.context = context
        // Profiling on, so `strata bench` can time each kernel on the device (OpenCL events).
        guard let queue = clCreateCommandQueue(context, device.id, cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE), &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw OpenCLError("clCreateCommandQueue", status)
        }
        self.queue = queue
    }

    deinit {
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Builds `source` with `options` (`-D NAME=VALUE ...`), or loads the binary an earlier build
    /// left in the program cache (keyed by source, options, device and driver). A failed build
    /// throws the build log, its places renamed to `file:LINE:COL`.
    public func program(source: String, file: String, options: String = "") throws(OpenCLError) -> OpenCLProgram {
        let key = ProgramCache.key(source: source, options: options, device: device)
        if let cached = ProgramCache.load(key, context: context, device: device.id, options: options) { return OpenCLProgram(program: cached) }
        let built = try build(source: source, file: file, options: options)
        ProgramCache.store(key, program: built.program)
        return built
    }

    func build(source: String, file: String, options: String) throws(OpenCLError) -> OpenCLProgram {
        var status: cl_int = 0
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program, status == CL_SUCCESS else { throw OpenCLError("clCreateProgramWithSource", status) }
        var id: cl_device_id? = device.id
        let built = clBuildProgram(program, 1, &id, options, nil, nil)
        guard built == CL_SUCCESS else {
            let log = OpenCL.string { clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2) }
            clReleaseProgram(program)
            throw OpenCLError("clBuildProgram", built, detail: Self.locate(log, file: file) + (options.isEmpty ? "" : "\n(build options: \(options))"))
        }
        return OpenCLProgram(program: program)
    }

    /// Names a build log's places after the kernel file: compilers write `<source>:12:5: error: ...`,
    /// PoCL `error: /tmp/.../tempfile_x.cl:12:5: ...`; both become `FILE:12:5: error: ...`.
    static func locate(_ log: String, file: String) -> String {
        // A place our `#line` marks named (kernels/F.cl) keeps its name; a compiler's own name becomes `file`.
        func named(_ place: String) -> String {
            guard let r = place.range(of: "kernels/", options: .backwards), place.hasSuffix(".cl") else { return file }
            return String(place[r.lowerBound...])
        }
        let place = try! NSRegularExpression(pattern: #"^(error|warning|note): (\S*(?:\.cl|<source>|<stdin>)):(\d+):(\d+): "#)
        let bare = try! NSRegularExpression(pattern: #"^(\S*(?:\.cl|<source>|<stdin>)):(\d+):(\d+): "#)
        return log.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let text = String(line), range = NSRange(text.startIndex..., in: text)
            if let m = place.firstMatch(in: text, range: range) {
                func group(_ k: Int) -> String { String(text[Range(m.range(at: k), in: text)!]) }
                return "\(named(group(2))):\(group(3)):\(group(4)): \(group(1)): " + text[Range(m.range, in: text)!.upperBound...]
            }
            if let m = bare.firstMatch(in: text, range: range) {
                func group(_ k: Int) -> String { String(text[Range(m.range(at: k), in: text)!]) }
                return "\(named(group(1))):\(group(2)):\(group(3)): " + text[Range(m.range, in: text)!.upperBound...]
            }
            return text
        }.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A device buffer of `count` floats; refused in words beyond the device's largest allocation.
    public func buffer(floats count: Int, name: String = "a buffer") throws(OpenCLError) -> OpenCLBuffer {
        let bytes = max(count, 1) * 4
        guard UInt64(bytes) <= device.maxAllocation else {
            throw OpenCLError("clCreateBuffer", CL_INVALID_BUFFER_SIZE,
                              detail: "\(name) needs \(bytes) bytes but \(device.name) allocates at most \(device.maxAllocation) at once")
        }
        var status: cl_int = 0
        guard let memory = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError("clCreateBuffer", status, detail: "\(name): \(bytes) bytes")
        }
        return OpenCLBuffer(memory: memory, count: count)
    }

    /// A buffer of `bytes` bytes (floats and int32 alike).
    public func buffer(bytes: Int, name: String) throws(OpenCLError) -> OpenCLBuffer {
        try buffer(floats: (bytes + 3) / 4, name: name)
    }

    /// A view of `bytes` bytes of `parent` from `offset` (which must be on the device's base alignment).
    public func subBuffer(_ parent: OpenCLBuffer, offset: Int, bytes: Int, count: Int) throws(OpenCLError) -> OpenCLBuffer {
        var region = cl_buffer_region(origin: offset, size: bytes)
        var status: cl_int = 0
        guard let memory = clCreateSubBuffer(parent.memory, cl_mem_flags(CL_MEM_READ_WRITE), cl_buffer_create_type(CL_BUFFER_CREATE_TYPE_REGION),
                                             &region, &status), status == CL_SUCCESS else {
            throw OpenCLError("clCreateSubBuffer", status, detail: "\(bytes) bytes at offset \(offset) (the device aligns to \(device.baseAlignment) bytes)")
        }
        return OpenCLBuffer(memory: memory, count: count, parent: parent)
    }

    public func write(int32 values: [Int32], to buffer: OpenCLBuffer) throws(OpenCLError) {
        guard values.count == buffer.count else { throw OpenCLError("clEnqueueWriteBuffer", CL_INVALID_VALUE, detail: "\(values.count) values for a buffer of \(buffer.count)") }
        let status = values.withUnsafeBytes { clEnqueueWriteBuffer(queue, buffer.memory, cl_bool(CL_TRUE), 0, $0.count, $0.baseAddress, 0, nil, nil) }
        try OpenCLError.check(status, "clEnqueueWriteBuffer")
    }

    public func write(_ values: [Float], to buffer: OpenCLBuffer) throws(OpenCLError) {
        guard values.count == buffer.count else { throw OpenCLError("clEnqueueWriteBuffer", CL_INVALID_VALUE, detail: "\(values.count) values for a buffer of \(buffer.count)") }
        let status = values.withUnsafeBytes { clEnqueueWriteBuffer(queue, buffer.memory, cl_bool(CL_TRUE), 0, $0.count, $0.baseAddress, 0, nil, nil) }
        try OpenCLError.check(status, "clEnqueueWriteBuffer")
    }

    public func read(_ buffer: OpenCLBuffer) throws(OpenCLError) -> [Float] {
        var values = [Float](repeating: 0, count: buffer.count)
        let status = values.withUnsafeMutableBytes { clEnqueueReadBuffer(queue, buffer.memory, cl_bool(CL_TRUE), 0, $0.count, $0.baseAddress, 0, nil, nil) }
        try OpenCLError.check(status, "clEnqueueReadBuffer")
        return values
    }

    /// Runs `kernel` over `global` work items (1 to 3 dimensions), with `local` sizes or the driver's
    /// choice. With `timed`, returns the seconds the device spent in it (waits for it to finish).
    @discardableResult
    public func run(_ kernel: OpenCLKernel, global: [Int], local: [Int]? = nil, timed: Bool = false) throws(OpenCLError) -> Double {
        var event: cl_event?
        let status = global.withUnsafeBufferPointer { g in
            if let local {
                return local.withUnsafeBufferPointer { l in
                    clEnqueueNDRangeKernel(queue, kernel.kernel, cl_uint(global.count), nil, g.baseAddress, l.baseAddress, 0, nil, &event)
                }
            }
            return clEnqueueNDRangeKernel(queue, kernel.kernel, cl_uint(global.count), nil, g.baseAddress, nil, 0, nil, &event)
        }
        try OpenCLError.check(status, "clEnqueueNDRangeKernel(\(kernel.name))")
        guard let event else { return 0 }
        defer { clReleaseEvent(event) }
        guard timed else { return 0 }
        var e: cl_event? = event
        try OpenCLError.check(clWaitForEvents(1, &e), "clWaitForEvents(\(kernel.name))")
        var start: cl_ulong = 0, end: cl_ulong = 0
        try OpenCLError.check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil), "clGetEventProfilingInfo")
        try OpenCLError.check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil), "clGetEventProfilingInfo")
        return Double(end &- start) * 1e-9
    }

    /// Waits for everything queued.
    public func finish() throws(OpenCLError) { try OpenCLError.check(clFinish(queue), "clFinish") }
}

public final class OpenCLProgram: @unchecked Sendable {
    let program: cl_program
    init(program: cl_program) { self.program = program }
    deinit { clReleaseProgram(program) }

    public func kernel(_ name: String) throws(OpenCLError) -> OpenCLKernel {
        var status: cl_int = 0
        guard let kernel = clCreateKernel(program, name, &status), status == CL_SUCCESS else { throw OpenCLError("clCreateKernel(\(name))", status) }
        return OpenCLKernel(kernel: kernel, name: name)
    }
}

public final class OpenCLKernel: @unchecked Sendable, Hashable {
    public static func == (a: OpenCLKernel, b: OpenCLKernel) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }

    let kernel: cl_kernel
    public let name: String
    init(kernel: cl_kernel, name: String) {
        self.kernel = kernel
        self.name = name
    }
    deinit { clReleaseKernel(kernel) }

    public func set(_ index: Int, _ buffer: OpenCLBuffer) throws(OpenCLError) {
        var memory: cl_mem? = buffer.memory
        try OpenCLError.check(clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &memory), "clSetKernelArg(\(name), \(index))")
    }

    public func set(_ index: Int, _ value: Int32) throws(OpenCLError) {
        var v = value
        try OpenCLError.check(clSetKernelArg(kernel, cl_uint(index), 4, &v), "clSetKernelArg(\(name), \(index))")
    }

    public func set(_ index: Int, _ value: UInt64) throws(OpenCLError) {
        var v = value
        try OpenCLError.check(clSetKernelArg(kernel, cl_uint(index), 8, &v), "clSetKernelArg(\(name), \(index))")
    }

    public func set(_ index: Int, _ value: Float) throws(OpenCLError) {
        var v = value
        try OpenCLError.check(clSetKernelArg(kernel, cl_uint(index), 4, &v), "clSetKernelArg(\(name), \(index))")
    }
}

public final class OpenCLBuffer: @unchecked Sendable {
    let memory: cl_mem
    public let count: Int
    /// A sub-buffer holds its parent alive.
    let parent: OpenCLBuffer?
    init(memory: cl_mem, count: Int, parent: OpenCLBuffer? = nil) {
        self.memory = memory
        self.count = count
        self.parent = parent
    }
    deinit { clReleaseMemObject(memory) }
}

/// Built programs on disk: `$XDG_CACHE_HOME/strata/opencl` (else `~/.cache/strata/opencl`;
/// `STRATA_PROGRAM_CACHE` names another folder, `off` turns it off), one binary per
/// (source, options, device, driver), written atomically with its length and checksum in front: an
/// entry that is truncated or damaged is discarded with a warning and rebuilt (a damaged binary
/// handed to a driver can abort the process), and so is a binary the driver refuses.
enum ProgramCache {
    static var folder: String? {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["STRATA_PROGRAM_CACHE"] { return dir == "off" ? nil : dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/strata/opencl" }
        guard let home = env["HOME"], !home.isEmpty else { return nil }
        return home + "/.cache/strata/opencl"
    }

    static func key(source: String, options: String, device: OpenCLDevice) -> String {
        var h = FNV1a()
        for part in [source, options, device.platformName, device.name, device.version, device.driver] {
            h.add(part)
            h.add(0xFF)
        }
        return h.hex
    }

    /// An entry: this line, the binary's length and FNV-1a hash (16 hex digits) on the next, then the binary.
    static let magic = "strata-program-cache 1\n"

    static func frame(_ binary: [UInt8]) -> Data {
        var h = FNV1a()
        binary.withUnsafeBytes { h.add($0) }
        return Data((magic + "\(binary.count) \(h.hex)\n").utf8) + Data(binary)
    }

    /// The binary of an entry, or nil (with the reason) when it is not a whole, undamaged entry.
    static func unframe(_ data: Data) -> (binary: Data?, problem: String?) {
        let bytes = [UInt8](data)
        let head = Array(magic.utf8)
        guard bytes.count > head.count, Array(bytes[0..<head.count]) == head,
              let end = bytes[head.count...].firstIndex(of: 0x0A) else { return (nil, "not a Strata program cache entry") }
        let fields = String(decoding: bytes[head.count..<end], as: UTF8.self).split(separator: " ")
        guard fields.count == 2, let length = Int(fields[0]) else { return (nil, "its header is damaged") }
        let binary = Array(bytes[(end + 1)...])
        guard binary.count == length else { return (nil, "it holds \(binary.count) bytes of a \(length)-byte binary (truncated?)") }
        var h = FNV1a()
        binary.withUnsafeBytes { h.add($0) }
        guard h.hex == fields[1] else { return (nil, "its checksum does not match (damaged)") }
        return (Data(binary), nil)
    }

    static func load(_ key: String, context: cl_context, device: cl_device_id, options: String) -> cl_program? {
        let path = folder.map { "\($0)/\(key).bin" }
        guard let path, let stored = FileManager.default.contents(atPath: path), !stored.isEmpty else { return nil }
        let (binary, problem) = unframe(stored)
        guard let data = binary, !data.isEmpty else {
            unlink(path)
            FileHandle.standardError.write(Data("warning: discarded the OpenCL program cache entry \(path): \(problem ?? "empty"); rebuilding it\n".utf8))
            return nil
        }
        var status: cl_int = 0, binaryStatus: cl_int = 0
        var id: cl_device_id? = device
        let program: cl_program? = data.withUnsafeBytes { raw in
            var length = raw.count
            var pointer: UnsafePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context, 1, &id, &length, &pointer, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else { return nil }
        guard clBuildProgram(program, 1, &id, options, nil, nil) == CL_SUCCESS else {
            clReleaseProgram(program)
            return nil
        }
        return program
    }

    static func store(_ key: String, program: cl_program) {
        guard let folder else { return }
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS, size > 0 else { return }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeMutableBufferPointer { buffer -> Bool in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &pointer, nil) == CL_SUCCESS
        }
        guard ok else { return }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? AtomicFile.write(frame(bytes), to: "\(folder)/\(key).bin")
    }
}
