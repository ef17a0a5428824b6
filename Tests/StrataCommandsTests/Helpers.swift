import Foundation
import StrataCommands
import StrataCPU
import StrataFormats
import StrataIR
import StrataTrain
import Testing

/// The package root, found from this file's path (Tests/StrataCommandsTests/Helpers.swift).
let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// What one run of `strata` did.
struct RunResult {
    var status: Int32
    var output: String
    var errors: String
}

/// Runs `strata ARGUMENTS` in this process, as the executable would.
func strata(_ arguments: String...) -> RunResult {
    strata(arguments)
}

func strata(_ arguments: [String]) -> RunResult {
    var output = "", errors = ""
    let status = StrataMain.run(arguments, output: &output, errors: &errors)
    return RunResult(status: status, output: output, errors: errors)
}

/// The built `strata` executable, beside the test bundle.
let strataExecutable: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // The test runner may live inside a bundle folder (StrataPackageTests.xctest/...).
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("strata").path), directory.path != "/" {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent("strata").path
}()

/// Runs the real executable in a child process, with `environment` added to this process's.
func strataProcess(_ arguments: [String], currentDirectory: String = packageRoot, environment: [String: String] = [:]) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: strataExecutable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting so a large output cannot fill the pipe and block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(status: process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus,
                     output: String(decoding: outData, as: UTF8.self), errors: String(decoding: errData, as: UTF8.self))
}

/// Compares `actual` with the golden file `Golden/NAME`; with STRATA_RECORD_GOLDEN=1 it rewrites the file instead.
func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = packageRoot + "/Tests/StrataCommandsTests/Golden/" + name
    if ProcessInfo.processInfo.environment["STRATA_RECORD_GOLDEN"] == "1" {
        try actual.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    #expect(actual == expected, "\(name) differs from its golden file; rerun with STRATA_RECORD_GOLDEN=1 if the change is intended",
            sourceLocation: sourceLocation)
}

/// Seeded test data draws from the backend's own generator.
typealias SplitMix64 = StrataIR.SplitMix64

/// Whether `line` starts `FILE:LINE:COL: error: ` followed by a message.
func isLocatedError(_ line: Substring) -> Bool {
    guard let range = line.range(of: ": error: "), range.upperBound < line.endIndex else { return false }
    let place = line[..<range.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
    guard place.count >= 3, !place[0].isEmpty else { return false }
    return place.suffix(2).allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
}

/// Debian's Chromium (tools/bootstrap installs it), or nil where it is missing.
let chromiumPath: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs headless Chromium on `arguments` (a page last), killed after 120 s; returns its stdout.
func headlessChromium(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromiumPath!)
    process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let timer = DispatchWorkItem { process.terminate() }
    DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: timer)
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    timer.cancel()
    return out
}

/// The DOM of `page` after headless Chromium loaded it (scripts run), or nil, with an issue
/// recorded, where there is no Chromium (tools/bootstrap installs Debian's).
func headlessDOM(_ page: String) throws -> String? {
    guard chromiumPath != nil else {
        Issue.record("headless Chromium is needed to check the page; tools/bootstrap installs Debian's chromium")
        return nil
    }
    return try headlessChromium(["--dump-dom", "file://" + page])
}

/// What the report's script wrote on each chart's canvas after drawing it (`data-drawn`): its
/// title, axis titles, whether its legend shows, and the series the legend lists.
func drawnCharts(_ dom: String) throws -> [JSONValue] {
    try dom.components(separatedBy: "data-drawn=\"").dropFirst().map { part in
        let attribute = part.prefix { $0 != "\"" }
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&nbsp;", with: "\u{a0}").replacingOccurrences(of: "&amp;", with: "&")
        return try JSONValue.parse(Array(attribute.utf8))
    }
}

/// A grey image at low resolution: `columns` × `rows` cells, each the mean of its pixels in [0, 1].
struct Thumbnail: Equatable {
    var columns: Int
    var rows: Int
    var cells: [Double]

    /// The PNG at `path` (grey), averaged over a grid of cells (edge pixels left over are dropped).
    init(png path: String, columns: Int, rows: Int) throws {
        let image = try Images.decode(path: path, channels: 1)
        let (cw, ch) = (image.width / columns, image.height / rows)
        (self.columns, self.rows) = (columns, rows)
        cells = (0..<rows * columns).map { k in
            let (r, c) = (k / columns, k % columns)
            var sum = 0.0
            for y in (r * ch)..<((r + 1) * ch) { for x in (c * cw)..<((c + 1) * cw) { sum += Double(image.pixels[y * image.width + x]) } }
            return sum / Double(cw * ch) / 255
        }
    }

    /// An ASCII PGM (P2, 0…255) as `pgm` writes it.
    init(pgm text: String) throws {
        let numbers = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).dropFirst().compactMap { Int($0) }
        guard numbers.count >= 3, numbers.count == 3 + numbers[0] * numbers[1] else {
            throw FormatError(path: "pgm", reason: "not an ASCII PGM of its size")
        }
        (columns, rows) = (numbers[0], numbers[1])
        cells = numbers.dropFirst(3).map { Double($0) / 255 }
    }

    var pgm: String {
        "P2\n\(columns) \(rows)\n255\n" + (0..<rows).map { r in
            (0..<columns).map { String(Int((cells[r * columns + $0] * 255).rounded())) }.joined(separator: " ")
        }.joined(separator: "\n") + "\n"
    }
}

/// The first `count` Fashion-MNIST training images as DIR/images.npy and labels.npy, or nil (with
/// an issue recorded) when Debian's dataset-fashion-mnist is not installed.
func fashionMNISTSlice(count: Int, in folder: String) throws -> String? {
    let fashion = "/usr/share/datasets/fashion-mnist"
    guard FileManager.default.fileExists(atPath: fashion + "/train-images-idx3-ubyte.gz") else {
        Issue.record("Fashion-MNIST is not in \(fashion): tools/bootstrap installs it (Debian's dataset-fashion-mnist)")
        return nil
    }
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let train = try DataLoader.open(fashion, channels: 1, side: 28).train
    var pixels: [Float] = []
    pixels.reserveCapacity(count * 784)
    for i in 0..<count { pixels += try train.pixels(i) }
    try NumpyArray.write(.init(shape: [count, 1, 28, 28], values: pixels), path: folder + "/images.npy")
    try NumpyArray.write(int32: (0..<count).map { Int32(train.label($0)) }, shape: [count], path: folder + "/labels.npy")
    return fashion
}
