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

/// The DOM of `page` after headless Chromium loaded it (scripts run), or nil, with an issue
/// recorded, where there is no Chromium (tools/bootstrap installs Debian's).
func headlessDOM(_ page: String) throws -> String? {
    guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        Issue.record("headless Chromium is needed to check the page; tools/bootstrap installs Debian's chromium")
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromium)
    process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom", "file://" + page]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let timer = DispatchWorkItem { process.terminate() }
    DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: timer)
    let dom = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    timer.cancel()
    return dom
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
