import Foundation
import StrataAnalysis
import StrataFormats
import StrataIR
import Testing

/// What deconv and evolve write: crops, JSON, the maps drawn, the snapshots read (`AnalysisFigureTests`: what they draw).
@Suite("Projection and evolution records")
struct ProjectionOutputTests {
    @Test func randomMapsAreDistinctSortedAndFollowTheSeed() {
        let maps = Projection.randomMaps(5, of: 64, seed: 3)
        #expect(maps.count == 5 && maps == maps.sorted() && Set(maps).count == 5 && maps.allSatisfy { (0..<64).contains($0) })
        #expect(Projection.randomMaps(5, of: 64, seed: 3) == maps && Projection.randomMaps(5, of: 64, seed: 4) != maps)
        #expect(Projection.randomMaps(20, of: 5, seed: 0) == [0, 1, 2, 3, 4])
    }

    @Test func aCropKeepsTheFieldOfEveryChannel() {
        let x = (0..<32).map(Float.init)   // 2 × 4 × 4
        #expect(Projection.crop(x[...], shape: TensorShape([2, 4, 4]), field: (1, 1, 2, 2)) == [5, 6, 9, 10, 21, 22, 25, 26])
    }

    @Test func theMapAndEvolutionRecordsListEveryActivation() throws {
        let activations = [Activation(image: 0, map: 1, row: 3, column: 3, value: 2), Activation(image: 2, map: 1, row: 4, column: 4, value: 1.5)]
        #expect(Projection.json(activations) == """
            [
              {"image": 0, "row": 3, "column": 3, "activation": 2.0},
              {"image": 2, "row": 4, "column": 4, "activation": 1.5}
            ]

            """)
        #expect(Evolution.record(epoch: 3, activations[1]).text() == "{\"epoch\": 3, \"map\": 1, \"image\": 2, \"row\": 4, \"column\": 4, \"activation\": 1.5}")
    }

    @Test func snapshotsArePlainEpochNumbersInOrder() throws {
        let d = NSTemporaryDirectory() + "strata-snapshots-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        for name in ["epoch-2", "epoch-10", "epoch-1", "epoch-01", "epoch-+3", "epoch-x", "latest", "epoch-1234567890", "epoch-4.safetensors.tmp"] {
            _ = FileManager.default.createFile(atPath: "\(d)/\(name).safetensors", contents: Data())
        }
        #expect(Evolution.snapshots(in: d).map(\.epoch) == [1, 2, 10])
        #expect(Evolution.snapshots(in: d).first?.path == "\(d)/epoch-1.safetensors")
        #expect(Evolution.snapshots(in: d + "/missing").isEmpty)
    }
}
