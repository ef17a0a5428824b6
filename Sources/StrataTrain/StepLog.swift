import Foundation
import StrataFormats

/// `RUN/steps.csv`: one line per optimizer step, written by rank 0:
/// `epoch,step,global_step,loss,learning_rate` (epoch and step 1-based, the step counted within its
/// epoch; global_step the steps done so far, as metrics.csv's `step`; loss the batch's mean
/// cross-entropy over every rank, before the update; learning_rate the one the step used).
///
/// Lines are buffered and appended before every checkpoint (mid-epoch and at epoch ends) and when
/// training returns, so the file always holds at least the steps of the latest checkpoint. A kill
/// loses only buffered lines past it; lines written past it (a stop, or a kill between the append
/// and the checkpoint's rename) are dropped on resume by `truncate`, and the resumed run writes
/// them again: a run, resumed or not, has each global step exactly once, in order.
final class StepLog {
    static let header = "epoch,step,global_step,loss,learning_rate"

    let path: String
    private var pending = ""

    init(path: String) {
        self.path = path
    }

    /// Buffers one step's line.
    func append(epoch: Int, step: Int, globalStep: Int, loss: Double, learningRate: Double) {
        pending += "\(epoch),\(step),\(globalStep),\(Self.format(loss)),\(Self.format(learningRate))\n"
    }

    /// Appends the buffered lines to the file (created with its header when absent).
    func flush() throws {
        guard !pending.isEmpty else { return }
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: Data((Self.header + "\n").utf8)) else {
                throw FormatError(path: path, reason: "cannot create the step log")
            }
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(pending.utf8))
        } catch {
            throw FormatError(path: path, reason: "cannot append to the step log: \(error.localizedDescription)")
        }
        pending = ""
    }

    /// Keeps the header and the whole lines of global steps 1…`keepingSteps` (what the checkpoint
    /// a run resumes from has done); drops later lines and a line cut short by a kill. A fresh run
    /// (`keepingSteps` 0) keeps only the header.
    static func truncate(_ path: String, keepingSteps: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        // The last line is whole only when the file ends with a newline.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        let kept = lines.dropFirst().filter { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 5, let step = Int(fields[2]) else { return false }
            return step <= keepingSteps
        }
        try AtomicFile.write(Data(([header] + kept.map(String.init)).map { $0 + "\n" }.joined().utf8), to: path)
    }

    static func format(_ x: Double) -> String { String(format: "%.6g", x) }
}
