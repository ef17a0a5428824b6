import Foundation
@testable import StrataFormats
import Testing

/// A safetensors file from a header text and data bytes, as a hostile file would be written.
func safetensors(_ header: String, data: [UInt8] = []) -> Data {
    var bytes = Data()
    let length = UInt64(header.utf8.count)
    for i in 0..<8 { bytes.append(UInt8((length >> (8 * UInt64(i))) & 0xFF)) }
    return bytes + Data(header.utf8) + Data(data)
}

/// Headers and sizes that used to be accepted loosely, overflow, or trap: each is now an error in words.
@Suite("strict readers")
struct StrictReaderTests {
    @Test(arguments: [
        ("a fractional shape", #"{"a":{"dtype":"F32","shape":[10.7],"data_offsets":[0,40]}}"#, 40, "list of whole numbers"),
        ("fractional offsets", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4.5]}}"#, 4, "two whole numbers"),
        ("a shape of 2^62", #"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, 4, "do not fit"),
        ("a shape product that overflows", #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, 4, "do not fit"),
        ("offsets beyond Int", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}"#, 4, "two whole numbers"),
        ("overlapping tensors", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, "overlaps"),
        ("a gap", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "belong to no tensor"),
        ("bytes after the last tensor", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "belong to no tensor"),
        ("a duplicate tensor", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "appears twice"),
        ("a duplicate field", #"{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}"#, 4, "appears twice"),
        ("metadata that is not text", #"{"__metadata__":{"epoch":3}}"#, 0, "not a string"),
        ("deep nesting", String(repeating: "[", count: 100_000), 0, "nesting deeper"),
    ])
    func safetensorsHeadersAreStrict(name: String, header: String, dataBytes: Int, expected: String) {
        let error = #expect(throws: FormatError.self, "\(name)") {
            try Safetensors.decode(safetensors(header, data: [UInt8](repeating: 0, count: dataBytes)), path: "bad.safetensors")
        }
        #expect(error?.reason.contains(expected) == true, "\(name): \(error?.reason ?? "no error")")
    }

    @Test func aValidHeaderWithPaddingStillReads() throws {
        let file = try Safetensors.decode(safetensors(#"{"__metadata__":{"k":"v\u00e9"},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   "#,
                                                      data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]), path: "ok")
        #expect(file.order == ["a", "b"] && file.tensors["a"]?.values == [1] && file.tensors["b"]?.values == [2])
        #expect(file.metadata["k"] == "vé")
    }

    @Test func theJSONReaderKeepsNumbersAsWritten() throws {
        let v = try JSONValue.parse(Array(#"{"a": [1, -2, 3.5e2, true, null, "x\n\ud83d\ude00"]}"#.utf8))
        guard case .array(let items)? = v["a"] else { Issue.record("no array"); return }
        #expect(items.map(\.integer) == [1, -2, nil, nil, nil, nil])
        #expect(items[5].text == "x\n😀")
        for bad in ["{\"a\":1,}", "[01]", "[1.]", "\"\\ud800\"", "{\"a\" 1}", "[1] x", "\"a\tb\""] {
            #expect(throws: JSONError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }

    func npy(_ dict: String, payload: [UInt8] = []) -> Data {
        var header = dict
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data + Data(payload)
    }

    @Test(arguments: [
        ("fortran_order 1", "{'descr': '<f4', 'fortran_order': 1, 'shape': (1,), }", "not True or False"),
        ("fortran_order True", "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "Fortran order"),
        ("an extra key", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "exactly"),
        ("a missing key", "{'descr': '<f4', 'shape': (1,), }", "exactly"),
        ("a duplicate key", "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "twice"),
        ("a shape of 2^62", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", "too large"),
        ("a shape product that overflows", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "too large"),
        ("a fractional shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,), }", "whole numbers"),
        ("a 16-byte float", "{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", "not one Strata reads"),
        ("not a dict", "[1, 2]", "not a Python dict"),
    ])
    func npyHeadersAreStrict(name: String, dict: String, expected: String) {
        let error = #expect(throws: FormatError.self, "\(name)") { try NumpyArray.decodeFloats(npy(dict, payload: [0, 0, 0, 0]), path: "bad.npy") }
        #expect(error?.reason.contains(expected) == true, "\(name): \(error?.reason ?? "no error")")
    }

    @Test func uint64LabelsAbove2To63AreNamedNotNegative() throws {
        let data = npy("{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }", payload: [1, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        let error = #expect(throws: FormatError.self) { try NumpyArray.decodeLabels(data, path: "y.npy") }
        #expect(error?.reason == "label 1 is 18446744073709551615, not a class index")
    }

    @Test func foldersDevicesAndPipesAreNamedAsSuch() throws {
        let folder = #expect(throws: FormatError.self) { try Safetensors.read(path: NSTemporaryDirectory()) }
        #expect(folder?.reason == "it is a folder; a file is expected here")
        let device = #expect(throws: FormatError.self) { try NumpyArray.readFloats(path: "/dev/null") }
        #expect(device?.reason.contains("not a regular file") == true)
        let fifo = NSTemporaryDirectory() + "strata-fifo-\(UUID().uuidString)"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let pipe = #expect(throws: FormatError.self) { try Images.decode(path: fifo, channels: 1) }   // would block forever if opened
        #expect(pipe?.reason.contains("not a regular file") == true)
    }

    @Test func directoriesAreMadeOrNamedInWords() throws {
        let base = NSTemporaryDirectory() + "strata-dirs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileCheck.makeDirectory(base + "/a/b")
        try FileCheck.makeDirectory(base + "/a/b")
        FileManager.default.createFile(atPath: base + "/file", contents: Data())
        let error = #expect(throws: FormatError.self) { try FileCheck.makeDirectory(base + "/file/run") }
        #expect(error?.description == base + "/file: it exists and is not a folder")
    }

    @Test func checkedArithmeticNeverTraps() {
        #expect(Checked.product([]) == 1)
        #expect(Checked.product([3, 4, 5]) == 60)
        #expect(Checked.product([1 << 32, 1 << 32]) == nil)
        #expect(Checked.product([2, -1]) == nil)
        #expect(Checked.sum(Int.max, 1) == nil)
    }
}

/// Images whose headers promise more pixels than anyone should decode.
@Suite("image limits")
struct ImageLimitTests {
    /// A PNG of just a signature, an IHDR chunk (valid CRC) and an empty IDAT, declaring `width` × `height`.
    func pngHeader(width: UInt32, height: UInt32) -> Data {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let body = Array("IHDR".utf8) + be(width) + be(height) + [8, 2, 0, 0, 0]
        let idat = Array("IDAT".utf8)
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be(13) + body + be(crc32(body)) + be(0) + idat + be(crc32(idat)))
    }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    @Test func aHugePNGIsRefusedBeforeDecoding() {
        let error = #expect(throws: FormatError.self) { try Images.decode(pngHeader(width: 16384, height: 16384), path: "huge.png", channels: 3) }
        #expect(error?.reason.contains("16384×16384 pixels, more than") == true, "\(error?.reason ?? "")")
    }

    /// The issue's 2 KB JPEG that declares 16000×16000: at full size it is refused, and where the
    /// network needs little, it decodes at 1/8 and fails as the truncated file it is.
    @Test func aJPEGDeclaringHugeSizeIsRefusedOrUnreadable() throws {
        var jpeg = [UInt8](try Images.encodeJPEG(Images.Image(channels: 3, height: 16, width: 16, pixels: [Float](repeating: 90, count: 768))))
        guard let sof = (0..<(jpeg.count - 9)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else { Issue.record("no SOF0"); return }
        jpeg[sof + 5] = 0x3E; jpeg[sof + 6] = 0x80; jpeg[sof + 7] = 0x3E; jpeg[sof + 8] = 0x80   // 16000 × 16000
        let full = #expect(throws: FormatError.self) { try Images.decode(Data(jpeg), path: "huge.jpg", channels: 3) }
        #expect(full?.reason.contains("more than") == true, "\(full?.reason ?? "")")
        let scaled = #expect(throws: FormatError.self) { try Images.decode(Data(jpeg), path: "huge.jpg", channels: 3, minimumSide: 227) }
        #expect(scaled?.reason.contains("truncated or corrupt") == true, "\(scaled?.reason ?? "")")
    }

    @Test func aTruncatedJPEGIsUnreadable() throws {
        let image = Images.Image(channels: 1, height: 64, width: 64, pixels: (0..<4096).map { Float($0 % 251) })
        let jpeg = try Images.encodeJPEG(image)
        #expect(try Images.decode(jpeg, path: "ok.jpg", channels: 1).width == 64)
        let error = #expect(throws: FormatError.self) { try Images.decode(jpeg.prefix(jpeg.count * 2 / 3), path: "cut.jpg", channels: 1) }
        #expect(error?.reason.contains("truncated or corrupt") == true)
    }

    /// A large JPEG decodes at the smallest scale that still covers what the caller needs.
    @Test func aLargeJPEGDecodesAtAReducedScale() throws {
        let (h, w) = (480, 640)
        let pixels = (0..<(3 * h * w)).map { i -> Float in Float((i % w + i / w) % 256) }
        let jpeg = try Images.encodeJPEG(Images.Image(channels: 3, height: h, width: w, pixels: pixels))
        let quarter = try Images.decode(jpeg, path: "big.jpg", channels: 3, minimumSide: 100)
        #expect(quarter.height == 120 && quarter.width == 160)
        let half = try Images.decode(jpeg, path: "big.jpg", channels: 3, minimumSide: 227)
        #expect(half.height == 240 && half.width == 320)
        let full = try Images.decode(jpeg, path: "big.jpg", channels: 3, minimumSide: 300)
        #expect(full.height == 480 && full.width == 640)
    }

    @Test func pngRoundTrips() throws {
        let image = Images.Image(channels: 3, height: 5, width: 7, pixels: (0..<105).map { Float($0 * 2) })
        let back = try Images.decode(Images.encodePNG(image), path: "x.png", channels: 3)
        #expect(back.pixels == image.pixels && back.height == 5 && back.width == 7)
    }
}
