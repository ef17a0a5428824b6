import ArgumentParser
import Foundation
import StrataDiagnostics
import StrataFormats
import StrataSpec

/// `strata upgrade FILE [--check]`: rewrites a spec or experiment file written for an older version of
/// the spec language for the current one, as Caffe's `upgrade_net_proto_text` does, in place and
/// atomically, keeping its comments and layout (the changes are made in the text, at their places).
struct UpgradeCommand: StrataSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Rewrite a spec or experiment file for the current version of the spec language, keeping its comments.",
        discussion: "Prints each change at its FILE:LINE:COL. A file without 'version:' is version 1. Exit status with --check: "
            + "0 when the file is current, 1 when it would change.")

    @Argument(help: "The spec or experiment file (YAML); a variant's base is a file of its own, upgraded by itself.")
    var file: String

    @Flag(help: "Only say what would change; exit 1 when something would.")
    var check = false

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) -> Int32 {
        let bytes: [UInt8]
        do { bytes = try SpecLoader.readFromDisk(file) } catch {
            errors.write("error: cannot read '\(file)': \((error as? FileError)?.reason ?? "\(error)")\n")
            return 1
        }
        var text = String(decoding: bytes.prefix(YAMLReader.maximumBytes), as: UTF8.self)
        let named: Bool
        let result: (text: String, upgrade: SpecVersion.Upgrade)?
        do {
            // The checks every reader makes first: size, UTF-8, aliases, syntax.
            let parsed = try YAMLReader.parse(bytes: bytes, file: file)
            text = parsed.text
            named = parsed.root.mapping?[key: "version"] != nil
            result = try SpecVersion.rewrite(text: text, file: file)
        } catch {
            errors.write(DiagnosticRenderer(sources: [file: text]).render(error.diagnostics))
            return 1
        }
        guard let (rewritten, upgrade) = result else {
            output.write("\(file): version \(SpecVersion.current), nothing to upgrade\n")
            return 0
        }
        output.write("\(file) is version \(upgrade.from)\(named ? "" : " (it names none)"); for version \(SpecVersion.current):\n")
        for edit in upgrade.edits {
            output.write("  \(edit.location): '\(edit.old)' → '\(edit.new)'\n")
        }
        output.write("  version: \(SpecVersion.current)\n")
        if check { return 1 }
        return CommandSupport.run(errors: &errors) {
            try AtomicFile.write(Data(rewritten.utf8), to: file)
            output.write("upgraded \(file)\n")
            return 0
        }
    }
}
