import CCairo

/// Text measured and wrapped before a figure is drawn, so its size can allow for the lines: the
/// font and metrics of `Canvas.text`.
public enum TextLayout {
    /// The width of `s` in points at `size`.
    public static func width(_ s: String, size: Double, bold: Bool = false) -> Double {
        measuring(size: size, bold: bold) { $0(s) }
    }

    /// `s` broken at spaces into lines at most `width` points wide (a word wider than that keeps a
    /// line to itself).
    public static func wrap(_ s: String, width: Double, size: Double, bold: Bool = false) -> [String] {
        measuring(size: size, bold: bold) { measure in
            var lines: [String] = [], line = ""
            for word in s.split(separator: " ", omittingEmptySubsequences: false) {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if line.isEmpty || measure(candidate) <= width {
                    line = candidate
                } else {
                    lines.append(line)
                    line = String(word)
                }
            }
            return lines + (line.isEmpty && !lines.isEmpty ? [] : [line])
        }
    }

    /// Each of `lines` wrapped to `width` (`wrap`), in order.
    public static func wrap(lines: [String], width: Double, size: Double, bold: Bool = false) -> [String] {
        lines.flatMap { wrap($0, width: width, size: size, bold: bold) }
    }

    /// Runs `body` with a function measuring text in the figures' font at `size`.
    static func measuring<T>(size: Double, bold: Bool, _ body: ((String) -> Double) -> T) -> T {
        let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)
        let cr = cairo_create(surface)
        defer {
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
        }
        Canvas.setFontOptions(cr!)
        cairo_select_font_face(cr, Canvas.fontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        return body { s in
            var extents = cairo_text_extents_t()
            cairo_text_extents(cr, s, &extents)
            return extents.x_advance
        }
    }
}
