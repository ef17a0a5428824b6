import Foundation
import StrataAnalysis
import Testing

/// The probes' linear classifiers reach the known optimum of small separable problems.
@Suite("linear probes")
struct LinearProbeTests {
    /// Two points, x = +1 (class 1) and x = −1 (class 0): the one-vs-rest squared-hinge SVM with L2
    /// penalty λ minimises λ/2·w² + (1 − w)², so w = 2/(2 + λ) for class 1 (−w for class 0), b = 0.
    @Test func theSVMReachesItsClosedFormOptimum() {
        for lambda: Float in [0.01, 0.1, 1] {
            let probe = LinearProbe.train(.svm, features: [1, -1], count: 2, dimensions: 1, labels: [1, 0], classes: 2, lambda: lambda, iterations: 500)
            let want = 2 / (2 + lambda)
            #expect(abs(probe.weights[1] - want) < 1e-4 && abs(probe.weights[0] + want) < 1e-4, "λ \(lambda): w \(probe.weights), want ±\(want)")
            #expect(abs(probe.biases[0]) < 1e-4 && abs(probe.biases[1]) < 1e-4)
        }
    }

    /// The same points under the softmax with penalty λ: by symmetry w₁ = −w₀ = a with
    /// λ·a·(1 + e^{2a}) = 1 (the zero of the objective's derivative), found here by bisection.
    @Test func theSoftmaxReachesItsOptimum() {
        for lambda: Double in [0.01, 0.1, 1] {
            var lo = 0.0, hi = 20.0
            for _ in 0..<100 { let a = (lo + hi) / 2; if lambda * a * (1 + exp(2 * a)) < 1 { lo = a } else { hi = a } }
            let probe = LinearProbe.train(.softmax, features: [1, -1], count: 2, dimensions: 1, labels: [1, 0], classes: 2, lambda: Float(lambda), iterations: 2000)
            #expect(abs(Double(probe.weights[1]) - lo) < 1e-3 && abs(Double(probe.weights[0]) + lo) < 1e-3, "λ \(lambda): w \(probe.weights), want ±\(lo)")
        }
    }

    /// Three Gaussian blobs in 5 dimensions, well apart: both classifiers separate held-out points.
    @Test(arguments: LinearProbe.Classifier.allCases)
    func separableBlobsAreClassifiedPerfectly(_ classifier: LinearProbe.Classifier) {
        var g = SystemRandomNumberGenerator()
        func points(_ n: Int) -> ([Float], [Int]) {
            var x: [Float] = [], y: [Int] = []
            for i in 0..<n {
                let c = i % 3
                for j in 0..<5 { x.append((j == c ? 6 : 0) + Float.random(in: -1...1, using: &g)) }
                y.append(c)
            }
            return (x, y)
        }
        let (x, y) = points(60), (tx, ty) = points(300)
        let probe = LinearProbe.train(classifier, features: x, count: 60, dimensions: 5, labels: y, classes: 3)
        #expect(probe.accuracy(tx, count: 300, labels: ty) == 1)
    }

    @Test func drawsTakeEveryClassEquallyAndRepeatFromTheSeed() {
        let labels = (0..<100).map { $0 % 4 }
        let a = LinearProbe.draw(labels: labels, classes: 4, perClass: 5, seed: 3, draw: 1)
        #expect(a.count == 20 && Set(a).count == 20)
        #expect((0..<4).allSatisfy { c in a.filter { labels[$0] == c }.count == 5 })
        #expect(a == LinearProbe.draw(labels: labels, classes: 4, perClass: 5, seed: 3, draw: 1))
        #expect(a != LinearProbe.draw(labels: labels, classes: 4, perClass: 5, seed: 3, draw: 2))
    }

    /// A probe per layer and draw: a layer whose feature is the label is read perfectly, one that
    /// holds the wrong sign of it never; the tables have a line per draw and a row per layer.
    @Test func aProbePerLayerAndDrawAndItsTables() {
        let trainLabels = [0, 1, 0, 1, 0, 1], testLabels = [1, 0, 1, 0]
        let signal = LinearProbe.Features(layer: "good", dimensions: 1, train: trainLabels.map { $0 == 1 ? 1 : -1 }, test: testLabels.map { $0 == 1 ? 1 : -1 })
        let flipped = LinearProbe.Features(layer: "flipped", dimensions: 1, train: trainLabels.map { $0 == 1 ? 1 : -1 }, test: testLabels.map { $0 == 1 ? -1 : 1 })
        let results = LinearProbe.evaluate(.softmax, layers: [signal, flipped], trainLabels: trainLabels, draws: [[0, 1, 2, 3], [2, 3, 4, 5]],
                                           testLabels: testLabels, classes: 2, lambda: 1e-4)
        #expect(results.map(\.layer) == ["good", "flipped"] && results[0].accuracies == [1, 1] && results[1].accuracies == [0, 0])
        #expect(results[0].mean == 1 && results[0].std == 0)
        #expect(LinearProbe.LayerAccuracy(layer: "x", dimensions: 1, accuracies: [0.5, 1]).std == (0.125).squareRoot())
        #expect(LinearProbe.csv(results, classifier: .softmax, perClass: 2, testImages: 4) == """
            layer,classifier,per_class,draw,test_images,accuracy
            good,softmax,2,0,4,1.000000
            good,softmax,2,1,4,1.000000
            flipped,softmax,2,0,4,0.000000
            flipped,softmax,2,1,4,0.000000

            """)
        #expect(LinearProbe.markdown(results, classifier: .softmax) == """
            | layer | features | softmax test accuracy (%), mean ± std over draws | draws |
            |---|---|---|---|
            | good | 1 | 100.00 ± 0.00 | 2 |
            | flipped | 1 | 0.00 ± 0.00 | 2 |

            """)
    }
}
