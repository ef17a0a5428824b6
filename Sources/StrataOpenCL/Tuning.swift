import Foundation
import StrataFormats
import StrataPlan

/// The tile of the blocked GEMM in kernels/gemm.cl: a work-group computes a `tm` × `tn` block of the
/// output, `tk` deep per step, each work item a `wm` × `wn` block in registers.
public struct GemmTiles: Hashable, Sendable, CustomStringConvertible {
    public var tm: Int, tn: Int, tk: Int, wm: Int, wn: Int

    public init(tm: Int, tn: Int, tk: Int, wm: Int, wn: Int) {
        (self.tm, self.tn, self.tk, self.wm, self.wn) = (tm, tn, tk, wm, wn)
    }

    /// Work items per work-group.
    public var items: Int { (tm / wm) * (tn / wn) }
    /// Local memory per work-group, in bytes (both operand tiles, each row padded by one word).
    public var localBytes: Int { 4 * tk * (tm + 1 + tn + 1) }
    /// TK 0: the operands are read from global memory directly (no local memory, no barriers).
    public var direct: Bool { tk == 0 }
    /// The `-D` constants kernels/gemm.cl reads.
    public var constants: [(String, String)] { [("TM", "\(tm)"), ("TN", "\(tn)"), ("TK", "\(tk)"), ("WM", "\(wm)"), ("WN", "\(wn)")] }
    public var description: String { "\(tm)x\(tn)x\(tk)/\(wm)x\(wn)" }

    /// The largest number a tile may have (far above any device's work-group or local memory,
    /// and far from overflow in `items` and `localBytes`).
    public static let largest = 4096

    /// `TMxTNxTK/WMxWN`, as `description` writes it and `--tiles` takes it; each number 0…`largest`.
    public init?(_ text: String) {
        let fields = text.split(separator: "/", omittingEmptySubsequences: false)
        guard fields.count == 2 else { return nil }
        let parts = fields.flatMap { $0.split(separator: "x", omittingEmptySubsequences: false) }.compactMap { Int($0) }
        guard parts.count == 5, parts.allSatisfy({ (0...Self.largest).contains($0) }) else { return nil }
        self.init(tm: parts[0], tn: parts[1], tk: parts[2], wm: parts[3], wn: parts[4])
    }

    /// `{"tm": 32, "tn": 64, "tk": 0, "wm": 8, "wn": 8}`: an entry of `tuning.json`.
    public var json: JSONValue { ["tm": .int(tm), "tn": .int(tn), "tk": .int(tk), "wm": .int(wm), "wn": .int(wn)] }

    /// An entry of `tuning.json` (the device key `key` of the file `path`): every number there,
    /// other keys ignored; whether the device can run it is `problem(on:)`'s question.
    public init(json: JSONValue, path: String, key: String) throws(FormatError) {
        let fields = try JSONValue.Fields(json, path: path, what: "a tile {tm, tn, tk, wm, wn}", within: key)
        self.init(tm: try fields.required("tm", .int), tn: try fields.required("tn", .int), tk: try fields.required("tk", .int),
                  wm: try fields.required("wm", .int), wn: try fields.required("wn", .int))
    }

    /// Why the device cannot run this tile, or nil when it can.
    public func problem(on device: OpenCLDevice) -> String? {
        guard tm > 0, tn > 0, tk >= 0, wm > 0, wn > 0, tm % wm == 0, tn % wn == 0 else {
            return "tile \(self): TM and TN must be positive multiples of WM and WN"
        }
        if items > device.maxWorkGroupSize { return "tile \(self) needs work-groups of \(items) items; \(device.name) allows \(device.maxWorkGroupSize)" }
        if localBytes > device.localMemory { return "tile \(self) needs \(localBytes) bytes of local memory; \(device.name) has \(device.localMemory)" }
        return nil
    }
}

/// Which tile a device uses: the one `strata tune` stored for this device and driver, else the
/// table's setting for its kind, else a small safe tile.
public enum Tuning {
    /// Settings known to run well, by device kind. GPUs: CLBlast's xgemm tunings for recent NVIDIA
    /// and AMD cards cluster around 64–128-wide tiles with 8×8 or 4×8 per item and 16 deep. CPUs
    /// (PoCL): the direct variant (TK 0) with 8×8 per item, 32x64x0/8x8, was the fastest of the
    /// candidates on a Zen 4 (zfnet-mini training step, batch 32: 176 ms; the best local-memory tile 602 ms).
    public static func table(for device: OpenCLDevice) -> GemmTiles {
        let vendor = device.vendor.lowercased()
        let choice: GemmTiles
        if !device.isGPU {
            choice = GemmTiles(tm: 32, tn: 64, tk: 0, wm: 8, wn: 8)
        } else if vendor.contains("nvidia") {
            choice = GemmTiles(tm: 128, tn: 128, tk: 16, wm: 8, wn: 8)
        } else if vendor.contains("amd") || vendor.contains("advanced micro") {
            choice = GemmTiles(tm: 64, tn: 128, tk: 16, wm: 4, wn: 8)
        } else {
            choice = GemmTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4)
        }
        return choice.problem(on: device) == nil ? choice : fallback
    }

    /// Runs on any OpenCL device (64 items, 2 KiB of local memory).
    public static let fallback = GemmTiles(tm: 32, tn: 32, tk: 8, wm: 4, wn: 4)

    /// What `strata tune` times: the table's settings for every kind and their neighbours, with and
    /// without local memory.
    public static func candidates(for device: OpenCLDevice) -> [GemmTiles] {
        let all = [
            fallback,
            GemmTiles(tm: 32, tn: 32, tk: 16, wm: 2, wn: 2),
            GemmTiles(tm: 32, tn: 32, tk: 16, wm: 4, wn: 4),
            GemmTiles(tm: 32, tn: 64, tk: 16, wm: 4, wn: 4),
            GemmTiles(tm: 64, tn: 32, tk: 16, wm: 4, wn: 4),
            GemmTiles(tm: 64, tn: 64, tk: 16, wm: 4, wn: 4),
            GemmTiles(tm: 64, tn: 64, tk: 16, wm: 8, wn: 8),
            GemmTiles(tm: 64, tn: 128, tk: 16, wm: 4, wn: 8),
            GemmTiles(tm: 128, tn: 64, tk: 16, wm: 8, wn: 4),
            GemmTiles(tm: 128, tn: 128, tk: 16, wm: 8, wn: 8),
            GemmTiles(tm: 128, tn: 128, tk: 8, wm: 8, wn: 8),
            GemmTiles(tm: 32, tn: 64, tk: 0, wm: 8, wn: 8),
            GemmTiles(tm: 64, tn: 64, tk: 0, wm: 8, wn: 8),
            GemmTiles(tm: 32, tn: 128, tk: 0, wm: 8, wn: 8),
        ]
        return all.filter { $0.problem(on: device) == nil }
    }

    /// The tile for `device`: stored by `strata tune`, else `table(for:)`.
    public static func tiles(for device: OpenCLDevice) -> GemmTiles {
        stored(for: device) ?? table(for: device)
    }

    /// Tuned tiles live beside the program cache, in `tuning.json`: one entry per device and driver.
    public static var file: String? { ProgramCache.folder.map { $0 + "/tuning.json" } }

    static func key(_ device: OpenCLDevice) -> String { "\(device.platformName) | \(device.name) | \(device.driver)" }

    public static func stored(for device: OpenCLDevice, file: String? = Tuning.file) -> GemmTiles? {
        guard let file, let tiles = entries(file)[key(device)], tiles.problem(on: device) == nil else { return nil }
        return tiles
    }

    /// The autotuner: each candidate's training step (`executor(tiles)` makes it, weights and a
    /// batch loaded), run once to warm up, then `iterations` times with device timing; the median
    /// of the steps' kernel seconds per candidate, in candidate order. `progress` after each.
    public static func time(_ candidates: [GemmTiles], iterations: Int, executor: (GemmTiles) throws -> any Executor,
                            progress: (GemmTiles, Double) -> Void = { _, _ in }) throws -> [(GemmTiles, Double)] {
        var results: [(GemmTiles, Double)] = []
        for tiles in candidates {
            let e = try executor(tiles)
            try e.run(seed: 0)
            e.timing = true
            var times: [Double] = []
            for k in 0..<max(1, iterations) {
                try e.run(seed: UInt64(k + 1))
                times.append(e.stepSeconds.reduce(0, +))
            }
            let median = times.sorted()[times.count / 2]
            results.append((tiles, median))
            progress(tiles, median)
        }
        return results
    }

    /// What `file` holds by device key (nothing when it is missing or unreadable).
    static func entries(_ file: String) -> [String: GemmTiles] {
        (try? read(file)) ?? [:]
    }

    /// The tuning file's entries; a missing file has none, one that is not a JSON object of
    /// `{"device key": {"tm", "tn", "tk", "wm", "wn"}}` is an error (so a store never overwrites it).
    static func read(_ file: String) throws -> [String: GemmTiles] {
        guard FileManager.default.fileExists(atPath: file) else { return [:] }
        do {
            let fields = try JSONValue.Fields(path: file, what: "a tuning file")
            var entries: [String: GemmTiles] = [:]
            for (key, value) in fields.members { entries[key] = try GemmTiles(json: value, path: file, key: key) }
            return entries
        } catch {
            throw OpenCLError("reading the tuning file", -30, detail: "\(error)\n\(file) is not a tuning file (a JSON object of device → {tm, tn, tk, wm, wn}); "
                              + "move it away or delete it, and tune again")
        }
    }

    /// Records `tiles` as `device`'s winner: under an exclusive lock (`tuning.json.lock`), the
    /// file is read, this device's entry replaced, every other device's kept, and written
    /// atomically. Returns the file written.
    @discardableResult public static func store(_ tiles: GemmTiles, for device: OpenCLDevice, file: String? = Tuning.file) throws -> String {
        guard let file else { throw OpenCLError("storing the tuned tile", -30, detail: "the program cache is off (STRATA_PROGRAM_CACHE=off), so there is nowhere to keep it") }
        let folder = (file as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let fd = open(file + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OpenCLError("storing the tuned tile", -30, detail: "cannot open \(file).lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw OpenCLError("storing the tuned tile", -30, detail: "cannot lock \(file).lock") }
        defer { flock(fd, LOCK_UN) }
        var entries = try read(file)
        entries[key(device)] = tiles
        let json = JSONValue.object(entries.keys.sorted().map { ($0, entries[$0]!.json) })
        try AtomicFile.write(Data((json.text(.pretty) + "\n").utf8), to: file)
        return file
    }
}
