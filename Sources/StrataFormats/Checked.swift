import Foundation

/// Sizes computed from numbers in files and on the command line, checked: an overflow is nil,
/// never a trap or a wrapped value.
public enum Checked {
    /// The product of `factors` (1 for none), or nil when it overflows Int or a factor is negative.
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (r, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            result = r
        }
        return result
    }

    /// a + b, or nil on overflow.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : r
    }
}

/// What is at a path, checked before reading it, so that a folder, a device or a pipe gets a
/// message in words rather than a system error (or a read that never ends).
public enum FileCheck {
    /// The bytes of a regular file (memory-mapped when `mapped`).
    public static func contents(_ path: String, mapped: Bool = true) throws(FormatError) -> Data {
        try regularFile(path)
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: mapped ? .alwaysMapped : []) } catch {
            throw FormatError(path: path, reason: "cannot read it: \(FormatError.describe(error))")
        }
    }

    /// Throws unless `path` names a regular file (after following links).
    public static func regularFile(_ path: String) throws(FormatError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw FormatError(path: path, reason: "cannot read it: \(String(cString: strerror(errno)))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw FormatError(path: path, reason: "it is a folder; a file is expected here")
        default: throw FormatError(path: path, reason: "it is not a regular file (a device, a pipe or a socket); give a file")
        }
    }

    /// mkdir -p, with messages in words: a part of the path that exists and is not a folder, or
    /// cannot be created.
    /// A folder a command will write into, made and checked before the work: it must be (or become)
    /// a folder this process can create files in.
    public static func prepareOutputFolder(_ path: String) throws(FormatError) {
        try makeDirectory(path)
        let probe = (path.isEmpty ? "." : path) + "/.strata-write-check-\(getpid())"
        unlink(probe)   // one a killed run of the same process id left
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FormatError(path: path, reason: "cannot write in this folder: \(String(cString: strerror(errno)))") }
        close(fd)
        unlink(probe)
    }

    public static func makeDirectory(_ path: String) throws(FormatError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            if stat(current, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else {
                    throw FormatError(path: String(current.hasPrefix("./") ? current.dropFirst(2) : current[...]), reason: "it exists and is not a folder")
                }
                continue
            }
            guard mkdir(current, 0o755) == 0 || errno == EEXIST else {
                throw FormatError(path: String(current.hasPrefix("./") ? current.dropFirst(2) : current[...]), reason: "cannot create the folder: \(String(cString: strerror(errno)))")
            }
        }
    }
}
