import StrataIR
import StrataPlan
import StrataSpec

/// What `strata bench` and `strata tune` time: an executor of one inference pass or one training
/// step (forward, loss, backward, the SGD update and any filter clip, as the trainer runs it) at
/// `batch`, loaded with the spec's initial weights (seed 1), random inputs and labels (seed 7), and
/// a small learning rate so repeated steps stay finite.
public enum Benchmark {
    public static func executor(graph: Graph, spec: NetworkSpec, backend: any Backend, batch: Int, training: Bool) throws -> any Executor {
        // A training step is the trainer's: forward, loss, backward, the SGD update and any filter clip.
        let derived = try DerivedGraph.derive(graph, backward: training ? .training(graph, freeze: spec.training?.freeze ?? []) : nil, dropout: training,
                                               optimizer: training ? OptimizerSteps(filterRMSClip: spec.training?.filterRMSClip) : nil)
        let plan = backend.plan(derived, batch: batch)
        let executor = try backend.makeExecutor(plan)
        try executor.loadParameters(Initialization.weights(graph: graph, spec: spec, seed: 1).parameterTensors)
        var generator = SplitMix64(seed: 7)
        let inputCount = plan.buffer(.input)!.elements
        let input = (0..<inputCount).map { _ in Float(Double(generator.next() >> 11) * 0x1.0p-53 * 2 - 1) }
        try executor.write(.input, input)
        let classes = graph.nodes.last!.shape!.elementCount!
        if training {
            try executor.setLabels((0..<batch).map { _ in Int32(generator.next() % UInt64(classes)) })
            let optimizer = spec.training?.optimizer ?? .init()
            try executor.setOptimizer(learningRate: optimizer.learningRate * 1e-3, momentum: optimizer.momentum, weightDecay: optimizer.weightDecay)
        }
        return executor
    }
}
