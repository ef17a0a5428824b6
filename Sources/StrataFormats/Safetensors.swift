import Foundation

/// Reads and writes safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length, a JSON header `{"NAME": {"dtype", "shape", "data_offsets"}, ...,
/// "__metadata__": {...}}`, then the raw little-endian data. PyTorch's `safetensors.torch`
/// reads what we write and we read what it writes (F32; F64, F16 and BF16 are converted).
public enum Safetensors {
    public struct Tensor: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]

        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }
    }

    public struct File: Sendable {
        /// Tensors by name, and the order they appear in the file.
        public var tensors: [String: Tensor]
        public var order: [String]
        public var metadata: [String: String]

        public init(tensors: [(String, Tensor)] = [], metadata: [String: String] = [:]) {
            self.tensors = Dictionary(tensors, uniquingKeysWith: { _, b in b })
            self.order = tensors.map(\.0)
            self.metadata = metadata
        }
    }

    /// Headers larger than this are refused (real ones are kilobytes).
    public static let maximumHeaderBytes = 100 << 20

    public static func read(path: String) throws(FormatError) -> File {
        try decode(FileCheck.contents(path), path: path)
    }

    public static func decode(_ data: Data, path: String) throws(FormatError) -> File {
        func fail(_ reason: String) -> FormatError { FormatError(path: path, reason: reason) }
        guard data.count >= 8 else { throw fail("it is \(data.count) bytes, too short for a safetensors file (8-byte header length)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maximumHeaderBytes), Int(headerLength) <= data.count - 8 else {
            throw fail("its header claims \(headerLength) bytes but the file has \(data.count - 8) after the length; the file is truncated or not safetensors")
        }
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(data[(data.startIndex + 8)..<(data.startIndex + 8 + Int(headerLength))]) } catch {
            throw fail("its header is not valid JSON: \(error)")
        }
        guard case .object(let header) = parsed else { throw fail("its header is not a JSON object") }
        let dataStart = 8 + Int(headerLength)
        let dataCount = data.count - dataStart
        var file = File()
        var entries: [(name: String, start: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard case .object(let members) = value else { throw fail("'__metadata__' is not an object") }
                for (k, v) in members {
                    guard let text = v.text else { throw fail("'__metadata__' entry '\(k)' is not a string") }
                    file.metadata[k] = text
                }
                continue
            }
            guard let dtype = value["dtype"]?.text, case .array(let shapeItems)? = value["shape"],
                  case .array(let offsetItems)? = value["data_offsets"] else {
                throw fail("tensor '\(name)' lacks 'dtype', 'shape' or 'data_offsets'")
            }
            let shape = shapeItems.compactMap(\.integer), offsets = offsetItems.compactMap(\.integer)
            guard shape.count == shapeItems.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)' has the shape \(JSONValue.array(shapeItems).text()); a shape is a list of whole numbers ≥ 0")
            }
            guard offsets.count == 2, offsetItems.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw fail("tensor '\(name)' has the data_offsets \(JSONValue.array(offsetItems).text()); they are two whole numbers, begin ≤ end")
            }
            guard let size = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2][dtype] else {
                throw fail("tensor '\(name)' has dtype \(dtype); Strata reads F32, F64, F16 and BF16")
            }
            guard let count = Checked.product(shape), let bytes = Checked.product([count, size]),
                  offsets[1] <= dataCount, offsets[1] - offsets[0] == bytes else {
                throw fail("tensor '\(name)' (\(dtype) \(shape)) has data_offsets \(offsets) that do not fit its size or the file's \(dataCount) data bytes; the file is truncated or corrupt")
            }
            entries.append((name, offsets[0], offsets[1]))
        }
        // As the reference implementation demands: the tensors tile the data, in some order, with no overlap or gap.
        entries.sort { ($0.start, $0.end, $0.name) < ($1.start, $1.end, $1.name) }
        var end = 0
        for e in entries {
            guard e.start == end else {
                throw fail(e.start < end ? "tensor '\(e.name)' overlaps the tensor before it (data_offsets from \(e.start), the previous one ends at \(end)); the file is corrupt"
                                         : "the data bytes \(end)..<\(e.start) belong to no tensor; the file is corrupt")
            }
            end = e.end
        }
        guard end == dataCount else { throw fail("the last \(dataCount - end) data bytes belong to no tensor; the file is corrupt") }
        for (name, value) in header where name != "__metadata__" {
            let dtype = value["dtype"]!.text!
            guard case .array(let shapeItems)? = value["shape"], case .array(let offsetItems)? = value["data_offsets"] else { continue }
            let shape = shapeItems.map { $0.integer! }, start = offsetItems[0].integer!
            let count = shape.reduce(1, *)
            let base = data.startIndex + dataStart + start
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let bytes = raw.baseAddress! + (base - data.startIndex)
                for i in 0..<count {
                    switch dtype {
                    case "F32": values[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    case "F64": values[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                    case "F16": values[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
                    default: values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16)
                    }
                }
            }
            file.tensors[name] = Tensor(shape: shape, values: values)
        }
        file.order = entries.map(\.name)
        return file
    }

    /// The file's bytes: F32 tensors in `order`, header padded with spaces to 8 bytes.
    public static func encode(_ file: File) -> Data {
        var members: [(String, JSONValue)] = []
        if !file.metadata.isEmpty {
            members.append(("__metadata__", .object(file.metadata.keys.sorted().map { ($0, .string(file.metadata[$0]!)) })))
        }
        var offset = 0
        for name in file.order {
            let t = file.tensors[name]!
            let bytes = t.values.count * 4
            members.append((name, ["dtype": "F32", "shape": .ints(t.shape), "data_offsets": .ints([offset, offset + bytes])]))
            offset += bytes
        }
        var header = JSONValue.object(members).text(.minimal)
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data()
        let length = UInt64(header.utf8.count)
        for i in 0..<8 { data.append(UInt8((length >> (8 * UInt64(i))) & 0xFF)) }
        data.append(contentsOf: Array(header.utf8))
        data.reserveCapacity(data.count + offset)
        for name in file.order {
            file.tensors[name]!.values.withUnsafeBufferPointer { values in
                values.withMemoryRebound(to: UInt8.self) { data.append($0) }   // little-endian hosts only
            }
        }
        return data
    }

    /// Writes atomically: a temporary file beside the target, fsync, rename.
    public static func write(_ file: File, path: String) throws(FormatError) {
        try AtomicFile.write(encode(file), to: path)
    }
}

/// A file that could not be read or written, with the path and a reason in words.
public struct FormatError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain, let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain, let message = strerror(Int32(underlying.code)) {
            return String(cString: message)
        }
        if ns.domain == NSCocoaErrorDomain && (ns.code == NSFileReadNoSuchFileError || ns.code == NSFileNoSuchFileError) {
            return "No such file or directory"
        }
        return ns.localizedDescription
    }
}

/// The one way Strata writes a file: a temporary sibling (created exclusively, never through a
/// link), written and fsynced, renamed over the target, then the folder fsynced, so a kill at any
/// moment leaves the old file or the new one, whole. A target that exists and is not a regular
/// file (a device, a FIFO, a socket, a symbolic link, a folder) is refused, never replaced.
public enum AtomicFile {
    nonisolated(unsafe) private static var counter = 0
    private static let lock = NSLock()

    /// The paths written while a recorder is bound (`AtomicFile.$recorder.withValue(Recorder())`):
    /// what one command wrote, for its run record. Task-local, so commands run side by side (tests)
    /// each see their own.
    public final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String] = []
        public init() {}
        func add(_ path: String) { lock.withLock { list.append(path) } }
        public var paths: [String] { lock.withLock { list } }
    }
    @TaskLocal public static var recorder: Recorder?

    /// What kind of thing `path` is when it exists and is not a regular file ("a FIFO", ...); nil
    /// when it is a regular file or does not exist.
    public static func specialKind(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a folder"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR, S_IFBLK: return "a device"
        default: return "not a regular file"
        }
    }

    public static func write(_ data: Data, to path: String) throws(FormatError) {
        if let kind = specialKind(path) {
            throw FormatError(path: path, reason: "it exists and is \(kind); Strata writes only regular files (choose another path)")
        }
        let n: Int = lock.withLock { counter += 1; return counter }
        let temporary = path + ".tmp-\(getpid())-\(n)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError(path: path, reason: "cannot write it: \(String(cString: strerror(errno)))") }
        // A file written over keeps its permissions (a 0600 spec stays 0600).
        var existing = stat()
        if stat(path, &existing) == 0 { _ = fchmod(fd, existing.st_mode & 0o7777) }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; ok = false; return }
                offset += n
            }
        }
        let reason = ok ? nil : String(cString: strerror(errno))
        if fsync(fd) != 0 { ok = false }
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let why = reason ?? String(cString: strerror(errno))
            unlink(temporary)
            throw FormatError(path: path, reason: "cannot write it: \(why)")
        }
        // The rename itself is durable once the folder is.
        let folder = (path as NSString).deletingLastPathComponent
        let dfd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
        recorder?.add(path)
    }
}
