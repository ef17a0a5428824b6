import Foundation
import StrataFormats
import StrataCPU
import StrataIR
@testable import StrataTrain
import Testing

@Suite("Data folders")
struct DataLoaderTests {
    func folder() throws -> String {
        let d = NSTemporaryDirectory() + "strata-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// IDX files as MNIST ships them: big-endian magic and sizes, then bytes.
    func writeIDX(_ d: String, prefix: String, images: [[UInt8]], labels: [UInt8], gzip: Bool) throws {
        func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let imageFile = be(0x0803) + be(images.count) + be(2) + be(3) + images.flatMap { $0 }
        let labelFile = be(0x0801) + be(labels.count) + labels
        for (name, bytes) in [("\(prefix)-images-idx3-ubyte", imageFile), ("\(prefix)-labels-idx1-ubyte", labelFile)] {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(d)/\(name)"))
            if gzip {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/gzip")
                p.arguments = ["-f", "\(d)/\(name)"]
                try p.run()
                p.waitUntilExit()
            }
        }
    }

    @Test(arguments: [false, true])
    func readsIDXPlainOrGzipped(gzip: Bool) throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeIDX(d, prefix: "train", images: [[0, 255, 51, 102, 153, 204], [1, 2, 3, 4, 5, 6], [9, 9, 9, 9, 9, 9]], labels: [3, 0, 7], gzip: gzip)
        try writeIDX(d, prefix: "t10k", images: [[0, 0, 0, 0, 0, 255]], labels: [9], gzip: gzip)
        let splits = try DataLoader.open(d, channels: 1, side: 2)
        #expect(splits.train.count == 3 && splits.validation?.count == 1)
        #expect(splits.train.shape == (1, 2, 3))
        #expect(splits.train.classes == 10)   // the larger of the splits' label ranges
        #expect(splits.train.label(0) == 3 && splits.train.label(2) == 7)
        #expect(try splits.train.pixels(0) == [0, 1, 0.2, 0.4, 0.6, 0.8])
    }

    @Test func truncatedIDXIsAnError() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try writeIDX(d, prefix: "train", images: [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]], labels: [1, 2], gzip: false)
        let path = "\(d)/train-images-idx3-ubyte"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: FormatError.self) { try DataLoader.open(d, channels: 1, side: 2) }
        #expect(error?.reason.contains("truncated") == true)
    }

    @Test func readsCIFARBinaryBatches() throws {
        let d = try folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // Two records: label, then 1024 red, 1024 green, 1024 blue bytes.
        var record = [UInt8](repeating: 0, count: 3073)
        record[0] = 4
        for i in 0..<1024 { record[1 + i] = 255; record[1 + 2048 + i] = UInt8(i % 256) }
        try Data(record + record.map { _ in 6 }).write(to: URL(fileURLWithPath: "\(d)/data_batch_1.bin"))
        try Data(record).write(to: URL(fileURLWithPath: "\(d)/test_batch.bin"))
        let splits = try DataLoader.open(d, channels: 3, side: 32)
        #expect(splits.description == "CIFAR-10 binary")
        #expect(splits.train.count == 2 && splits.validation?.count == 1)
        #expect(splits.train.shape == (3, 32, 32))
        #expect(splits.train.label(0) == 4 && splits.train.label(1) == 6)
        let p = try splits.train.pixels(0)
        #expect(p[0] == 1 && p[1024] == 0 && p[2048 + 3] == Float(3) / 255)
        try Data(record.prefix(100)).write(to: URL(fileURLWithPath: "\(d)/data_batch_2.bin"))
        #expect(throws: FormatError.self) { try DataLoader.open(d, channels: 3, side: 32) }
    }
}

@Suite("Learning-rate schedules")
struct ScheduleTests {
    @Test func plateauDividesWhenValidationStopsImproving() throws {
        // A learning rate of 0 cannot improve anything: every epoch after the first is a plateau.
        let text = tinySpec.replacingOccurrences(of: "lr: 0.1", with: "lr: 0.000001").replacingOccurrences(of: "init: {std: 0.3, bias: 0}",
            with: "init: {std: 0.3, bias: 0}\n  schedule: {type: plateau, factor: 0.1, patience: 2}")
        let (graph, spec) = try compileTiny(text)
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(16, seed: 1), validation: squares(16, seed: 1), description: "squares")
        let results = try Trainer(graph: graph, spec: spec, data: data, run: d, options: .init(epochs: 6, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        let rates = results.map(\.learningRate)
        // Epoch 1 sets the best; epochs 2 and 3 do not improve → ×0.1 from epoch 4; 4 and 5 → ×0.1 from epoch 6.
        #expect(abs(rates[0] - 1e-6) < 1e-15 && abs(rates[3] - 1e-7) < 1e-16 && abs(rates[5] - 1e-8) < 1e-17, "\(rates)")
    }

    @Test func stepMultipliesAtTheListedEpochs() throws {
        let text = tinySpec.replacingOccurrences(of: "init: {std: 0.3, bias: 0}", with: "init: {std: 0.3, bias: 0}\n  schedule: {type: step, factor: 0.5, epochs: [1, 3]}")
        let (graph, spec) = try compileTiny(text)
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let data = DataSplits(train: squares(16, seed: 1), validation: nil, description: "squares")
        let results = try Trainer(graph: graph, spec: spec, data: data, run: d, options: .init(epochs: 4, batch: 8), backend: CPUBackend()).train(initialWeights: initialWeights(graph))
        #expect(results.map(\.learningRate) == [0.1, 0.05, 0.05, 0.025])
    }
}
