import Foundation

/// Reads and writes `.npy` files (NumPy's format, versions 1–3): C-order arrays of float32/float64
/// (read as Float) or integers (read as Int32 labels).
public enum NumpyArray {
    public struct Array32: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }

        /// The first NaN or ±∞, as (image, position within the image, value), the array's first
        /// axis being the image.
        public func firstNonFinite() -> (image: Int, offset: Int, value: Float)? {
            guard let i = values.firstIndex(where: { !$0.isFinite }) else { return nil }
            let perImage = max(1, shape.dropFirst().reduce(1, *))
            return (i / perImage, i % perImage, values[i])
        }
    }

    /// What the header says.
    struct Header {
        var kind: Character     // f, i, u, b
        var size: Int
        var littleEndian: Bool
        var shape: [Int]
        var dataOffset: Int
        var count: Int
    }

    public static func readFloats(path: String) throws(FormatError) -> Array32 {
        try decodeFloats(FileCheck.contents(path), path: path)
    }

    /// `readFloats` on bytes in memory; `path` names them in errors.
    public static func decodeFloats(_ data: Data, path: String) throws(FormatError) -> Array32 {
        let header = try parseHeader(data, path: path)
        guard header.kind == "f" && (header.size == 4 || header.size == 8) else {
            throw FormatError(path: path, reason: "it holds \(describe(header)); Strata reads float32 or float64 arrays here")
        }
        var values = [Float](repeating: 0, count: header.count)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + header.dataOffset
            for i in 0..<header.count {
                if header.size == 4 {
                    let bits = base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                    values[i] = Float(bitPattern: header.littleEndian ? UInt32(littleEndian: bits) : UInt32(bigEndian: bits))
                } else {
                    let bits = base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                    values[i] = Float(Double(bitPattern: header.littleEndian ? UInt64(littleEndian: bits) : UInt64(bigEndian: bits)))
                }
            }
        }
        return Array32(shape: header.shape, values: values)
    }

    /// Integer labels (any integer type; float arrays of whole numbers are accepted too).
    public static func readLabels(path: String) throws(FormatError) -> (shape: [Int], values: [Int64]) {
        try decodeLabels(FileCheck.contents(path), path: path)
    }

    /// `readLabels` on bytes in memory.
    public static func decodeLabels(_ data: Data, path: String) throws(FormatError) -> (shape: [Int], values: [Int64]) {
        let header = try parseHeader(data, path: path)
        if header.kind == "f" {
            let floats = try decodeFloats(data, path: path)
            guard floats.values.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e9 }) else {
                throw FormatError(path: path, reason: "it holds floats that are not whole numbers; labels are class indices")
            }
            return (floats.shape, floats.values.map { Int64($0) })
        }
        guard header.kind == "i" || header.kind == "u" || header.kind == "b", [1, 2, 4, 8].contains(header.size) else {
            throw FormatError(path: path, reason: "it holds \(describe(header)); labels must be integers")
        }
        var values = [Int64](repeating: 0, count: header.count)
        var tooLarge: (Int, UInt64)?
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + header.dataOffset
            for i in 0..<header.count {
                var bits: UInt64 = 0
                for b in 0..<header.size {
                    let byte = UInt64(base.load(fromByteOffset: i * header.size + (header.littleEndian ? b : header.size - 1 - b), as: UInt8.self))
                    bits |= byte << (8 * UInt64(b))
                }
                if header.kind == "i" && header.size < 8 && bits >> (8 * UInt64(header.size) - 1) & 1 == 1 {
                    bits |= ~UInt64(0) << (8 * UInt64(header.size))   // sign-extend
                }
                values[i] = Int64(bitPattern: bits)
                if header.kind == "u" && header.size == 8 && bits > UInt64(Int64.max) { tooLarge = (i, bits) }
            }
        }
        if let (i, bits) = tooLarge {
            throw FormatError(path: path, reason: "label \(i) is \(bits), not a class index")
        }
        return (header.shape, values)
    }

    static func describe(_ h: Header) -> String {
        let names: [Character: String] = ["f": "float", "i": "int", "u": "uint", "b": "bool"]
        return "\(names[h.kind] ?? String(h.kind))\(h.kind == "b" ? "" : String(h.size * 8)) values"
    }

    /// Parses the header: the magic, the version, and the Python dict literal
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` with exactly those three keys.
    static func parseHeader(_ data: Data, path: String) throws(FormatError) -> Header {
        func fail(_ reason: String) -> FormatError { FormatError(path: path, reason: reason) }
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw fail("it is not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        guard major >= 1 && major <= 3 else { throw fail("it is .npy version \(major); Strata reads versions 1 to 3") }
        let (lengthBytes, start) = major == 1 ? (2, 10) : (4, 12)
        guard bytes.count >= start else { throw fail("its header is truncated") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        guard headerLength < 1 << 20, start + headerLength <= data.count else { throw fail("its header is truncated") }
        let headerBytes = [UInt8](data[(data.startIndex + start)..<(data.startIndex + start + headerLength)])
        guard let text = major == 3 ? String(validating: headerBytes, as: UTF8.self) : String(bytes: headerBytes, encoding: .isoLatin1) else {
            throw fail("its header is not text")
        }
        let fields: [String: DictValue]
        do { fields = try DictLiteral.parse(text) } catch { throw fail("its header \(error)") }
        guard Set(fields.keys) == ["descr", "fortran_order", "shape"] else {
            throw fail("its header has the keys \(fields.keys.sorted()); a .npy header has exactly 'descr', 'fortran_order' and 'shape'")
        }
        guard case .string(let descrText)? = fields["descr"] else { throw fail("its header's 'descr' is not a string") }
        guard case .bool(let fortran)? = fields["fortran_order"] else { throw fail("its header's 'fortran_order' is not True or False") }
        guard case .tuple(let shape)? = fields["shape"] else { throw fail("its header's 'shape' is not a tuple of whole numbers") }
        if fortran { throw fail("it is in Fortran order; save it in C order (np.ascontiguousarray)") }
        let descr = Array(descrText)
        guard descr.count >= 3, "<>|=".contains(descr[0]), "fiub".contains(descr[1]), let size = Int(String(descr[2...])), [1, 2, 4, 8].contains(size) else {
            throw fail("its dtype '\(descrText)' is not one Strata reads (float, int, uint or bool of 1 to 8 bytes)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("its shape \(shape) has a negative size") }
        let offset = start + headerLength
        guard let count = Checked.product(shape), let bytesNeeded = Checked.product([count, size]) else {
            throw fail("its shape \(shape) is too large to hold")
        }
        guard data.count - offset >= bytesNeeded else {
            throw fail("it should hold \(count) values of \(size) bytes but has \(data.count - offset) data bytes; the file is truncated")
        }
        return Header(kind: descr[1], size: size, littleEndian: descr[0] != ">", shape: shape, dataOffset: offset, count: count)
    }

    enum DictValue { case string(String), bool(Bool), tuple([Int]), number(String) }

    /// The subset of Python literals a .npy header uses: a dict of quoted keys to quoted strings,
    /// True/False, or tuples of integers. Duplicate keys are an error.
    enum DictLiteral {
        struct Failure: Error, CustomStringConvertible { var description: String }

        static func parse(_ text: String) throws -> [String: DictValue] {
            var s = Substring(text)
            func space() { s = s.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" } }
            func take(_ c: Character) throws {
                space()
                guard s.first == c else { throw Failure(description: "is not a Python dict literal (expected '\(c)')") }
                s = s.dropFirst()
            }
            func quoted() throws -> String {
                space()
                guard let q = s.first, q == "'" || q == "\"" else { throw Failure(description: "is not a Python dict literal (expected a quoted string)") }
                s = s.dropFirst()
                guard let close = s.firstIndex(of: q) else { throw Failure(description: "has an unterminated string") }
                let value = String(s[..<close])
                s = s[s.index(after: close)...]
                return value
            }
            try take("{")
            var out: [String: DictValue] = [:]
            while true {
                space()
                if s.first == "}" { s = s.dropFirst(); break }
                let key = try quoted()
                guard out[key] == nil else { throw Failure(description: "names '\(key)' twice") }
                try take(":")
                space()
                if s.hasPrefix("True") { out[key] = .bool(true); s = s.dropFirst(4) }
                else if s.hasPrefix("False") { out[key] = .bool(false); s = s.dropFirst(5) }
                else if s.first == "(" {
                    s = s.dropFirst()
                    var dims: [Int] = []
                    while true {
                        space()
                        if s.first == ")" { s = s.dropFirst(); break }
                        let digits = s.prefix { $0.isASCII && $0.isNumber }
                        guard !digits.isEmpty, let d = Int(digits) else { throw Failure(description: "has a shape that is not a tuple of whole numbers") }
                        dims.append(d)
                        s = s.dropFirst(digits.count)
                        space()
                        if s.first == "," { s = s.dropFirst() } else if s.first != ")" {
                            throw Failure(description: "has a shape that is not a tuple of whole numbers")
                        }
                    }
                    out[key] = .tuple(dims)
                } else if let c = s.first, c.isNumber || c == "-" {
                    let text = s.prefix { $0.isNumber || "-+.eE".contains($0) }
                    out[key] = .number(String(text))
                    s = s.dropFirst(text.count)
                } else {
                    out[key] = .string(try quoted())
                }
                space()
                if s.first == "," { s = s.dropFirst(); continue }
                try take("}")
                break
            }
            space()
            guard s.isEmpty else { throw Failure(description: "has text after its dict") }
            return out
        }
    }

    /// Writes a float32 C-order array (version 1 header, padded to 64 bytes), atomically.
    public static func write(_ array: Array32, path: String) throws(FormatError) {
        var data = header(descr: "<f4", shape: array.shape)
        array.values.withUnsafeBufferPointer { v in v.withMemoryRebound(to: UInt8.self) { data.append($0) } }
        try AtomicFile.write(data, to: path)
    }

    /// Writes an int32 C-order array (class indices, map numbers), atomically.
    public static func write(int32 values: [Int32], shape: [Int], path: String) throws(FormatError) {
        var data = header(descr: "<i4", shape: shape)
        values.withUnsafeBufferPointer { v in v.withMemoryRebound(to: UInt8.self) { data.append($0) } }
        try AtomicFile.write(data, to: path)
    }

    static func header(descr: String, shape dims: [Int]) -> Data {
        let shape = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data
    }
}
