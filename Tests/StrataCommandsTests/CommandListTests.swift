import ArgumentParser
import Foundation
@testable import StrataCommands
import StrataIR
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
        #expect(Self.names.count == 24)
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

/// Every registered op reaches every place written by hand that must know it: the registry holds
/// every layer type in Sources/StrataIR/Layers, the reference network and the OpenCL test network
/// use every op, and the README lists them. A new op that misses one is named here.
@Suite("every op everywhere it is written by hand")
struct OpCoverageTests {
    static var ops: [String] { Layer.registry.map { $0.op } }

    @Test func theRegistryHoldsEveryLayerType() throws {
        let folder = packageRoot + "/Sources/StrataIR/Layers"
        var declared: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasSuffix(".swift") {
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains(": LayerDefinition") && line.contains("struct ") {
                declared.append(String(line.split(separator: "struct ")[1].prefix { $0.isLetter || $0.isNumber }))
            }
        }
        let registered = Layer.registry.map { "\($0)" }
        for type in declared { #expect(registered.contains(type), "\(type) is a LayerDefinition but not in Layer.registry: specs cannot use it") }
        #expect(declared.count == registered.count)
    }

    @Test func theHandWrittenNetworksAndTheREADMEUseEveryOp() throws {
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let listed = readme.split(separator: "\n").first { $0.hasPrefix("note: ops are ") }.map(String.init) ?? ""
        for op in Self.ops {
            #expect(ReferenceNetworkTests.spec.contains("op: \(op)"), "the reference network (ReferenceNetworkTests.spec) does not use '\(op)'")
            #expect(listed.contains("'\(op)'"), "README.md's 'ops are' line does not list '\(op)'")
        }
        let openCLTests = try String(contentsOfFile: packageRoot + "/Tests/StrataOpenCLTests/OpenCLBackendTests.swift", encoding: .utf8)
        let everyOp = openCLTests.components(separatedBy: "name: every-op").dropFirst().first?.components(separatedBy: "\"\"\"").first ?? ""
        for op in Self.ops { #expect(everyOp.contains("op: \(op)"), "the OpenCL test network (OpenCLBackendTests.spec) does not use '\(op)'") }
    }
}
