import Foundation
import StrataFormats

/// What a folder's `run.json` says: the command that made it and the parameters it records, in
/// the order written (values as text).
struct RunInfo {
    var command: String
    var parameters: [(String, String)]

    init?(folder: String) {
        guard let data = FileManager.default.contents(atPath: "\(folder)/run.json"), let json = try? JSONValue.parse(data),
              let command = json["command"]?.text else { return nil }
        self.command = command
        if case .object(let members)? = json["parameters"] {
            parameters = members.map { key, value in (key, value.text ?? value.text(.compact)) }
        } else {
            parameters = []
        }
    }

    /// The run.json of `folder`, else of the nearest folder above it, up to `root`.
    static func nearest(_ folder: String, root: String) -> RunInfo? {
        var path = folder
        while true {
            if let info = RunInfo(folder: path) { return info }
            guard path != root, path.count > root.count else { return nil }
            path = (path as NSString).deletingLastPathComponent
        }
    }

    /// One line: `strata occlude: patch 6; stride 2; …`, a value over 60 characters shortened
    /// (the folder's record line above the pictures gives each in full).
    var caption: String {
        let shown = parameters.map { key, value in "\(key.replacingOccurrences(of: "_", with: " ")) \(value.count > 60 ? value.prefix(57) + "…" : value)" }
        return "strata \(command)" + (shown.isEmpty ? "" : ": " + shown.joined(separator: "; "))
    }
}

extension Report {
    /// The picture files a folder may hold: inlined (PNG, SVG) or linked (PDF).
    static let pictureTypes = ["png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"]

    /// Every picture of the folder in numeric name order: PNG and SVG inlined (base64 `data:`
    /// URLs), PDF linked; each captioned with its path and the command and parameters of the
    /// nearest run.json (the folder's, else the one above it).
    static func pictures(_ folder: String, _ relative: String, root: String, _ counts: inout Counts) -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { pictureTypes[($0 as NSString).pathExtension.lowercased()] != nil && !$0.hasPrefix(".") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        guard !names.isEmpty else { return "" }
        let caption = RunInfo.nearest(folder, root: root).map { "<br>" + escape($0.caption) } ?? ""
        var body = ""
        for name in names {
            let path = (relative == "." ? "" : relative + "/") + name
            let kind = (name as NSString).pathExtension.lowercased()
            let figcaption = "<figcaption><b>\(escape(path))</b>\(caption)</figcaption>"
            if kind == "pdf" {
                body += "<figure class=\"document\"><a href=\"\(escape(link(relative, name)))\">\(escape(name)) (PDF)</a>\(figcaption)</figure>\n"
                counts.documents += 1
                continue
            }
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)")) else { continue }
            body += "<figure><img\(kind == "svg" ? " class=\"vector\"" : "") alt=\"\(escape(name))\" "
                + "src=\"data:\(pictureTypes[kind]!);base64,\(data.base64EncodedString())\">\(figcaption)</figure>\n"
            counts.images += 1
        }
        return body
    }
}
