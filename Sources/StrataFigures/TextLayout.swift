import CCairo

/// Measuring text before a figure is drawn, to size the figure around it.
extension Figure {
    /// The width of `s` in points at `size`, as `Canvas.text` draws it (DejaVu Sans).
    public static func textWidth(_ s: String, size: Double, bold: Bool = false) -> Double {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1) else { return Double(s.count) * size * 0.62 }
        defer { cairo_surface_destroy(surface) }
        guard let cr = cairo_create(surface) else { return Double(s.count) * size * 0.62 }
        defer { cairo_destroy(cr) }
        return Canvas(cr, width: 1, height: 1).textWidth(s, size: size, bold: bold)
    }

    /// `text` broken at spaces into lines at most `width` points wide at `size` (a word longer than
    /// the width gets a line of its own).
    public static func wrap(_ text: String, width: Double, size: Double, bold: Bool = false) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if !line.isEmpty && textWidth(candidate, size: size, bold: bold) > width {
                lines.append(line)
                line = String(word)
            } else {
                line = candidate
            }
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }
}
