import COpenBLAS
import Foundation
import StrataIR

/// Linear classifiers on frozen features (ZF's Table 7): multinomial logistic regression (softmax)
/// or one-vs-rest linear SVMs (squared hinge, as LIBLINEAR's default L2-SVM), both with an L2
/// penalty λ on the weights (not the biases), trained by accelerated gradient descent (Nesterov)
/// with a step of 1/L, L bounded from the features' largest singular value (power iteration).
/// Features are standardised with the training rows' mean and deviation first.
public struct LinearProbe: Sendable {
    public enum Classifier: String, Sendable, CaseIterable { case softmax, svm }

    public var classifier: Classifier
    public var classes: Int
    public var dimensions: Int
    /// classes × dimensions, row-major; biases per class.
    public var weights: [Float]
    public var biases: [Float]
    public var mean: [Float]
    public var scale: [Float]

    /// Trains on `n` rows of `d` features (row-major) with labels in 0..<classes.
    public static func train(_ classifier: Classifier, features x: [Float], count n: Int, dimensions d: Int, labels: [Int], classes: Int,
                             lambda: Float = 1e-4, iterations: Int = 300) -> LinearProbe {
        precondition(x.count == n * d && labels.count == n && n > 0)
        // Standardise.
        var mean = [Float](repeating: 0, count: d), scale = [Float](repeating: 1, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += x[i * d + j] } }
        for j in 0..<d { mean[j] /= Float(n) }
        var variance = [Float](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { let v = x[i * d + j] - mean[j]; variance[j] += v * v } }
        for j in 0..<d { let s = (variance[j] / Float(n)).squareRoot(); scale[j] = s > 1e-12 ? 1 / s : 0 }
        var z = x
        for i in 0..<n { for j in 0..<d { z[i * d + j] = (z[i * d + j] - mean[j]) * scale[j] } }
        // L: the largest eigenvalue of ZᵀZ/n (power iteration), times the loss's curvature bound.
        var v = [Float](repeating: 1 / Float(d).squareRoot(), count: d), u = [Float](repeating: 0, count: n)
        var top: Float = 0
        for _ in 0..<30 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(d), 1, z, Int32(d), v, 1, 0, &u, 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(n), Int32(d), 1 / Float(n), z, Int32(d), u, 1, 0, &v, 1)
            top = cblas_snrm2(Int32(d), v, 1)
            guard top > 0 else { break }
            cblas_sscal(Int32(d), 1 / top, &v, 1)
        }
        // +1 for the bias column (a constant 1 feature).
        let curvature: Float = classifier == .softmax ? 0.5 : 2
        let step = 1 / (curvature * (top + 1) + lambda)
        let c = classes
        var w = [Float](repeating: 0, count: c * d), b = [Float](repeating: 0, count: c)
        var wPrevious = w, bPrevious = b
        var scores = [Float](repeating: 0, count: n * c), residual = [Float](repeating: 0, count: n * c)
        var gw = [Float](repeating: 0, count: c * d)
        for t in 0..<iterations {
            // Nesterov: evaluate the gradient at y = w + (t − 1)/(t + 2)·(w − w_previous).
            let momentum = Float(t) / Float(t + 3)
            var yw = w, yb = b
            for k in 0..<(c * d) { yw[k] += momentum * (w[k] - wPrevious[k]) }
            for k in 0..<c { yb[k] += momentum * (b[k] - bPrevious[k]) }
            // scores = Z·Wᵀ + b
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(c), Int32(d), 1, z, Int32(d), yw, Int32(d), 0, &scores, Int32(c))
            for i in 0..<n {
                let row = i * c
                switch classifier {
                case .softmax:
                    var top = -Float.infinity
                    for k in 0..<c { scores[row + k] += yb[k]; top = max(top, scores[row + k]) }
                    var sum: Float = 0
                    for k in 0..<c { let e = expf(scores[row + k] - top); residual[row + k] = e; sum += e }
                    for k in 0..<c { residual[row + k] = residual[row + k] / sum - (labels[i] == k ? 1 : 0) }
                case .svm:
                    for k in 0..<c {
                        let target: Float = labels[i] == k ? 1 : -1
                        let slack = max(0, 1 - target * (scores[row + k] + yb[k]))
                        residual[row + k] = -2 * slack * target
                    }
                }
            }
            // gw = residualᵀ·Z / n + λ·y
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(c), Int32(d), Int32(n), 1 / Float(n), residual, Int32(c), z, Int32(d), 0, &gw, Int32(d))
            wPrevious = w
            bPrevious = b
            for k in 0..<(c * d) { w[k] = yw[k] - step * (gw[k] + lambda * yw[k]) }
            for k in 0..<c {
                var g: Float = 0
                for i in 0..<n { g += residual[i * c + k] }
                b[k] = yb[k] - step * g / Float(n)
            }
        }
        return LinearProbe(classifier: classifier, classes: c, dimensions: d, weights: w, biases: b, mean: mean, scale: scale)
    }

    /// The predicted class of each of `n` rows.
    public func predict(_ x: [Float], count n: Int) -> [Int] {
        let d = dimensions, c = classes
        var z = x
        for i in 0..<n { for j in 0..<d { z[i * d + j] = (z[i * d + j] - mean[j]) * scale[j] } }
        var scores = [Float](repeating: 0, count: n * c)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(c), Int32(d), 1, z, Int32(d), weights, Int32(d), 0, &scores, Int32(c))
        return (0..<n).map { i in (0..<c).max { scores[i * c + $0] + biases[$0] < scores[i * c + $1] + biases[$1] }! }
    }

    /// The fraction of rows predicted as labelled.
    public func accuracy(_ x: [Float], count n: Int, labels: [Int]) -> Double {
        let p = predict(x, count: n)
        return Double(zip(p, labels).filter { $0 == $1 }.count) / Double(max(n, 1))
    }

    /// `perClass` training images of each class, drawn without replacement from `labels` (the
    /// training split's), a function of (seed, draw).
    public static func draw(labels: [Int], classes: Int, perClass: Int, seed: UInt64, draw: Int) -> [Int] {
        var out: [Int] = []
        for c in 0..<classes {
            var g = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(draw) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(c))
            out += g.sample(labels.indices.filter { labels[$0] == c }, count: perClass)
        }
        return out
    }
}


/// ZF's Table 7 over layers and draws: a probe per layer and draw, and the tables that report them.
extension LinearProbe {
    /// One layer's features: its name, the values per image (row-major, `dimensions` each) of the
    /// training images drawn from and of the test images.
    public struct Features: Sendable {
        public var layer: String
        public var dimensions: Int
        public var train: [Float]
        public var test: [Float]

        public init(layer: String, dimensions: Int, train: [Float], test: [Float]) {
            (self.layer, self.dimensions, self.train, self.test) = (layer, dimensions, train, test)
        }
    }

    /// One layer's test accuracy in each draw.
    public struct LayerAccuracy: Sendable {
        public var layer: String
        public var dimensions: Int
        public var accuracies: [Double]

        public init(layer: String, dimensions: Int, accuracies: [Double]) {
            (self.layer, self.dimensions, self.accuracies) = (layer, dimensions, accuracies)
        }

        /// The mean over draws, and the sample standard deviation (0 for one draw).
        public var mean: Double { accuracies.reduce(0, +) / Double(accuracies.count) }
        public var std: Double {
            let m = mean
            return accuracies.count > 1 ? (accuracies.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(accuracies.count - 1)).squareRoot() : 0
        }
    }

    /// Trains a probe per layer and draw and tests it: `draws` lists, per draw, the rows of the
    /// training features it takes (labels `trainLabels`, per row); every probe is tested on all
    /// the test images (`testLabels`).
    public static func evaluate(_ classifier: Classifier, layers: [Features], trainLabels: [Int], draws: [[Int]], testLabels: [Int], classes: Int,
                                lambda: Float) -> [LayerAccuracy] {
        layers.map { f in
            let d = f.dimensions
            let accuracies = draws.map { rows -> Double in
                var x = [Float](), labels = [Int]()
                x.reserveCapacity(rows.count * d)
                for p in rows {
                    x += f.train[(p * d)..<((p + 1) * d)]
                    labels.append(trainLabels[p])
                }
                let probe = train(classifier, features: x, count: rows.count, dimensions: d, labels: labels, classes: classes, lambda: lambda)
                return probe.accuracy(f.test, count: testLabels.count, labels: testLabels)
            }
            return LayerAccuracy(layer: f.layer, dimensions: d, accuracies: accuracies)
        }
    }

    /// probe.csv: a line per layer and draw (`perClass` training images per class, `testImages`).
    public static func csv(_ results: [LayerAccuracy], classifier: Classifier, perClass: Int, testImages: Int) -> String {
        var text = "layer,classifier,per_class,draw,test_images,accuracy\n"
        for r in results {
            for (t, accuracy) in r.accuracies.enumerated() {
                text += "\(r.layer),\(classifier.rawValue),\(perClass),\(t),\(testImages),\(String(format: "%.6f", accuracy))\n"
            }
        }
        return text
    }

    /// probe.md: a row per layer, its features and the accuracy in percent, mean ± std over draws.
    public static func markdown(_ results: [LayerAccuracy], classifier: Classifier) -> String {
        var md = "| layer | features | \(classifier.rawValue) test accuracy (%), mean ± std over draws | draws |\n|---|---|---|---|\n"
        for r in results {
            md += "| \(r.layer) | \(r.dimensions) | \(String(format: "%.2f ± %.2f", r.mean * 100, r.std * 100)) | \(r.accuracies.count) |\n"
        }
        return md
    }
}
