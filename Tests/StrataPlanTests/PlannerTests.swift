import StrataIR
import StrataPlan
import StrataSpec
import Testing

/// The planner's invariants, on the paper's networks and the mini net, for inference, training
/// (with the optimizer) and projections, under the traits of two different backends.
@Suite("Planner")
struct PlannerTests {
    static let networks = ["alexnet", "zfnet", "zfnet-mini"]
    static let traits = [
        BackendTraits(name: "cpu-like", alignment: 64, threads: 2) { step in step.kernel == .conv_forward ? 1000 : 0 },
        BackendTraits(name: "gpu-like", alignment: 4096, threads: 1),
    ]

    static func graph(_ name: String) throws -> Graph {
        let text = try String(contentsOfFile: packageRoot + "/networks/\(name).yaml", encoding: .utf8)
        return try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: text, file: name)))
    }

    /// Inference, training with SGD, and a deconvnet projection from the last conv.
    static func derivations(_ g: Graph) throws -> [DerivedGraph] {
        let lastConv = g.nodes.lastIndex { $0.op == "conv" }!
        return [try DerivedGraph.derive(g, training: false),
                try DerivedGraph.derive(g, backward: .training, dropout: true, optimizer: OptimizerSteps(filterRMSClip: 0.1)),
                try DerivedGraph.derive(g, backward: .projection(from: lastConv, rule: .deconvnet))]
    }

    @Test(arguments: networks)
    func arenaBuffersNeverOverlapWhileAliveAndAreAligned(_ name: String) throws {
        let g = try Self.graph(name)
        for derived in try Self.derivations(g) {
            for traits in Self.traits {
                let plan = Planner.plan(derived, batch: 4, traits: traits)
                let arena = plan.buffers.filter { $0.storage == .arena }
                for a in arena {
                    #expect(a.offset % traits.alignment == 0 && a.offset + a.bytes <= plan.arenaBytes)
                    for b in arena where a.id < b.id && a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
                        #expect(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset, "\(name) \(plan.mode): b\(a.id) and b\(b.id) overlap")
                    }
                }
                for b in plan.buffers where b.storage != .arena { #expect(b.offset % traits.alignment == 0) }
                #expect(plan.arenaBytes < arena.reduce(0) { $0 + $1.bytes }, "\(name) \(plan.mode): liveness should reuse memory")
            }
        }
    }

    /// Every arena buffer is written before it is read, and its recorded lifetime covers every step that touches it.
    @Test(arguments: networks)
    func everyArenaBufferIsWrittenBeforeItIsRead(_ name: String) throws {
        for derived in try Self.derivations(try Self.graph(name)) {
            let plan = Planner.plan(derived, batch: 2, traits: Self.traits[0])
            var written = Set<Int>()
            for (k, step) in plan.steps.enumerated() {
                for id in step.inputs where plan.buffers[id].storage == .arena {
                    #expect(written.contains(id), "\(name) \(plan.mode): step \(k) \(step.kernel) reads b\(id) before anything writes it")
                }
                for id in step.inputs + step.outputs { #expect(plan.buffers[id].firstStep <= k && k <= plan.buffers[id].lastStep) }
                written.formUnion(step.outputs)
            }
        }
    }

    /// Where each kind of tensor lives, and that every tensor is found again by its name.
    @Test func storageFollowsTheTensorsRole() throws {
        let g = try Self.graph("zfnet-mini")
        let derivations = try Self.derivations(g)
        let training = Planner.plan(derivations[1], batch: 2, traits: Self.traits[0])
        for p in training.parameters {
            #expect(training.buffer(p.tensor)?.storage == .parameter)
            #expect(training.buffer(.parameterGradient(p.node, p.parameter))?.storage == .gradient)
            #expect(training.buffer(.momentum(p.node, p.parameter))?.storage == .state)
        }
        #expect(training.buffer(.hyperparameters)?.storage == .input && training.buffer(.hyperparameters)?.batched == false)
        #expect(training.buffer(.labels)?.elementType == .int32)
        #expect(training.steps[training.backwardStart].kernel == .softmax_cross_entropy)
        #expect(training.steps.filter { $0.kernel == .sgd_update }.count == training.parameters.count)
        #expect(training.steps.filter { $0.kernel == .filter_rms_clip }.count == 5)
        for t in training.bufferOf.keys { #expect(training.tensor(named: t.name(in: g)) == t) }

        let projection = Planner.plan(derivations[2], batch: 2, traits: Self.traits[0])
        let seed = try #require(projection.seed)
        #expect(projection.buffer(seed)?.storage == .input)
        #expect(projection.buffer(.inputGradient)?.storage == .gradient)
        #expect(!projection.steps.contains { [.conv_backward_filter, .fc_backward_filter, .sgd_update].contains($0.kernel) })
        // Nothing after the seeded layer runs, and switches are int32.
        #expect(!projection.steps.contains { $0.kernel == .fc_forward || $0.kernel == .softmax_forward })
        let switches = projection.buffers.filter { $0.tensors.contains { if case .switches = $0 { true } else { false } } }
        #expect(switches.count == 2 && switches.allSatisfy { $0.elementType == .int32 })
    }

    /// The backend's traits reach the plan: scratch is the largest any step asked for, times the threads.
    @Test func tracesTheBackendsTraits() throws {
        let derived = try DerivedGraph.derive(try Self.graph("zfnet-mini"), training: true)
        let cpuLike = Planner.plan(derived, batch: 2, traits: Self.traits[0]), gpuLike = Planner.plan(derived, batch: 2, traits: Self.traits[1])
        #expect(cpuLike.workspaceElementsPerThread == 1000)
        #expect(cpuLike.steps.allSatisfy { $0.scratchElements == ($0.kernel == .conv_forward ? 1000 : 0) })
        #expect(gpuLike.workspaceElementsPerThread == 0)
        let unaligned = cpuLike.inputBytes + cpuLike.parameterBytes + cpuLike.gradientBytes + cpuLike.stateBytes
        #expect(cpuLike.peakBytes - cpuLike.arenaBytes - unaligned == 2 * 1000 * 4)
        #expect(gpuLike.text().hasPrefix("plan zfnet-mini (training, batch 2, backend gpu-like, 1 thread, alignment 4096)"))
    }

    /// A fused ReLU disappears as a step and its value shares the conv's buffer; what `keep` names
    /// is never fused away or overwritten.
    @Test func fusionAndKeep() throws {
        let g = try Self.graph("zfnet-mini")
        let derived = try DerivedGraph.derive(g, training: false)
        let relu1 = try #require(g.nodes.firstIndex { $0.name == "relu1" }), conv1 = relu1 - 1
        let fused = Planner.plan(derived, batch: 1, traits: Self.traits[0])
        #expect(fused.steps[0].fusedReLU && fused.steps[1].kernel == .maxpool_forward)
        #expect(fused.bufferOf[.value(relu1)] == fused.bufferOf[.value(conv1)])
        let kept = Planner.plan(derived, batch: 1, traits: Self.traits[0], keep: [.value(conv1)])
        #expect(!kept.steps[0].fusedReLU && kept.steps[1].kernel == .relu_forward)
        #expect(kept.bufferOf[.value(relu1)] != kept.bufferOf[.value(conv1)])
        #expect(kept.buffer(.value(conv1))?.lastStep == kept.steps.count)
    }
}

let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()
