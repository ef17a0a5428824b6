import Foundation
import StrataCPU
import StrataFormats
import StrataIR
@testable import StrataTrain
import Testing

/// The ensemble evaluation as a library call, without the CLI: what it refuses and why.
@Suite("Ensemble evaluation")
struct EnsembleTests {
    @Test func weightsThatAreNotFiniteOrMisfitAreRefusedNamingTheTensor() throws {
        let (graph, _) = try compileTiny()
        var file = initialWeights(graph)
        try Ensemble.checkWeights(file, path: "w.safetensors", graph: graph)
        let name = graph.namedParameters()[0].name
        file.tensors[name]!.values[3] = .nan
        #expect(throws: Ensemble.Failure.self) { try Ensemble.checkWeights(file, path: "w.safetensors", graph: graph) }
        do { try Ensemble.checkWeights(file, path: "w.safetensors", graph: graph) } catch {
            #expect(error.description.contains("'\(name)' holds nan at position 3"))
        }
        file.tensors[name] = nil
        #expect(throws: Ensemble.Failure.self) { try Ensemble.checkWeights(file, path: "w.safetensors", graph: graph) }
    }

    @Test func anEnsembleMustShareItsClasses() throws {
        let (graph, _) = try compileTiny()
        func checkpoint(_ classes: [String]) -> Safetensors.File {
            var f = initialWeights(graph)
            f.metadata["classes"] = JSONValue.strings(classes).text(.minimal)
            return f
        }
        #expect(try Ensemble.classNames([("a", checkpoint(["left", "right"])), ("b", initialWeights(graph))]) == ["left", "right"])
        #expect(throws: Ensemble.Failure.self) {
            try Ensemble.classNames([("a", checkpoint(["left", "right"])), ("b", checkpoint(["right", "left"]))])
        }
    }
}
