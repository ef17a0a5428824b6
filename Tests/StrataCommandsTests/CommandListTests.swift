import ArgumentParser
import Foundation
@testable import StrataCommands
import Testing

/// `StrataCommand.configuration.subcommands` is the one list of commands: each runs through its
/// own `execute`, and each is documented where a reader looks for it.
@Suite("the command list")
struct CommandListTests {
    static let names = StrataCommand.configuration.subcommands.map { $0.configuration.commandName ?? "\($0)".lowercased() }

    @Test func everySubcommandExecutesThroughTheOneDispatch() {
        for command in StrataCommand.configuration.subcommands {
            #expect(command is any StrataSubcommand.Type, "\(command) does not conform to StrataSubcommand: it would never run")
        }
        #expect(Self.names.count == 19)
    }

    @Test func everyCommandIsInTheReferenceAndTheArchitecture() throws {
        // The analyses have their sections in docs/analysis.md, the rest in docs/cli.md.
        let cli = try String(contentsOfFile: packageRoot + "/docs/cli.md", encoding: .utf8)
            + String(contentsOfFile: packageRoot + "/docs/analysis.md", encoding: .utf8)
        let architecture = try String(contentsOfFile: packageRoot + "/docs/architecture.md", encoding: .utf8)
        for name in Self.names {
            #expect(cli.contains("## `strata \(name)"), "docs/cli.md and docs/analysis.md have no section for strata \(name)")
            #expect(architecture.contains("`\(name)`"), "docs/architecture.md does not name the command \(name)")
        }
    }
}

/// The plan is the contract: the backends read the plan (its steps, buffers, constants and what it
/// says of the network), never the IR graph it was made from.
@Suite("the plan as the contract")
struct PlanContractTests {
    @Test func backendsNeverReachIntoTheGraph() throws {
        for folder in ["Sources/StrataCPU", "Sources/StrataOpenCL"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/" + folder).filter { $0.hasSuffix(".swift") }
            for file in files {
                let text = try String(contentsOfFile: "\(packageRoot)/\(folder)/\(file)", encoding: .utf8)
                for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains("plan.graph") || line.contains(".graph.nodes") || line.contains("Graph(") {
                    Issue.record("\(folder)/\(file):\(k + 1) reads the graph: \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
    }
}
