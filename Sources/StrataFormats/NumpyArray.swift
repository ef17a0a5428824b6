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
        let (data, header) = try load(path)
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
        let (data, header) = try load(path)
        if header.kind == "f" {
            let floats = try readFloats(path: path)
            guard floats.values.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e9 }) else {
                throw FormatError(path: path, reason: "it holds floats that are not whole numbers; labels are class indices")
            }
            return (floats.shape, floats.values.map { Int64($0) })
        }
        guard header.kind == "i" || header.kind == "u" || header.kind == "b", [1, 2, 4, 8].contains(header.size) else {
            throw FormatError(path: path, reason: "it holds \(describe(header)); labels must be integers")
        }
        var values = [Int64](repeating: 0, count: header.count)
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
            }
        }
        return (header.shape, values)
    }

    static func describe(_ h: Header) -> String {
        let names: [Character: String] = ["f": "float", "i": "int", "u": "uint", "b": "bool"]
        return "\(names[h.kind] ?? String(h.kind))\(h.kind == "b" ? "" : String(h.size * 8)) values"
    }

    static func load(_ path: String) throws(FormatError) -> (Data, Header) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FormatError(path: path, reason: "cannot read it: \(FormatError.describe(error))")
        }
        return (data, try parseHeader(data, path: path))
    }

    static func parseHeader(_ data: Data, path: String) throws(FormatError) -> Header {
        func fail(_ reason: String) -> FormatError { FormatError(path: path, reason: reason) }
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw fail("it is not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let (lengthBytes, start) = major == 1 ? (2, 10) : (4, 12)
        guard major >= 1 && major <= 3, bytes.count >= start else { throw fail("it is .npy version \(major); Strata reads versions 1 to 3") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        guard start + headerLength <= data.count, headerLength < 1 << 20 else { throw fail("its header is truncated") }
        guard let text = String(data: data.subdata(in: (data.startIndex + start)..<(data.startIndex + start + headerLength)), encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw fail("its header is not text")
        }
        func field(_ key: String) -> String? {
            guard let range = text.range(of: "'\(key)':") else { return nil }
            return String(text[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(where: { $0 == "'" || $0 == "\"" }) else { throw fail("its header has no 'descr'") }
        let afterQuote = descrField[descrField.index(after: q1)...]
        guard let q2 = afterQuote.firstIndex(where: { $0 == "'" || $0 == "\"" }) else { throw fail("its header's 'descr' is malformed") }
        let descr = Array(afterQuote[..<q2])
        guard descr.count >= 3, let size = Int(String(descr[2...])) else { throw fail("its dtype '\(String(descr))' is not one Strata reads") }
        guard let fortran = field("fortran_order") else { throw fail("its header has no 'fortran_order'") }
        if fortran.hasPrefix("True") { throw fail("it is in Fortran order; save it in C order (np.ascontiguousarray)") }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else {
            throw fail("its header has no 'shape'")
        }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, shape.allSatisfy({ $0 >= 0 }) else { throw fail("its shape '\(shapeField[open...close])' is malformed") }
        let count = shape.reduce(1, *)
        let offset = start + headerLength
        guard data.count - offset >= count * size else {
            throw fail("it should hold \(count) values of \(size) bytes but has \(data.count - offset) data bytes; the file is truncated")
        }
        return Header(kind: descr[1], size: size, littleEndian: descr[0] != ">", shape: shape, dataOffset: offset, count: count)
    }

    /// Writes a float32 C-order array (version 1 header, padded to 64 bytes), atomically.
    public static func write(_ array: Array32, path: String) throws(FormatError) {
        let shape = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        array.values.withUnsafeBufferPointer { v in v.withMemoryRebound(to: UInt8.self) { data.append($0) } }
        try AtomicFile.write(data, to: path)
    }
}
