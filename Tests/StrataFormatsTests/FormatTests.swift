import Foundation
@testable import StrataFormats
import Testing

@Suite("safetensors")
struct SafetensorsTests {
    func temporary(_ name: String) -> String { NSTemporaryDirectory() + "strata-format-\(UUID().uuidString)-\(name)" }

    @Test func roundTripsTensorsAndMetadata() throws {
        let file = Safetensors.File(tensors: [("conv1.weight", .init(shape: [2, 1, 2, 2], values: (0..<8).map(Float.init))),
                                              ("conv1.bias", .init(shape: [2], values: [0.5, -1]))],
                                    metadata: ["network": "tiny"])
        let path = temporary("w.safetensors")
        defer { unlink(path) }
        try Safetensors.write(file, path: path)
        let back = try Safetensors.read(path: path)
        #expect(back.tensors == file.tensors)
        #expect(back.order == ["conv1.weight", "conv1.bias"])
        #expect(back.metadata == ["network": "tiny"])
    }

    /// The layout other implementations expect: an 8-byte little-endian length, a JSON header padded
    /// to 8 bytes, F32 data in the header's order.
    @Test func writesTheStandardLayout() throws {
        let data = Safetensors.encode(Safetensors.File(tensors: [("a", .init(shape: [2], values: [1, 2]))]))
        let length = Int(data[0]) | Int(data[1]) << 8
        #expect((8 + length) % 8 == 0)
        let header = String(decoding: data[8..<(8 + length)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#))
        #expect(Array(data[(8 + length)...]) == [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        // Metadata first, its keys sorted; the tensors in the file's order; no spaces but the padding.
        let more = Safetensors.encode(Safetensors.File(tensors: [("z", .init(shape: [1, 1], values: [1])), ("b\"", .init(shape: [], values: [2]))],
                                                       metadata: ["step": "3", "classes": #"["a","b"]"#]))
        let moreLength = Int(more[0]) | Int(more[1]) << 8
        #expect(String(decoding: more[8..<(8 + moreLength)], as: UTF8.self) == #"{"__metadata__":{"classes":"[\"a\",\"b\"]","step":"3"},"#
                + #""z":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b\"":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}"# + "    ")
    }

    @Test func readsHalfAndDoublePrecision() throws {
        // {"h": F16 [1.5], "d": F64 [2.25], "b": BF16 [-2]}
        let header = #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"d":{"dtype":"F64","shape":[1],"data_offsets":[2,10]},"b":{"dtype":"BF16","shape":[],"data_offsets":[10,12]}}"#
        var data = Data([UInt8(header.utf8.count), 0, 0, 0, 0, 0, 0, 0]) + Data(header.utf8)
        data.append(contentsOf: [0x00, 0x3E])                                   // 1.5 in F16
        withUnsafeBytes(of: (2.25).bitPattern.littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: [0x00, 0xC0])                                   // -2 in BF16
        let file = try Safetensors.decode(data, path: "mixed")
        #expect(file.tensors["h"]?.values == [1.5])
        #expect(file.tensors["d"]?.values == [2.25])
        #expect(file.tensors["b"]?.values == [-2] && file.tensors["b"]?.shape == [])
    }

    @Test(arguments: [
        ("empty", Data(), "too short"),
        ("huge header length", Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x7B, 0x7D]), "header claims"),
        ("header not JSON", Data([4, 0, 0, 0, 0, 0, 0, 0]) + Data("nope".utf8), "not valid JSON"),
        ("offsets past the end", Data([UInt8(58), 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}    "#.utf8) + Data([0, 0, 0, 0]), "truncated or corrupt"),
        ("size mismatch", Data([UInt8(58), 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}    "#.utf8) + Data(count: 16), "truncated or corrupt"),
        ("unknown dtype", Data([UInt8(56), 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}    "#.utf8) + Data(count: 1), "Strata reads F32"),
        ("missing fields", Data([UInt8(16), 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"a":{"x":1}}   "#.utf8), "lacks"),
    ])
    func malformedFilesAreErrorsNotCrashes(name: String, data: Data, expected: String) {
        let error = #expect(throws: FormatError.self, "\(name)") { try Safetensors.decode(data, path: "bad.safetensors") }
        #expect(error?.reason.contains(expected) == true, "\(name): \(error?.reason ?? "")")
    }

    @Test func everyTruncationOfAValidFileIsAnError() throws {
        let data = Safetensors.encode(Safetensors.File(tensors: [("w", .init(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])), ("b", .init(shape: [3], values: [7, 8, 9]))]))
        for length in 0..<data.count {
            #expect(throws: FormatError.self) { try Safetensors.decode(data.prefix(length), path: "cut") }
        }
    }

    @Test func missingFilesSayWhy() {
        let error = #expect(throws: FormatError.self) { try Safetensors.read(path: "/nonexistent/w.safetensors") }
        #expect(error?.description == "/nonexistent/w.safetensors: cannot read it: No such file or directory")
    }

    @Test func writesAtomically() throws {
        let path = temporary("atomic.safetensors")
        defer { unlink(path) }
        try Safetensors.write(Safetensors.File(tensors: [("a", .init(shape: [1], values: [1]))]), path: path)
        try Safetensors.write(Safetensors.File(tensors: [("a", .init(shape: [1], values: [2]))]), path: path)
        #expect(try Safetensors.read(path: path).tensors["a"]?.values == [2])
        let siblings = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.contains("atomic.safetensors.tmp") }
        #expect(siblings.isEmpty)
        #expect(throws: FormatError.self) { try Safetensors.write(.init(), path: "/nonexistent/dir/w.safetensors") }
        // A file written over keeps its permissions.
        chmod(path, 0o600)
        try AtomicFile.write(Data("x".utf8), to: path)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }
}

@Suite("npy")
struct NumpyTests {
    @Test func roundTripsFloat32() throws {
        let path = NSTemporaryDirectory() + "strata-\(UUID().uuidString).npy"
        defer { unlink(path) }
        let array = NumpyArray.Array32(shape: [2, 1, 2, 3], values: (0..<12).map { Float($0) / 4 })
        try NumpyArray.write(array, path: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        #expect((10 + Int(data[8]) | Int(data[9]) << 8) % 64 == 0)
        #expect(String(decoding: data[10..<80], as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }"))
        #expect(try NumpyArray.readFloats(path: path) == array)
    }

    func npy(_ descr: String, shape: String, payload: [UInt8], version: UInt8 = 1) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let prefix = version == 1 ? 10 : 12
        while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        let n = header.utf8.count
        data.append(contentsOf: version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8), 0, 0])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }

    func write(_ data: Data) throws -> String {
        let path = NSTemporaryDirectory() + "strata-\(UUID().uuidString).npy"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func readsIntegerLabelsOfEveryWidth() throws {
        let cases: [(String, [UInt8])] = [("|u1", [3, 255]), ("<i2", [3, 0, 0xFF, 0xFF]), ("<i4", [3, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF]),
                                          ("<i8", [3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]), (">i4", [0, 0, 0, 3, 0, 0, 0, 7])]
        let expected: [[Int64]] = [[3, 255], [3, -1], [3, -2], [3, 9], [3, 7]]
        for ((descr, payload), want) in zip(cases, expected) {
            let path = try write(npy(descr, shape: "(2,)", payload: payload))
            defer { unlink(path) }
            #expect(try NumpyArray.readLabels(path: path).values == want, "\(descr)")
        }
    }

    @Test func readsFloat64AndVersion2() throws {
        var payload: [UInt8] = []
        for v in [1.5, -2.0] { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload += $0 } }
        let path = try write(npy("<f8", shape: "(2,)", payload: payload, version: 2))
        defer { unlink(path) }
        #expect(try NumpyArray.readFloats(path: path).values == [1.5, -2])
    }

    @Test(arguments: [
        ("not npy", Data("hello world!".utf8), "not a .npy file"),
        ("truncated data", Data(), "truncated"),
        ("fortran order", Data(), "Fortran order"),
        ("strings", Data(), "not one Strata reads"),
    ])
    func malformedArraysAreErrors(name: String, raw: Data, expected: String) throws {
        let data: Data
        switch name {
        case "truncated data": data = npy("<f4", shape: "(4,)", payload: [0, 0, 0, 0])
        case "fortran order": data = npy("<f4", shape: "(1,)", payload: [0, 0, 0, 0]).replacing(Data("False".utf8), with: Data("True ".utf8))
        case "strings": data = npy("<U3", shape: "(1,)", payload: Array(repeating: 0, count: 12))
        default: data = raw
        }
        let path = try write(data)
        defer { unlink(path) }
        let error = #expect(throws: FormatError.self) { try NumpyArray.readFloats(path: path) }
        #expect(error?.reason.contains(expected) == true, "\(name): \(error?.reason ?? "")")
    }
}
