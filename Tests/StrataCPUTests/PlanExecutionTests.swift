import StrataCPU
import StrataIR
import StrataPlan
import Testing

@Suite("CPU execution")
struct PlanExecutionTests {
    /// The SGD update is a plan step after the backward pass, following the paper's rule exactly:
    /// v ← m·v − wd·lr·w − lr·g, w ← w + v, with the momentum kept between runs.
    @Test func sgdStepFollowsThePapersRule() throws {
        let g = try graph("  - {name: f, op: fc, units: 2}\n  - {name: prob, op: softmax}\n", input: "{channels: 1, height: 1, width: 3}")
        let executor = try trainingExecutor(g, batch: 2, settings: cpu(.float64), optimizer: OptimizerSteps())
        #expect(executor.plan.steps.contains { $0.kernel == .sgd_update })
        try executor.setOptimizer(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let w0 = try executor.readDoubles(.parameter(0, "weight"))
        try executor.run()
        let g0 = try executor.readDoubles(.parameterGradient(0, "weight")), w1 = try executor.readDoubles(.parameter(0, "weight"))
        let v1 = zip(w0, g0).map { -0.01 * 0.1 * $0 - 0.1 * $1 }
        for i in w0.indices { #expect(abs(w1[i] - (w0[i] + v1[i])) < 1e-12) }
        for (m, v) in zip(try executor.readDoubles(.momentum(0, "weight")), v1) { #expect(abs(m - v) < 1e-12) }
        try executor.run()
        let g1 = try executor.readDoubles(.parameterGradient(0, "weight")), w2 = try executor.readDoubles(.parameter(0, "weight"))
        for i in w0.indices {
            let v2 = 0.9 * v1[i] - 0.01 * 0.1 * w1[i] - 0.1 * g1[i]
            #expect(abs(w2[i] - (w1[i] + v2)) < 1e-12)
        }
    }

    /// ZF's clip runs after the update: no conv filter ends a step with an RMS above the radius,
    /// and filters below it are untouched; fc weights are never clipped.
    @Test func filterClipRenormalisesOnlyLargeConvFilters() throws {
        let g = try graph("  - {name: c, op: conv, filters: 4, kernel: 3}\n  - {name: f, op: fc, units: 3}\n  - {name: prob, op: softmax}\n",
                          input: "{channels: 2, height: 5, width: 5}")
        let radius = 0.3
        let executor = try trainingExecutor(g, batch: 2, settings: cpu(.float64), scale: 1, optimizer: OptimizerSteps(filterRMSClip: radius))
        // Filters 0 and 1 large (RMS 1 and 0.5), 2 and 3 small (0.1): only the first two are clipped.
        let size = 2 * 3 * 3
        let rows: [Double] = [1, 0.5, 0.1, 0.1]
        try executor.write(.parameter(0, "weight"), doubles: rows.flatMap { r in (0..<size).map { $0 % 2 == 0 ? r : -r } })
        try executor.setOptimizer(learningRate: 0, momentum: 0, weightDecay: 0)
        let fc = try executor.readDoubles(.parameter(1, "weight"))
        try executor.run()
        let w = try executor.readDoubles(.parameter(0, "weight"))
        for f in 0..<4 {
            let row = w[(f * size)..<((f + 1) * size)]
            let rms = (row.reduce(0) { $0 + $1 * $1 } / Double(size)).squareRoot()
            #expect(abs(rms - min(rows[f], radius)) < 1e-12, "filter \(f): RMS \(rms)")
        }
        #expect(try executor.readDoubles(.parameter(1, "weight")) == fc)
    }

    /// Sizes and names are checked: the wrong number of values, or a tensor the plan lacks, is an
    /// error naming both, and nothing is written.
    @Test func executorRefusesSizeAndNameMismatches() throws {
        let g = try graph("  - {name: f, op: fc, units: 2}\n  - {name: prob, op: softmax}\n", input: "{channels: 1, height: 1, width: 3}")
        let executor = try trainingExecutor(g, batch: 2, settings: cpu())
        let before = try executor.read(.parameter(0, "weight"))
        #expect(throws: ExecutorError.self) { try executor.write(.parameter(0, "weight"), [1, 2, 3]) }
        do {
            try executor.write(.parameter(0, "weight"), [Float](repeating: 1, count: 7))
        } catch {
            #expect("\(error)" == "'f.weight' of 'test' holds 6 values (2×3) but 7 were given")
        }
        #expect(try executor.read(.parameter(0, "weight")) == before)
        do {
            try executor.setInput([Float](repeating: 0, count: 5).withUnsafeBufferPointer { $0 })
            Issue.record("a short input was accepted")
        } catch {
            #expect("\(error)" == "'input' of 'test' at batch 2 holds 6 values (2×1×1×3) but 5 were given")
        }
        #expect(throws: ExecutorError.self) { try executor.read(named: "g.weight") }
        #expect(try executor.read(named: "f.weight") == before)
        do {
            try executor.loadParameters(["f.weight": ([3, 2], [Float](repeating: 0, count: 6))])
            Issue.record("weights of another shape were accepted")
        } catch let mismatch as ParameterMismatch {
            #expect(mismatch.problems == ["'f.weight' is (3, 2) but the spec needs (2, 3)", "'f.bias' is missing (the spec needs (2))"])
        }
        #expect(throws: ExecutorError.self) { try executor.setLabels([0, 1, 1]) }
    }

    /// A plan made for another backend is refused.
    @Test func executorRefusesAnotherBackendsPlan() throws {
        let g = try graph("  - {name: f, op: fc, units: 2}\n", input: "{channels: 1, height: 1, width: 3}")
        let plan = Planner.plan(try DerivedGraph.derive(g, training: false), batch: 1, traits: BackendTraits(name: "opencl", alignment: 128, threads: 1))
        #expect(throws: ExecutorError.self) { try CPUExecutor(plan: plan) }
    }

    @Test func alexNetTrainingPlanFitsTheMemoryBudget() throws {
        let text = try String(contentsOfFile: packageRoot + "/networks/alexnet.yaml", encoding: .utf8)
        let g = try ShapeInference.infer(GraphBuilder.build(StrataSpec.SpecLoader().load(text: text, file: "alexnet")))
        let derived = try DerivedGraph.derive(g, backward: .training, dropout: true, optimizer: OptimizerSteps())
        let plan = CPUBackend(cpu(threads: 2)).plan(derived, batch: 32)
        // Parameters, gradients, momentum, the arena and scratch.
        #expect(plan.stateBytes == plan.parameterBytes)
        #expect(plan.peakBytes < 1_300_000_000, "AlexNet training at batch 32 plans \(ExecutionPlan.size(plan.peakBytes))")
    }
}

import StrataSpec

let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// `observe`: a tensor read during the run, right after the step that makes it, equals the same
/// tensor kept to the end, while the plan still reuses its memory.
@Suite("Observed tensors")
struct ObservedTensorTests {
    @Test func observingGivesTheKeptValuesInASmallerPlan() throws {
        let g = try graph("""
              - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1}
              - {name: r1, op: relu}
              - {name: p1, op: maxpool, kernel: 2}
              - {name: c2, op: conv, filters: 4, kernel: 3, pad: 1}
              - {name: r2, op: relu}
              - {name: f1, op: fc, units: 3}

            """, input: "{channels: 2, height: 8, width: 8}")
        let settings = cpu()
        let derived = try DerivedGraph.derive(g, training: false)
        let wanted: Set<TensorID> = [.value(0), .value(1), .value(4)]
        let kept = try CPUExecutor(plan: CPUBackend(settings).plan(derived, batch: 3, keep: wanted), settings: settings)
        let observing = try CPUExecutor(plan: CPUBackend(settings).plan(derived, batch: 3, observe: wanted), settings: settings)
        #expect(observing.plan.arenaBytes < kept.plan.arenaBytes)
        var random = Random(5)
        let weights = kept.plan.parameters.map { p in (p.tensor, (0..<p.elementCount).map { _ in random.uniform() }) }
        let input = (0..<(3 * 128)).map { _ in random.uniform() }
        for e in [kept, observing] {
            for (t, w) in weights { try e.write(t, doubles: w) }
            try e.write(.input, doubles: input)
        }
        try kept.run()
        var seen: [TensorID: [Float]] = [:]
        try observing.run(seed: 0) { t, values in seen[t] = Array(values) }
        #expect(Set(seen.keys) == wanted)
        for t in wanted { #expect(seen[t] == (try kept.read(t)), "\(t)") }
        #expect(seen[.value(0)]!.contains { $0 < 0 })    // the conv's own output, before its ReLU
    }
}
