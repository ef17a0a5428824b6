import ArgumentParser
import Foundation
import StrataAnalysis
import StrataFormats
import StrataIR
import StrataSpec
import StrataTrain

/// What every analysis command takes: weights, the images (`--input` or `--data`), the batch and
/// the output folder.
struct AnalysisArguments: ParsableArguments {
    @Option(help: "Weights or a checkpoint (.safetensors). A checkpoint's mean image is subtracted from the raw pixels; plain weights need --mean.")
    var weights: String?

    @Option(help: ArgumentHelp(MeanChoice.optionHelp, valueName: "file|train|none"))
    var mean: String?

    @Option(help: "Images: an .npy float32 N×C×H×W of raw pixels in [0, 1], one PNG/JPEG file, or a folder of them.")
    var input: String?

    @Option(help: "Labels for --input (.npy, N integers).")
    var labels: String?

    @Option(help: "A data folder strata train reads (instead of --input).")
    var data: String?

    @Option(help: "The split of --data: test or train.")
    var split: String = "test"

    @Option(help: "Use the first N images.")
    var limit: Int?

    @Option(help: "Images per run (default: the spec's training batch, else 64).")
    var batch: Int?

    @Option(help: "The output folder (created if missing).")
    var out: String?

    /// The weights and the output folder, which every analysis needs (`require` checked them).
    var weightsPath: String { weights ?? "" }
    var outPath: String { out ?? "" }

    /// What the commands need beyond the options' own checks (a sweep file supplies them instead).
    func require() throws {
        guard weights != nil else { throw ValidationError("missing --weights") }
        guard out != nil else { throw ValidationError("missing --out") }
        guard (input == nil) != (data == nil) else { throw ValidationError("give --input or --data (one of them)") }
    }

    func validate() throws {
        guard ["test", "train"].contains(split) else { throw ValidationError("--split is test or train") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let batch, batch < 1 || batch > CommandSupport.maximumBatch { throw ValidationError("--batch must be between 1 and \(CommandSupport.maximumBatch)") }
        if data != nil && labels != nil { throw ValidationError("--labels goes with --input; --data has its own labels") }
    }

    func batchSize(_ spec: NetworkSpec) -> Int { batch ?? spec.training?.batch ?? 64 }

    var meanChoice: MeanChoice? { mean.map(MeanChoice.init(argument:)) }

    /// Where the images come from.
    var source: ImageSource { data.map { .data($0, split: split, limit: limit, indices: nil) } ?? .files(input!, labels: labels) }

    /// The weights file, and the images by the one input rule (`InputRule`).
    func load(_ graph: Graph) throws -> (Safetensors.File, AnalysisInput) {
        try FileCheck.prepareOutputFolder(outPath)   // an unusable --out is found before the work, not after
        let file = try Safetensors.read(path: weightsPath)
        try Weights.check(file, path: weightsPath, graph: graph)
        return (file, try AnalysisInput.load(source, limit: limit, graph: graph, weights: file, weightsPath: weightsPath, mean: meanChoice))
    }
}

/// `DIR/run.json`: what made an analysis folder, so a figure can be traced and redone. A folder
/// holds one run: `files` lists what the run wrote, and the next run into the folder removes the
/// files of that list it does not write again (pictures of an earlier sweep never outlive it).
enum RunRecord {
    /// The files this command wrote under `folder` (as `AtomicFile` recorded them), as paths
    /// relative to it, run.json aside.
    static func written(in folder: String) -> [String] {
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path + "/"
        var out: [String] = []
        for path in AtomicFile.recorder?.paths ?? [] {
            let full = URL(fileURLWithPath: path).standardizedFileURL.path
            guard full.hasPrefix(root) else { continue }
            let relative = String(full.dropFirst(root.count))
            if relative != "run.json" && !out.contains(relative) { out.append(relative) }
        }
        return out.sorted()
    }

    /// Removes the files an earlier run of `folder` recorded that this run did not write again:
    /// only regular files at most two folders down, reached through real folders (never a link).
    static func removeStale(in folder: String, keeping written: [String]) -> [String] {
        guard let text = FileManager.default.contents(atPath: "\(folder)/run.json"),
              case .array(let items)? = (try? JSONValue.parse(Array(text)))?["files"] else { return [] }
        var removed: [String] = []
        for name in items.compactMap(\.text) where !written.contains(name) {
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            guard !name.hasPrefix("/"), (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { continue }
            // Every folder on the way is a folder, not a link to one elsewhere.
            var inside = true
            for k in 1..<parts.count {
                var st = stat()
                let prefix = "\(folder)/" + parts[0..<k].joined(separator: "/")
                if lstat(prefix, &st) != 0 || st.st_mode & S_IFMT != S_IFDIR { inside = false; break }
            }
            let path = "\(folder)/\(name)"
            var st = stat()
            guard inside, lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            if unlink(path) == 0 {
                removed.append(name)
                if parts.count > 1 { rmdir("\(folder)/\(parts.dropLast().joined(separator: "/"))") }   // a subfolder left empty
            }
        }
        return removed
    }

    static func write(to folder: String, command: String, arguments: [String], spec: NetworkSpec, weightsPath: String,
                      rule: InputRule? = nil, parameters: [(String, String)]) throws {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: weightsPath), options: .alwaysMapped)) ?? Data()
        var hash = FNV1a()
        bytes.withUnsafeBytes { hash.add($0) }
        let written = written(in: folder)
        _ = removeStale(in: folder, keeping: written)
        let json: JSONValue = [
            "command": .string(command),
            "arguments": .strings(arguments),
            "strata_version": .string(StrataCommand.configuration.version),
            "weights": .string(weightsPath),
            "weights_fnv1a64": .string(hash.hex),
            "spec": .string(SpecPrinter.print(spec)),
            "preprocessing": rule.map { .string("raw pixels in [0, 1], centre-cropped to the input; subtracted: " + $0.description) } ?? .null,
            "parameters": .object(parameters.map { ($0.0, .string($0.1)) }),
            "files": .strings(written),
        ]
        try AtomicFile.write(Data((json.text(.pretty) + "\n").utf8), to: "\(folder)/run.json")
    }
}

/// Progress of a long analysis on stderr: at most one line every few seconds, and the last.
final class AnalysisProgress {
    let label: String
    let live: Bool
    var last = Date.distantPast
    var collected = ""

    init(_ label: String, live: Bool) {
        self.label = label
        self.live = live
    }

    func update(_ done: Int, _ total: Int) {
        guard Date().timeIntervalSince(last) >= 5 || done == total else { return }
        last = Date()
        let line = "\(label): \(done)/\(total)\n"
        if live { FileHandle.standardError.write(Data(line.utf8)) } else { collected += line }
    }
}

/// A comma-separated list of numbers (`--amounts=-6,0,6`).
func numbers(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.compactMap(Double.init)
    guard !parts.isEmpty, values.count == parts.count, values.allSatisfy(\.isFinite) else {
        throw ValidationError("\(option) takes numbers separated by commas, e.g. \(option)=-6,0,6")
    }
    return values
}


