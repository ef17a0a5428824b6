import CCairo
import Foundation
import StrataFormats

/// How a figure is written: a raster (`png`) or vectors with real text (`pdf`, `svg`), from the
/// same drawing.
public enum FigureFormat: String, CaseIterable, Sendable {
    case png, pdf, svg

    /// The file extension, `png`.
    public var fileExtension: String { rawValue }
}

/// A figure could not be drawn or written.
public struct FigureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A point or size in the figure's units (points, 1/72 inch; a PNG has `Figure.pixelsPerPoint`
/// pixels per point).
public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// A rectangle in the figure's units, from its top-left corner.
public struct Rect: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(_ x: Double, _ y: Double, _ width: Double, _ height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
    public var midX: Double { x + width / 2 }
    public var midY: Double { y + height / 2 }
}

/// An RGB picture for a figure: `width` × `height` pixels, 3 bytes each, row by row.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "an RGB image of \(width)×\(height) has \(width * height * 3) bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A planar image (channels × height × width, 1 or 3 channels) of values `range.0 … range.1`,
    /// mapped linearly to 0…255 and clipped; grey when the range is empty.
    public init(planar values: ArraySlice<Float>, channels: Int, height: Int, width: Int, range: (Float, Float)) {
        let (lo, hi) = range
        let scale = hi > lo ? 255 / (hi - lo) : 0
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let plane = height * width
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let v = values[values.startIndex + min(c, channels - 1) * plane + y * width + x]
                    let scaled = hi > lo ? (v.isFinite ? (v - lo) * scale : 0) : 128
                    pixels[(y * width + x) * 3 + c] = UInt8(max(0, min(255, scaled.rounded())))
                }
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Values (`rows` × `columns`, row by row) coloured by `map` over `range` (clipped at its ends).
    public init(values: ArraySlice<Float>, rows: Int, columns: Int, map: ColourMap, range: (Double, Double)) {
        var pixels = [UInt8](repeating: 0, count: rows * columns * 3)
        let span = range.1 > range.0 ? range.1 - range.0 : 1
        for k in 0..<(rows * columns) {
            let v = Double(values[values.startIndex + k])
            let c = v.isFinite ? map.colour((v - range.0) / span) : Colour.grey
            pixels[3 * k] = c.byte.r
            pixels[3 * k + 1] = c.byte.g
            pixels[3 * k + 2] = c.byte.b
        }
        self.init(width: columns, height: rows, pixels: pixels)
    }
}

/// A drawing surface for one figure, backed by Cairo. Every text drawn is also recorded in
/// `texts` and every colour bar in `colourBars`, so tests can check what a figure says.
public final class Canvas {
    let cr: OpaquePointer
    /// The figure's size in points.
    public let width: Double
    public let height: Double
    /// Every string drawn, in order.
    public private(set) var texts: [String] = []
    /// Every colour bar drawn: its label and range.
    public private(set) var colourBars: [(label: String, range: (Double, Double))] = []
    /// The font family of every text: DejaVu Sans (Debian: fonts-dejavu-core).
    public static let fontFamily = "DejaVu Sans"

    init(_ cr: OpaquePointer, width: Double, height: Double) {
        self.cr = cr
        self.width = width
        self.height = height
        Self.setFontOptions(cr)
    }

    /// Every text is drawn and measured with the same font options, set here rather than taken
    /// from the surface or fontconfig's defaults: unhinted metrics (as PDF and SVG measure, so a
    /// PNG's text sits where `TextLayout` measured it), no hinting, grey antialiasing. A figure's
    /// pixels are then a function of the figure alone, not of what the process drew before.
    static func setFontOptions(_ cr: OpaquePointer) {
        let options = cairo_font_options_create()
        defer { cairo_font_options_destroy(options) }
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_subpixel_order(options, CAIRO_SUBPIXEL_ORDER_DEFAULT)
        cairo_set_font_options(cr, options)
    }

    func setColour(_ c: Colour) { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a) }

    /// Fills a rectangle.
    public func fill(_ r: Rect, _ colour: Colour) {
        setColour(colour)
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
        cairo_fill(cr)
    }

    /// Outlines a rectangle.
    public func stroke(_ r: Rect, _ colour: Colour, width: Double = 1) {
        setColour(colour)
        cairo_set_line_width(cr, width)
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
        cairo_stroke(cr)
    }

    /// A polyline through `points`; a non-finite point breaks the line there.
    public func line(_ points: [Point], _ colour: Colour, width: Double = 1, dash: [Double] = []) {
        setColour(colour)
        cairo_set_line_width(cr, width)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        dash.withUnsafeBufferPointer { cairo_set_dash(cr, $0.baseAddress, Int32(dash.count), 0) }
        var open = false
        for p in points {
            guard p.x.isFinite, p.y.isFinite else { open = false; continue }
            if open { cairo_line_to(cr, p.x, p.y) } else { cairo_move_to(cr, p.x, p.y) }
            open = true
        }
        cairo_stroke(cr)
        cairo_set_dash(cr, nil, 0, 0)
    }

    /// A filled polygon.
    public func polygon(_ points: [Point], _ colour: Colour) {
        guard let first = points.first else { return }
        setColour(colour)
        cairo_move_to(cr, first.x, first.y)
        for p in points.dropFirst() { cairo_line_to(cr, p.x, p.y) }
        cairo_close_path(cr)
        cairo_fill(cr)
    }

    /// A filled circle.
    public func dot(_ p: Point, radius: Double, _ colour: Colour) {
        setColour(colour)
        cairo_arc(cr, p.x, p.y, radius, 0, 2 * Double.pi)
        cairo_fill(cr)
    }

    /// An RGB picture scaled into `r` pixel for pixel (nearest neighbour: no smoothing, in every format).
    public func image(_ picture: RGBImage, in r: Rect) {
        guard picture.width > 0, picture.height > 0,
              let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(picture.width), Int32(picture.height)) else { return }
        defer { cairo_surface_destroy(surface) }
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        if let data = cairo_image_surface_get_data(surface) {
            for y in 0..<picture.height {
                let row = UnsafeMutableRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
                for x in 0..<picture.width {
                    let k = (y * picture.width + x) * 3
                    row[x] = UInt32(picture.pixels[k]) << 16 | UInt32(picture.pixels[k + 1]) << 8 | UInt32(picture.pixels[k + 2])
                }
            }
        }
        cairo_surface_mark_dirty(surface)
        cairo_save(cr)
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
        cairo_clip(cr)
        cairo_translate(cr, r.x, r.y)
        cairo_scale(cr, r.width / Double(picture.width), r.height / Double(picture.height))
        cairo_set_source_surface(cr, surface, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_paint(cr)
        cairo_restore(cr)
    }

    /// Where a text's anchor point sits on it.
    public enum Align: Sendable { case left, centre, right }
    public enum Baseline: Sendable { case top, middle, baseline, bottom }

    func font(_ size: Double, bold: Bool) {
        cairo_select_font_face(cr, Self.fontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    /// The width of a text in points.
    public func textWidth(_ s: String, size: Double, bold: Bool = false) -> Double {
        font(size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, s, &extents)
        return extents.x_advance
    }

    /// Draws `s` with its anchor at `p` (`rotated`: reading upwards, for a y-axis label).
    public func text(_ s: String, at p: Point, size: Double = 10, bold: Bool = false, align: Align = .left, baseline: Baseline = .baseline,
                     rotated: Bool = false, colour: Colour = .black) {
        guard !s.isEmpty else { return }
        texts.append(s)
        font(size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, s, &extents)
        var fontExtents = cairo_font_extents_t()
        cairo_font_extents(cr, &fontExtents)
        let dx: Double = switch align {
        case .left: 0
        case .centre: -extents.x_advance / 2
        case .right: -extents.x_advance
        }
        let dy: Double = switch baseline {
        case .top: fontExtents.ascent
        case .middle: (fontExtents.ascent - fontExtents.descent) / 2
        case .baseline: 0
        case .bottom: -fontExtents.descent
        }
        cairo_save(cr)
        cairo_translate(cr, p.x, p.y)
        if rotated { cairo_rotate(cr, -Double.pi / 2) }
        setColour(colour)
        cairo_move_to(cr, dx, dy)
        cairo_show_text(cr, s)
        cairo_restore(cr)
    }

    /// Records a colour bar (drawn by `ColourBar.draw`).
    func recordColourBar(_ label: String, _ range: (Double, Double)) { colourBars.append((label, range)) }
}

/// Drawing a figure and writing it as PNG, PDF or SVG.
public enum Figure {
    /// Pixels per point in a PNG: 2, so text stays sharp.
    public static let pixelsPerPoint = 2.0
    /// The largest figure, in points per side.
    public static let maximumSide = 4000.0

    /// The bytes of a `width` × `height` (points) figure drawn by `draw` on a white background.
    public static func render(width: Double, height: Double, format: FigureFormat, _ draw: (Canvas) throws -> Void) throws -> Data {
        guard width >= 1, height >= 1, width <= maximumSide, height <= maximumSide else {
            throw FigureError("a figure of \(Int(width))×\(Int(height)) points is outside 1…\(Int(maximumSide)) points a side; show fewer images or amounts")
        }
        let sink = Sink()
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let surface: OpaquePointer?
        switch format {
        case .png:
            surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32((width * pixelsPerPoint).rounded(.up)), Int32((height * pixelsPerPoint).rounded(.up)))
        case .pdf:
            surface = cairo_pdf_surface_create_for_stream(Sink.write, context, width, height)
        case .svg:
            surface = cairo_svg_surface_create_for_stream(Sink.write, context, width, height)
        }
        guard let surface, cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, let cr = cairo_create(surface) else {
            throw FigureError("Cairo could not make a \(format.rawValue) surface of \(Int(width))×\(Int(height)) points")
        }
        if format == .png { cairo_scale(cr, pixelsPerPoint, pixelsPerPoint) }
        let canvas = Canvas(cr, width: width, height: height)
        canvas.fill(Rect(0, 0, width, height), .white)
        do { try draw(canvas) } catch {
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
            throw error
        }
        let status = cairo_status(cr)
        cairo_destroy(cr)
        if format == .png { cairo_surface_write_to_png_stream(surface, Sink.write, context) }
        cairo_surface_finish(surface)
        let finished = cairo_surface_status(surface)
        cairo_surface_destroy(surface)
        guard status == CAIRO_STATUS_SUCCESS, finished == CAIRO_STATUS_SUCCESS else {
            throw FigureError("Cairo failed drawing the figure: \(String(cString: cairo_status_to_string(status == CAIRO_STATUS_SUCCESS ? finished : status)))")
        }
        guard format == .svg else { return sink.data }
        // Cairo 1.16 writes no rendering hint for a nearest-neighbour picture, and browsers smooth
        // it: every picture in a figure is drawn pixel for pixel, so say so on each.
        let text = String(decoding: sink.data, as: UTF8.self)
        return Data(text.replacingOccurrences(of: "<image ", with: "<image style=\"image-rendering:pixelated\" ").utf8)
    }

    /// Where Cairo's stream writers put the bytes.
    final class Sink {
        var data = Data()
        static let write: cairo_write_func_t = { context, bytes, length in
            guard let context, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue().data.append(bytes, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }
    }
}

extension Figure {
    /// Draws and writes a figure atomically; the format is `format`, the path as given.
    public static func write(to path: String, width: Double, height: Double, format: FigureFormat, _ draw: (Canvas) throws -> Void) throws {
        try AtomicFile.write(render(width: width, height: height, format: format, draw), to: path)
    }
}
