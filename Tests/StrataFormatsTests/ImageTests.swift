import Foundation
@testable import StrataFormats
import Testing

/// Small fixtures made with Pillow: `gradient` is 12×8 RGB with pixel (x, y) =
/// (20x mod 256, 30y mod 256, 10(x + y) mod 256), as PNG (lossless) and JPEG (quality 95);
/// `grey.jpg` is 5×6 of value 200.
@Suite("Images")
struct ImageTests {
    let fixtures: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        return parts.joined(separator: "/") + "/Fixtures"
    }()

    func expected(_ x: Int, _ y: Int, _ c: Int) -> Float {
        Float([(x * 20) % 256, (y * 30) % 256, ((x + y) * 10) % 256][c])
    }

    @Test func decodesPNGExactly() throws {
        let image = try Images.decode(path: fixtures + "/gradient.png", channels: 3)
        #expect(image.height == 8 && image.width == 12 && image.channels == 3)
        for y in 0..<8 { for x in 0..<12 { for c in 0..<3 { #expect(image.pixels[(c * 8 + y) * 12 + x] == expected(x, y, c)) } } }
    }

    @Test func decodesJPEGClosely() throws {
        let image = try Images.decode(path: fixtures + "/gradient.jpg", channels: 3)
        #expect(image.height == 8 && image.width == 12)
        // JPEG is lossy (and subsamples colour): values agree to within a few levels on average.
        var total: Float = 0
        for y in 0..<8 { for x in 0..<12 { for c in 0..<3 { total += abs(image.pixels[(c * 8 + y) * 12 + x] - expected(x, y, c)) } } }
        #expect(total / Float(8 * 12 * 3) < 12)
        let grey = try Images.decode(path: fixtures + "/grey.jpg", channels: 1)
        #expect(grey.height == 6 && grey.width == 5 && grey.pixels.allSatisfy { abs($0 - 200) <= 1 })
    }

    @Test func convertsColourToGrey() throws {
        let grey = try Images.decode(path: fixtures + "/gradient.png", channels: 1)
        #expect(grey.channels == 1 && grey.pixels.count == 96)
        let rgbAsGrey = try Images.decode(path: fixtures + "/grey.jpg", channels: 3)
        #expect(rgbAsGrey.channels == 3 && rgbAsGrey.pixels.allSatisfy { abs($0 - 200) <= 1 })
    }

    @Test func prepareIsTheIdentityAtTheSameSizeAndCropsTheCentre() throws {
        let image = try Images.decode(path: fixtures + "/gradient.png", channels: 3)
        let same = Images.prepare(image, height: 8, width: 12)
        #expect(zip(same, image.pixels).allSatisfy { abs($0 - $1 / 255) < 1e-6 })
        // 8×12 → a centred 8×8 crop: columns 2...9.
        let square = Images.prepare(image, height: 8, width: 8)
        for y in 0..<8 { for x in 0..<8 { #expect(abs(square[y * 8 + x] - expected(x + 2, y, 0) / 255) < 1e-6) } }
        // Downscaling to 4×6 keeps values within the source's range and the ramp's order.
        let small = Images.prepare(image, height: 4, width: 6)
        #expect(small.count == 3 * 24 && small.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect((0..<5).allSatisfy { small[$0] < small[$0 + 1] })
    }

    @Test func badFilesAreErrors() throws {
        let path = NSTemporaryDirectory() + "strata-\(UUID().uuidString).png"
        defer { unlink(path) }
        let png = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/gradient.png"))
        try png.prefix(40).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.self) { try Images.decode(path: path, channels: 3) }
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/gradient.jpg"))
        try jpeg.prefix(20).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.self) { try Images.decode(path: path, channels: 3) }
        try Data("plain text".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: FormatError.self) { try Images.decode(path: path, channels: 3) }
        #expect(error?.reason == "it is neither a PNG nor a JPEG image")
        #expect(throws: FormatError.self) { try Images.decode(path: fixtures + "/gradient.png", channels: 2) }
    }

    @Test func listsAFoldersImagesInNameOrder() throws {
        #expect(try Images.files(in: fixtures).map { ($0 as NSString).lastPathComponent } == ["gradient.jpg", "gradient.png", "grey.jpg"])
    }
}
