import Foundation
import StrataDiagnostics
import StrataIR
import StrataSpec
import Testing

/// The examples in docs/spec.md are real: every layer line parses with its attributes, and the
/// complete spec examples check clean.
@Suite("docs/spec.md examples")
struct DocumentationTests {
    static func yamlBlocks() throws -> [String] {
        let text = try String(contentsOfFile: packageRoot + "/docs/spec.md", encoding: .utf8)
        return text.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    }

    @Test func everyLayerExampleHasValidAttributes() throws {
        var checked = 0
        for block in try Self.yamlBlocks() {
            for line in block.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("- {name:") {
                // Each layer alone, reading a 3×227×227 input (its `from` dropped).
                var layer = String(line.trimmingCharacters(in: .whitespaces).dropFirst(2))
                if let comment = layer.range(of: " #") { layer = String(layer[..<comment.lowerBound]) }
                layer = layer.replacingOccurrences(of: #", from: (\[[^\]]*\]|\w+)"#, with: "", options: .regularExpression)
                if layer.contains("op: concat") || layer.contains("op: softmax") { continue }
                let text = "name: doc\ninput: {channels: 3, height: 227, width: 227}\nlayers:\n  - \(layer)\n"
                do {
                    _ = try GraphBuilder.build(SpecLoader().load(text: text, file: "docs/spec.md example"))
                    checked += 1
                } catch {
                    Issue.record("docs/spec.md example '\(line)': \(error)")
                }
            }
        }
        #expect(checked >= 15)
    }

    /// Every registered op has at least one example in docs/spec.md; the test names any that lacks one.
    @Test func everyRegisteredOpIsDocumented() throws {
        let examples = try Self.yamlBlocks().joined(separator: "\n")
        for definition in Layer.registry where !examples.contains("op: \(definition.op)") {
            Issue.record("op '\(definition.op)' has no example in docs/spec.md")
        }
    }

    @Test func completeExamplesCheckClean() throws {
        let complete = try Self.yamlBlocks().filter { $0.hasPrefix("name:") && $0.contains("\ninput:") }
        #expect(complete.count >= 1)
        for text in complete {
            do {
                _ = try ShapeInference.infer(GraphBuilder.build(SpecLoader().load(text: text, file: "docs/spec.md example")))
            } catch {
                Issue.record("docs/spec.md example:\n\(text)\n\(error)")
            }
        }
    }
}
