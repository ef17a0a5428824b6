import ArgumentParser
import StrataDiagnostics
import StrataIR
import StrataSpec

/// `strata compile SPEC --stop-after STAGE`: run the compiler up to a stage and print what it made.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the compiler up to a stage and print its result as stable text (or a Graphviz graph).",
        discussion: """
            Stages: spec (the resolved spec, variants expanded, as YAML), ir (the graph IR), \
            shapes (the IR with every shape).
            """)

    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(name: .customLong("stop-after"), help: "The last stage to run: spec, ir or shapes.")
    var stopAfter: Stage = .shapes

    @Option(help: "Output form: text, or dot (Graphviz) for ir and shapes.")
    var emit: Emit = .text

    enum Emit: String, ExpressibleByArgument, CaseIterable { case text, dot }

    func validate() throws {
        if emit == .dot && stopAfter == .spec {
            throw ValidationError("--emit dot needs --stop-after ir or shapes")
        }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) throws -> Int32 {
        let compiler = Compiler()
        do {
            let resolved = try compiler.spec(path: spec)
            if stopAfter == .spec {
                output.write(SpecPrinter.print(resolved))
                return 0
            }
            var graph = try GraphBuilder.build(resolved)
            if stopAfter == .shapes { graph = try ShapeInference.infer(graph) }
            output.write(emit == .dot ? GraphPrinter.dot(graph) : GraphPrinter.text(graph))
            return 0
        } catch {
            return StrataCommands.emit(error, sources: compiler.sources, errors: &errors)
        }
    }
}

extension Stage: ExpressibleByArgument {}
