import StrataIR
import StrataPlan

extension Engine {
    /// One fused pass per parameter, the AlexNet paper's rule:
    /// v ← momentum·v − weightDecay·lr·w − lr·∂L/∂w,  w ← w + v.
    /// Momentum buffers start at zero and live as long as the engine.
    func sgdStep(learningRate lr: Double, momentum m: Double, weightDecay wd: Double) {
        let lr = T(lr), m = T(m), decay = T(wd) * lr
        for (parameter, gradient) in parameterPairs {
            let count = plan.buffers[parameter].elements
            let w = pointer(parameter), g = pointer(gradient)
            let v = velocity(parameter, count: count)
            Parallel.chunks(count) { r, _ in
                T.sgd(w + r.lowerBound, g + r.lowerBound, v + r.lowerBound, r.count, learningRate: lr, momentum: m, decay: decay)
            }
        }
    }

    /// (parameter buffer, gradient buffer) for every parameter with a gradient.
    var parameterPairs: [(Int, Int)] {
        plan.buffers.compactMap { b -> (Int, Int)? in
            guard b.storage == .parameter, case .parameter(let i, let name) = b.tensors[0],
                  let g = plan.bufferOf[.parameterGradient(i, name)] else { return nil }
            return (b.id, g)
        }
    }

    func velocity(_ parameter: Int, count: Int) -> UnsafeMutablePointer<T> {
        if let v = velocities[parameter] { return v }
        let v = UnsafeMutablePointer<T>.allocate(capacity: count)
        v.initialize(repeating: 0, count: count)
        velocities[parameter] = v
        return v
    }
}

extension CPUExecutor {
    /// Applies SGD with momentum and weight decay to every parameter, from the gradients of the last run.
    public func sgdStep(learningRate: Double, momentum: Double, weightDecay: Double) {
        switch impl {
        case .single(let e): e.sgdStep(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        case .double(let e): e.sgdStep(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        }
    }
}
