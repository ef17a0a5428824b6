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

extension Engine {
    func momentumValues(_ parameter: Int) -> [Double] {
        let count = plan.buffers[parameter].elements
        guard let v = velocities[parameter] else { return [Double](repeating: 0, count: count) }
        return (0..<count).map { Double(v[$0]) }
    }

    func setMomentum(_ parameter: Int, _ values: [Float]) {
        let count = plan.buffers[parameter].elements
        let v = velocity(parameter, count: count)
        for i in 0..<min(count, values.count) { v[i] = T(values[i]) }
    }

    /// ZF's feature-scale clipping: every conv filter whose RMS exceeds `radius` is scaled back to it.
    func clipFilters(radius: Double) {
        for (i, node) in plan.graph.nodes.enumerated() {
            guard case .conv = node.layer, let id = plan.bufferOf[.parameter(i, "weight")] else { continue }
            let b = plan.buffers[id]
            let filters = b.shape[0], size = b.elements / filters
            let w = pointer(id)
            for f in 0..<filters {
                let row = w + f * size
                var squares = 0.0
                for j in 0..<size { squares += Double(row[j]) * Double(row[j]) }
                let rms = (squares / Double(size)).squareRoot()
                if rms > radius {
                    let scale = T(radius / rms)
                    for j in 0..<size { row[j] *= scale }
                }
            }
        }
    }
}

extension CPUExecutor {
    /// The SGD momentum buffer of a parameter (zeros before the first update).
    public func momentum(_ tensor: TensorID) -> [Float] {
        guard let id = plan.bufferOf[tensor] else { return [] }
        switch impl {
        case .single(let e): return e.momentumValues(id).map(Float.init)
        case .double(let e): return e.momentumValues(id).map(Float.init)
        }
    }

    public func setMomentum(_ tensor: TensorID, _ values: [Float]) {
        guard let id = plan.bufferOf[tensor] else { return }
        switch impl {
        case .single(let e): e.setMomentum(id, values)
        case .double(let e): e.setMomentum(id, values)
        }
    }

    /// Renormalises every conv filter whose RMS exceeds `radius` (ZF's feature-scale clipping).
    public func clipFilters(radius: Double) {
        switch impl {
        case .single(let e): e.clipFilters(radius: radius)
        case .double(let e): e.clipFilters(radius: radius)
        }
    }
}
