import Foundation
import StrataDiagnostics
import StrataIR
import StrataSpec
import StrataTrain
import Testing

/// Spec versions: a file written for version 1 (before `version:` existed; an experiment row's
/// `data.val_per_class`, now `eval_per_class`) loads with a warning per change, and `strata upgrade`
/// rewrites it, comments kept, to a file that loads without warnings to the same networks.
@Suite("spec versions and strata upgrade")
struct UpgradeCommandTests {
    /// An experiment as version 1 wrote it (experiments/zf-transfer-mini.yaml of early December).
    static let versionOne = """
        # A transfer experiment, written before spec versions.
        name: old-transfer
        base: \(packageRoot)/networks/zfnet-mini.yaml
        data: /nonexistent/fashion-mnist   # checked only when it runs
        rows:
          - name: pretrain
            data: {classes: [0, 1, 2, 3, 4]}
            set: {fc8: {units: 5}}
          # held-out images per class, as version 1 spelled it:
          - {name: transfer-15, data: {classes: [5, 6, 7, 8, 9], per_class: 15, val_per_class: 200}, set: {fc8: {units: 5}}, weights: "row:pretrain"}
          - name: scratch-15
            data:
              classes: [5, 6, 7, 8, 9]
              "val_per_class": 100
            set: {fc8: {units: 5}}

        """

    static func folder() throws -> String {
        let directory = NSTemporaryDirectory() + "strata-upgrade-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    static func load(_ path: String) throws -> (Experiment, [Diagnostic]) {
        let loader = SpecLoader()
        let experiment = try Experiment.load(path: path, loader: loader)
        return (experiment, loader.warnings)
    }

    @Test func aVersionOneExperimentLoadsWithAWarningAtEachChange() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/old.yaml"
        try Self.versionOne.write(toFile: path, atomically: true, encoding: .utf8)
        let (experiment, warnings) = try Self.load(path)
        #expect(warnings.map(\.description) == [
            "\(path):10:73: warning: 'val_per_class' is 'eval_per_class' since spec version 2 (an experiment row's held-out test images per class); read as 'eval_per_class'",
            "\(path):14:7: warning: 'val_per_class' is 'eval_per_class' since spec version 2 (an experiment row's held-out test images per class); read as 'eval_per_class'",
        ])
        #expect(warnings[0].notes.map(\.message) == ["'strata upgrade \(path)' rewrites the file for version 2, keeping its comments"])
        #expect(experiment.rows.map(\.evaluationPerClass) == [nil, 200, 100])
        // The command prints them with their lines before anything else.
        let run = strata("experiment", path, "--dry-run")
        #expect(run.errors.hasPrefix("\(path):10:73: warning: 'val_per_class' is 'eval_per_class'"), "\(run.errors)")
        #expect(run.errors.contains("per_class: 15, val_per_class: 200}") && run.errors.contains("note: 'strata upgrade"))
    }

    @Test func upgradeRewritesItKeepingCommentsToTheSameRowsWithoutWarnings() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/old.yaml"
        try Self.versionOne.write(toFile: path, atomically: true, encoding: .utf8)
        let (before, _) = try Self.load(path)

        let check = strata("upgrade", path, "--check")
        #expect(check.status == 1)
        #expect(check.output == "\(path) is version 1 (it names none); for version 2:\n  \(path):10:73: 'val_per_class' → 'eval_per_class'\n"
                + "  \(path):14:7: 'val_per_class' → 'eval_per_class'\n  version: 2\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.versionOne, "--check changed the file")

        let run = strata("upgrade", path)
        #expect(run.status == 0 && run.output.hasSuffix("upgraded \(path)\n"), "\(run.errors)")
        let upgraded = try String(contentsOfFile: path, encoding: .utf8)
        let expected = Self.versionOne
            .replacingOccurrences(of: "name: old-transfer", with: "version: 2\nname: old-transfer")
            .replacingOccurrences(of: "val_per_class: 200", with: "eval_per_class: 200")
            .replacingOccurrences(of: "\"val_per_class\": 100", with: "\"eval_per_class\": 100")
        #expect(upgraded == expected)

        let (after, warnings) = try Self.load(path)
        #expect(warnings.isEmpty)
        #expect(after.rows.map(\.evaluationPerClass) == before.rows.map(\.evaluationPerClass))
        #expect(after.rows.map { GraphPrinter.text($0.graph) } == before.rows.map { GraphPrinter.text($0.graph) })
        #expect(after.rows.map { SpecPrinter.print($0.spec) } == before.rows.map { SpecPrinter.print($0.spec) })
        let again = strata("upgrade", path, "--check")
        #expect(again.status == 0 && again.output == "\(path): version 2, nothing to upgrade\n")
    }

    /// `version: ~` is no version, as every reader takes a null key (version 1, upgraded); a CRLF
    /// file stays CRLF; the file keeps its permissions.
    @Test func aNullVersionIsVersionOneAndTheFileKeepsItsLineEndingsAndMode() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/null.yaml"
        let text = Self.versionOne.replacingOccurrences(of: "name: old-transfer", with: "version: ~\nname: old-transfer")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let (_, warnings) = try Self.load(path)
        #expect(warnings.count == 2, "\(warnings)")
        let run = strata("upgrade", path)
        #expect(run.status == 0, "\(run.errors)")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("version: 2\nname: old-transfer"))

        let crlf = directory + "/crlf.yaml"
        try Self.versionOne.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: crlf, atomically: true, encoding: .utf8)
        chmod(crlf, 0o600)
        #expect(strata("upgrade", crlf).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: crlf))
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        #expect(!lines.isEmpty && lines.allSatisfy { $0.last == UInt8(ascii: "\r") }, "a line without its CR")
        #expect(String(decoding: bytes, as: UTF8.self).contains("version: 2\r\nname: old-transfer"))
        var st = stat()
        #expect(stat(crlf, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    /// Network specs read the same in both versions: upgrading one only writes its version, and
    /// gives the same graph.
    @Test(arguments: [
        "# a comment first\nname: t\ninput: {channels: 1, height: 8, width: 8}\nlayers:\n  - {name: c, op: conv, filters: 2, kernel: 3}\n",
        "{name: t, input: {channels: 1, height: 8, width: 8}, layers: [{name: c, op: conv, filters: 2, kernel: 3}]}\n",
        "name: t\nversion: 1   # written for version 1\ninput: {channels: 1, height: 8, width: 8}\nlayers:\n  - {name: c, op: conv, filters: 2, kernel: 3}\n",
    ])
    func aNetworkSpecGetsItsVersionAndTheSameGraph(text: String) throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/net.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let before = strata("compile", path)
        #expect(before.status == 0 && before.errors.isEmpty)
        let run = strata("upgrade", path)
        #expect(run.status == 0, "\(run.errors)")
        let upgraded = try String(contentsOfFile: path, encoding: .utf8)
        #expect(upgraded.contains("version: 2") && !upgraded.contains("version: 1"), "\(upgraded)")
        #expect(upgraded.hasPrefix("# a comment first\nversion: 2\n") || !text.hasPrefix("#"))
        #expect(upgraded.contains("# written for version 1") || !text.contains("# written"))
        let after = strata("compile", path)
        #expect(after.output == before.output && after.errors.isEmpty)
    }

    @Test func aVersionFromTheFutureIsALocatedError() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/new.yaml"
        try "version: 3\nname: t\ninput: {channels: 1, height: 8, width: 8}\nlayers: [{name: r, op: relu}]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = strata("check", path)
        #expect(check.status == 1 && check.errors.hasPrefix("\(path):1:10: error: 'version' of the spec must be between 1 and 2, got 3"), "\(check.errors)")
        let upgrade = strata("upgrade", path)
        #expect(upgrade.status == 1 && upgrade.errors.hasPrefix("\(path):1:10: error: 'version' must be a spec version from 1 to 2, got '3'"))
    }

    @Test func bothSpellingsInOneMappingAreNotMerged() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/both.yaml"
        try Self.versionOne.replacingOccurrences(of: "val_per_class: 200", with: "val_per_class: 200, eval_per_class: 100")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DiagnosticError.self) { try Self.load(path) }
        let run = strata("experiment", path, "--dry-run")
        #expect(run.status == 1 && run.errors.contains("\(path):10:73: error: unknown key 'val_per_class'"), "\(run.errors)")
    }

    @Test func theShippedSpecsAreCurrent() throws {
        for folder in ["networks", "networks/variants", "experiments"] {
            for file in try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/" + folder) where file.hasSuffix(".yaml") {
                let run = strata("upgrade", packageRoot + "/\(folder)/\(file)", "--check")
                #expect(run.status == 0, "\(folder)/\(file): \(run.output)\(run.errors)")
            }
        }
    }
}
