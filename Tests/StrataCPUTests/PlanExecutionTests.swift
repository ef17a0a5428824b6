import StrataCPU
import StrataIR
import StrataPlan
import Testing

@Suite("CPU execution")
struct PlanExecutionTests {
    /// SGD follows the paper's rule exactly: v ← m·v − wd·lr·w − lr·g, w ← w + v.
    @Test func sgdStepFollowsThePapersRule() throws {
        let g = try graph("  - {name: f, op: fc, units: 2}\n  - {name: prob, op: softmax}\n", input: "{channels: 1, height: 1, width: 3}")
        let executor = try trainingExecutor(g, batch: 2, precision: .float64)
        executor.run()
        let w0 = executor.read(.parameter(0, "weight")), g0 = executor.read(.parameterGradient(0, "weight"))
        executor.sgdStep(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let w1 = executor.read(.parameter(0, "weight"))
        let v1 = zip(w0, g0).map { -0.01 * 0.1 * $0 - 0.1 * $1 }
        for i in w0.indices { #expect(abs(w1[i] - (w0[i] + v1[i])) < 1e-12) }
        executor.run()
        let g1 = executor.read(.parameterGradient(0, "weight"))
        executor.sgdStep(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let w2 = executor.read(.parameter(0, "weight"))
        for i in w0.indices {
            let v2 = 0.9 * v1[i] - 0.01 * 0.1 * w1[i] - 0.1 * g1[i]
            #expect(abs(w2[i] - (w1[i] + v2)) < 1e-12)
        }
    }

    /// Liveness placement never lets two buffers that are alive at the same step overlap.
    @Test func arenaBuffersNeverOverlapWhileAlive() throws {
        for path in ["alexnet", "zfnet", "zfnet-mini"] {
            let text = try String(contentsOfFile: packageRoot + "/networks/\(path).yaml", encoding: .utf8)
            let g = try ShapeInference.infer(GraphBuilder.build(StrataSpec.SpecLoader().load(text: text, file: path)))
            for training in [false, true] {
                let plan = Planner.plan(try TrainingGraph.derive(g, training: training), batch: 4)
                let arena = plan.buffers.filter { $0.storage == .arena }
                for a in arena {
                    #expect(a.offset + a.bytes <= plan.arenaBytes)
                    for b in arena where a.id < b.id && a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
                        #expect(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset, "\(path): b\(a.id) and b\(b.id) overlap")
                    }
                }
                let total = arena.reduce(0) { $0 + $1.bytes }
                #expect(plan.arenaBytes < total, "\(path): liveness should reuse memory")
            }
        }
    }

    @Test func alexNetTrainingPlanFitsTheMemoryBudget() throws {
        let text = try String(contentsOfFile: packageRoot + "/networks/alexnet.yaml", encoding: .utf8)
        let g = try ShapeInference.infer(GraphBuilder.build(StrataSpec.SpecLoader().load(text: text, file: "alexnet")))
        let plan = Planner.plan(try TrainingGraph.derive(g, training: true), batch: 32)
        // Parameters, gradients, the arena and scratch; SGD momentum adds one more copy of the parameters.
        let bytes = plan.peakBytes(threads: 2) + plan.parameterBytes
        #expect(bytes < 1_300_000_000, "AlexNet training at batch 32 plans \(ExecutionPlan.size(bytes))")
    }
}

import StrataSpec

let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()
