import ArgumentParser
import StrataDiagnostics
import StrataIR
import StrataPlan
import StrataSpec
import StrataOpenCL

/// `strata compile SPEC --stop-after STAGE`: run the compiler up to a stage and print what it made.
struct Compile: StrataSubcommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the compiler up to a stage and print its result as stable text (or a Graphviz graph).",
        discussion: """
            Stages: spec (the resolved spec, variants expanded, as YAML), ir (the graph IR), \
            shapes (the IR with every shape), grad (the kernel steps of inference, or with --training \
            of training: forward, loss and the backward steps each layer's gradient rule derives), \
            plan (steps and buffers for a backend and batch size, with peak memory).
            """)

    @Argument(help: "The network spec (YAML).")
    var spec: String

    @Option(name: .customLong("stop-after"), help: "The last stage to run: spec, ir, shapes, grad or plan.")
    var stopAfter: Stage = .shapes

    @Option(help: "Output form: text, or dot (Graphviz) for ir and shapes.")
    var emit: Emit = .text

    @Flag(help: "Compile for training (forward, loss and backward) instead of inference.")
    var training = false

    @Option(name: .customLong("backward-from"),
            help: "Derive a backward pass seeded at this layer's output, projecting onto the input (deconv, saliency) instead of the loss.")
    var backwardFrom: String?

    @Option(help: "The backward rule: gradient, deconvnet or guided (with --training or --backward-from).")
    var rule: BackwardRule = .gradient

    @Option(help: "The device a plan is for: its alignment, threads and scratch (\(Device.allValueStrings.joined(separator: ", "))), as every command's --device.")
    var device: Device = .cpu

    @Option(help: "Threads the plan is for (default: STRATA_THREADS, else every core).")
    var threads: Int?

    @Option(help: "Batch size of the plan.")
    var batch = 1

    enum Emit: String, ExpressibleByArgument, CaseIterable { case text, dot, opencl }

    func validate() throws {
        if emit == .dot && ![Stage.ir, .shapes].contains(stopAfter) {
            throw ValidationError("--emit dot needs --stop-after ir or shapes")
        }
        if emit == .opencl && (stopAfter != .plan || !device.selector.hasPrefix("opencl")) {
            throw ValidationError("--emit opencl needs --stop-after plan and --device opencl (the specialised kernel sources of the plan)")
        }
        if backwardFrom != nil && training { throw ValidationError("--backward-from and --training are two different backward passes; give one") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        guard batch >= 1, batch <= 1 << 20 else { throw ValidationError("--batch must be between 1 and \(1 << 20)") }
    }

    func execute(output: inout some TextOutputStream, errors: inout some TextOutputStream) throws -> Int32 {
        let compiler = Compiler()
        do {
            let resolved: NetworkSpec
            do {
                resolved = try compiler.spec(path: spec)
            } catch {
                CommandSupport.warn(compiler.loader, errors: &errors)
                throw error
            }
            CommandSupport.warn(compiler.loader, errors: &errors)
            if stopAfter == .spec {
                output.write(SpecPrinter.print(resolved))
                return 0
            }
            var graph = try GraphBuilder.build(resolved)
            if stopAfter == .ir {
                output.write(emit == .dot ? GraphPrinter.dot(graph) : GraphPrinter.text(graph))
                return 0
            }
            graph = try ShapeInference.infer(graph)
            if stopAfter == .shapes {
                output.write(emit == .dot ? GraphPrinter.dot(graph) : GraphPrinter.text(graph))
                return 0
            }
            var pass: BackwardPass? = nil
            if training {
                // The training pass the spec asks for: its frozen layers get no gradient steps.
                pass = try BackwardPass.training(graph, freeze: resolved.training?.freeze ?? [])
                pass!.rule = rule
            }
            if let backwardFrom {
                pass = .projection(from: try CommandSupport.layers(backwardFrom, in: graph)[0], rule: rule)
            }
            // Training plans carry the optimizer's steps (the SGD update, ZF's filter clip when the spec
            // asks for it): the printed plan is the plan `train` runs.
            let derived = try DerivedGraph.derive(graph, backward: pass, dropout: training,
                                                   optimizer: training ? OptimizerSteps(filterRMSClip: resolved.training?.filterRMSClip) : nil)
            if stopAfter == .grad {
                output.write(derived.text())
                return 0
            }
            let target = try device.backend(threads: threads)
            let plan = target.plan(derived, batch: batch)
            if let opencl = target as? OpenCLBackend {
                // Each step's launches: kernel, build options, global and local sizes; or the sources themselves.
                let executor = try OpenCLExecutor(plan: plan, context: opencl.context)
                output.write(emit == .opencl ? executor.specialisedSources() : plan.text() + executor.launchText())
                return 0
            }
            output.write(plan.text())
            return 0
        } catch let error as DiagnosticError {
            return StrataCommands.emit(error, sources: compiler.sources, errors: &errors)
        } catch let error as CommandError {
            errors.write("error: \(error.message)\n")
            return 1
        } catch {
            errors.write("error: \(error)\n")
            return 1
        }
    }
}

extension Stage: ExpressibleByArgument {}
extension BackwardRule: ExpressibleByArgument {}
