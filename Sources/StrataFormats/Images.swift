import CPNG
import CTurboJPEG
import Foundation

/// Decodes PNG (libpng) and JPEG (libjpeg-turbo) images into planar float32 pixels, and prepares
/// them for a network: channels converted, the shorter side resized to the input (bilinear), the
/// centre cropped, values scaled to [0, 1].
public enum Images {
    /// A decoded image: `channels` planes of height × width, values 0…255.
    public struct Image: Sendable {
        public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
            self.channels = channels
            self.height = height
            self.width = width
            self.pixels = pixels
        }

        public var channels: Int
        public var height: Int
        public var width: Int
        /// Planar (C, H, W).
        public var pixels: [Float]
    }

    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The most pixels Strata decodes from one image (2^25, about 33.5 megapixels: 8192 × 4096).
    /// A JPEG larger than that, or than the network needs, is decoded at 1/2, 1/4 or 1/8 of its
    /// size while that still covers `minimumSide`; a PNG cannot be, and a larger one is an error.
    public static let maximumPixels = 1 << 25

    /// Decodes a file as 1 (grey) or 3 (RGB) channels. `minimumSide`: the shorter side the caller
    /// needs, which lets a large JPEG decode at a reduced scale.
    public static func decode(path: String, channels: Int, minimumSide: Int = 0) throws(FormatError) -> Image {
        try decode(FileCheck.contents(path, mapped: false), path: path, channels: channels, minimumSide: minimumSide)
    }

    /// `decode(path:)` on bytes in memory; `path` names them in errors.
    public static func decode(_ data: Data, path: String, channels: Int, minimumSide: Int = 0) throws(FormatError) -> Image {
        guard channels == 1 || channels == 3 else {
            throw FormatError(path: path, reason: "images have 1 or 3 channels; the network takes \(channels)")
        }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(data, path: path, channels: channels) }
        if data.starts(with: [0xFF, 0xD8]) { return try decodeJPEG(data, path: path, channels: channels, minimumSide: minimumSide) }
        throw FormatError(path: path, reason: "it is neither a PNG nor a JPEG image")
    }

    static func tooLarge(_ path: String, _ width: Int, _ height: Int) -> FormatError {
        FormatError(path: path, reason: "it is \(width)×\(height) pixels, more than the \(maximumPixels) (2^25) Strata decodes; resize it first")
    }

    static func decodePNG(_ data: Data, path: String, channels: Int) throws(FormatError) -> Image {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard ok != 0 else { throw FormatError(path: path, reason: "not a valid PNG: \(message(&image))") }
        defer { png_image_free(&image) }
        image.format = channels == 3 ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        let (width, height) = (Int(image.width), Int(image.height))
        guard width > 0, height > 0 else { throw FormatError(path: path, reason: "its size \(width)×\(height) is empty") }
        guard width * height <= maximumPixels else { throw tooLarge(path, width, height) }
        var interleaved = [UInt8](repeating: 0, count: width * height * channels)
        let finished = interleaved.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw FormatError(path: path, reason: "not a valid PNG: \(message(&image))") }
        return planar(interleaved, channels: channels, height: height, width: width)
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func decodeJPEG(_ data: Data, path: String, channels: Int, minimumSide: Int) throws(FormatError) -> Image {
        guard let handle = tjInitDecompress() else { throw FormatError(path: path, reason: "cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let bytes = [UInt8](data)
        guard tjDecompressHeader3(handle, bytes, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw FormatError(path: path, reason: "not a valid JPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        guard width > 0, height > 0 else { throw FormatError(path: path, reason: "its size \(width)×\(height) is empty") }
        // The smallest of libjpeg-turbo's scales (1/8 … 1) whose shorter side still covers what the caller needs.
        var (w, h) = (Int(width), Int(height))
        if minimumSide > 0 {
            for denominator in [8, 4, 2] {
                let sw = (w + denominator - 1) / denominator, sh = (h + denominator - 1) / denominator
                if min(sw, sh) >= minimumSide { (w, h) = (sw, sh); break }
            }
        }
        guard w * h <= maximumPixels else { throw tooLarge(path, Int(width), Int(height)) }
        var interleaved = [UInt8](repeating: 0, count: w * h * channels)
        let format = channels == 3 ? TJPF_RGB.rawValue : TJPF_GRAY.rawValue
        // A truncated or corrupt file is unreadable, even where libjpeg-turbo would fill in the rest.
        let status = tjDecompress2(handle, bytes, UInt(bytes.count), &interleaved, Int32(w), 0, Int32(h), Int32(format), TJFLAG_STOPONWARNING)
        guard status == 0 else {
            throw FormatError(path: path, reason: "not a valid JPEG (truncated or corrupt): \(String(cString: tjGetErrorStr2(handle)))")
        }
        return planar(interleaved, channels: channels, height: h, width: w)
    }

    static func planar(_ interleaved: [UInt8], channels: Int, height: Int, width: Int) -> Image {
        var pixels = [Float](repeating: 0, count: interleaved.count)
        let plane = height * width
        for i in 0..<plane { for c in 0..<channels { pixels[c * plane + i] = Float(interleaved[i * channels + c]) } }
        return Image(channels: channels, height: height, width: width, pixels: pixels)
    }

    /// Resizes so the shorter side covers the target (bilinear, pixel centres aligned), crops the
    /// centre to height × width, and scales 0…255 to 0…1.
    public static func prepare(_ image: Image, height: Int, width: Int) -> [Float] {
        let scale = max(Double(height) / Double(image.height), Double(width) / Double(image.width))
        let resizedH = max(height, Int((Double(image.height) * scale).rounded())), resizedW = max(width, Int((Double(image.width) * scale).rounded()))
        let top = (resizedH - height) / 2, left = (resizedW - width) / 2
        var out = [Float](repeating: 0, count: image.channels * height * width)
        let sy = Double(image.height) / Double(resizedH), sx = Double(image.width) / Double(resizedW)
        for y in 0..<height {
            let fy = max(0, min(Double(image.height - 1), (Double(y + top) + 0.5) * sy - 0.5))
            let y0 = Int(fy), y1 = min(y0 + 1, image.height - 1), wy = Float(fy - Double(y0))
            for x in 0..<width {
                let fx = max(0, min(Double(image.width - 1), (Double(x + left) + 0.5) * sx - 0.5))
                let x0 = Int(fx), x1 = min(x0 + 1, image.width - 1), wx = Float(fx - Double(x0))
                for c in 0..<image.channels {
                    let p = image.pixels, base = c * image.height * image.width
                    let top = p[base + y0 * image.width + x0] * (1 - wx) + p[base + y0 * image.width + x1] * wx
                    let bottom = p[base + y1 * image.width + x0] * (1 - wx) + p[base + y1 * image.width + x1] * wx
                    out[(c * height + y) * width + x] = (top * (1 - wy) + bottom * wy) / 255
                }
            }
        }
        return out
    }

    /// An image's bytes as PNG (8-bit grey or RGB; values 0…255, clamped and rounded).
    public static func encodePNG(_ image: Image) throws(FormatError) -> Data {
        guard image.channels == 1 || image.channels == 3 else { throw FormatError(path: "PNG", reason: "images have 1 or 3 channels, not \(image.channels)") }
        let interleaved = self.interleaved(image)
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 3 ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        var size = 0
        guard png_image_write_to_memory(&png, nil, &size, 0, interleaved, 0, nil) != 0, size > 0 else {
            throw FormatError(path: "PNG", reason: "cannot encode it: \(message(&png))")
        }
        var out = Data(count: size)
        let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&png, $0.baseAddress, &size, 0, interleaved, 0, nil) }
        guard ok != 0 else { throw FormatError(path: "PNG", reason: "cannot encode it: \(message(&png))") }
        return out.prefix(size)
    }

    /// An image's bytes as JPEG (4:2:0 for colour) at `quality` 1…100.
    public static func encodeJPEG(_ image: Image, quality: Int = 90) throws(FormatError) -> Data {
        guard image.channels == 1 || image.channels == 3 else { throw FormatError(path: "JPEG", reason: "images have 1 or 3 channels, not \(image.channels)") }
        guard let handle = tjInitCompress() else { throw FormatError(path: "JPEG", reason: "cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        let interleaved = self.interleaved(image)
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let format = image.channels == 3 ? TJPF_RGB.rawValue : TJPF_GRAY.rawValue
        let subsampling = image.channels == 3 ? TJSAMP_420.rawValue : TJSAMP_GRAY.rawValue
        let status = tjCompress2(handle, interleaved, Int32(image.width), 0, Int32(image.height), Int32(format), &buffer, &size,
                                 Int32(subsampling), Int32(quality), 0)
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else { throw FormatError(path: "JPEG", reason: "cannot encode it: \(String(cString: tjGetErrorStr2(handle)))") }
        return Data(bytes: buffer, count: Int(size))
    }

    static func interleaved(_ image: Image) -> [UInt8] {
        let plane = image.height * image.width
        var out = [UInt8](repeating: 0, count: plane * image.channels)
        for i in 0..<plane {
            for c in 0..<image.channels {
                let v = image.pixels[c * plane + i]
                out[i * image.channels + c] = v.isNaN ? 0 : UInt8(max(0, min(255, v.rounded())))
            }
        }
        return out
    }

    /// The image files of a folder (not recursive), sorted by name.
    public static func files(in directory: String) throws(FormatError) -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw FormatError(path: directory, reason: "cannot list it: \(FormatError.describe(error))")
        }
        return names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted().map { "\(directory)/\($0)" }
    }
}
