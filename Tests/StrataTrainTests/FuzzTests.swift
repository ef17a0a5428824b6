import Foundation
import StrataFormats
import StrataIR
@testable import StrataTrain
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Mutates valid files into hostile ones: bit flips, bytes set to boundary values, 4- and 8-byte
/// integers replaced by huge ones (both byte orders), truncation, duplicated and inserted runs, and
/// in text headers, numbers replaced by huge, negative or fractional ones. Seeded: a failure
/// names the iteration, which reproduces it.
struct Mutator {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(random.next() % UInt64(n)) }

    static let bytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x30, 0x39, 0x2C, 0x22, 0x7B]
    static let words: [UInt64] = [0, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 1 << 62, UInt64.max, 1 << 32, 65536]
    static let numbers = ["4611686018427387904", "-1", "10.7", "0", "99999999999999999999", "1e9", "4294967296", "2147483648"]

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var data = input
        for _ in 0...below(3) {
            guard !data.isEmpty else { return data }
            switch below(8) {
            case 0: data[below(data.count)] ^= UInt8(1 << below(8))
            case 1: data[below(data.count)] = Self.bytes[below(Self.bytes.count)]
            case 2, 3:
                let width = below(2) == 0 ? 4 : 8, at = below(max(1, data.count - width + 1))
                let value = Self.words[below(Self.words.count)], bigEndian = below(2) == 0
                for k in 0..<min(width, data.count - at) {
                    data[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(bigEndian ? width - 1 - k : k)))
                }
            case 4: data.removeLast(below(data.count) + 1)
            case 5:
                let at = below(data.count), length = min(below(64) + 1, data.count - at)
                data.insert(contentsOf: data[at..<(at + length)], at: below(data.count))
            case 6: data.insert(contentsOf: (0..<(below(16) + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: below(data.count))
            default:
                // A run of ASCII digits (a header's number) replaced by a hostile one.
                let digits = data.indices.filter { (0x30...0x39).contains(data[$0]) }
                guard !digits.isEmpty else { continue }
                var start = digits[below(digits.count)], end = start
                while start > 0, (0x30...0x39).contains(data[start - 1]) { start -= 1 }
                while end < data.count, (0x30...0x39).contains(data[end]) { end += 1 }
                data.replaceSubrange(start..<end, with: Array(Self.numbers[below(Self.numbers.count)].utf8))
            }
        }
        return data
    }
}

/// Each reader takes thousands of mutated files in-process: every one gives an error or a valid
/// result, never a trap, never a decode larger than the limits. STRATA_FUZZ_ITERATIONS sets the
/// count per reader (default 1500; run longer on demand).
@Suite("fuzzing the readers")
struct FuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["STRATA_FUZZ_ITERATIONS"] ?? "") ?? 1500

    static func peakRSSMiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }

    /// Runs `read` on `iterations` mutations of `seed`; counts results (errors are fine).
    func fuzz(_ name: String, seed: [UInt8], salt: UInt64, _ read: ([UInt8]) throws -> Void) -> (valid: Int, errors: Int) {
        var mutator = Mutator(seed: 0xF022 ^ salt)
        var valid = 0, errors = 0
        let before = Self.peakRSSMiB()
        for _ in 0..<Self.iterations {
            let input = mutator.mutate(seed)
            do { try read(input); valid += 1 } catch { errors += 1 }
        }
        // Unbounded allocation would show as a jump in peak memory (the limits allow well under this).
        #expect(Self.peakRSSMiB() - before < 1536, "\(name): peak memory grew by \(Self.peakRSSMiB() - before) MiB")
        #expect(valid + errors == Self.iterations)
        // Both kinds occur, or the mutations are not reaching the reader's checks.
        #expect(valid > 0 && errors > 0, "\(name): \(valid) valid, \(errors) errors")
        return (valid, errors)
    }

    @Test func safetensors() throws {
        let file = Safetensors.File(tensors: [("conv1.weight", .init(shape: [2, 1, 3, 3], values: (0..<18).map(Float.init))),
                                              ("conv1.bias", .init(shape: [2], values: [1, 2]))], metadata: ["network": "x"])
        let seed = [UInt8](Safetensors.encode(file))
        let result = fuzz("safetensors", seed: seed, salt: 1) { bytes in
            let f = try Safetensors.decode(Data(bytes), path: "fuzz")
            for t in f.tensors.values { #expect(t.values.count == t.shape.reduce(1, *) && t.values.count * 2 <= bytes.count) }
        }
        #expect(result.errors > 0)
    }

    @Test func npy() throws {
        let path = NSTemporaryDirectory() + "strata-fuzz-\(UUID().uuidString).npy"
        defer { unlink(path) }
        try NumpyArray.write(.init(shape: [2, 1, 2, 3], values: (0..<12).map(Float.init)), path: path)
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        _ = fuzz("npy floats", seed: seed, salt: 2) { bytes in
            let a = try NumpyArray.decodeFloats(Data(bytes), path: "fuzz")
            #expect(a.values.count == a.shape.reduce(1, *) && a.values.count <= bytes.count)
        }
        _ = fuzz("npy labels", seed: seed, salt: 3) { bytes in
            let (shape, values) = try NumpyArray.decodeLabels(Data(bytes), path: "fuzz")
            #expect(values.count == shape.reduce(1, *))
        }
    }

    @Test func idx() throws {
        let (n, h, w) = (5, 4, 3)
        let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, UInt8(n), 0, 0, 0, UInt8(h), 0, 0, 0, UInt8(w)] + (0..<(n * h * w)).map { UInt8($0 % 256) }
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, UInt8(n)] + [0, 1, 2, 3, 4]
        _ = fuzz("IDX images", seed: images, salt: 4) { bytes in
            let set = try DataLoader.idx(imageBytes: bytes, labelBytes: labels, images: "i", labels: "l")
            for i in 0..<set.count { _ = try set.pixels(i) }
        }
        _ = fuzz("IDX labels", seed: labels, salt: 5) { bytes in
            let set = try DataLoader.idx(imageBytes: images, labelBytes: bytes, images: "i", labels: "l")
            for i in 0..<set.count { #expect(set.label(i) < set.classes) }
        }
    }

    @Test func cifar() throws {
        var g = SplitMix64(seed: 9)
        let records = (0..<3).flatMap { r in [UInt8(r)] + (0..<3072).map { _ in UInt8(truncatingIfNeeded: g.next()) } }
        _ = fuzz("CIFAR", seed: records, salt: 6) { bytes in
            let set = try DataLoader.cifar([(bytes, "fuzz.bin")])
            for i in 0..<set.count { #expect((0..<10).contains(set.label(i))); _ = try set.pixels(i) }
        }
    }

    static func picture() -> Images.Image {
        Images.Image(channels: 3, height: 12, width: 16, pixels: (0..<576).map { Float(($0 * 37) % 256) })
    }

    @Test func png() throws {
        let seed = [UInt8](try Images.encodePNG(Self.picture()))
        _ = fuzz("PNG", seed: seed, salt: 7) { bytes in
            let image = try Images.decode(Data(bytes), path: "fuzz.png", channels: 3)
            #expect(image.height * image.width <= Images.maximumPixels && image.pixels.count == 3 * image.height * image.width)
        }
    }

    @Test func jpeg() throws {
        let seed = [UInt8](try Images.encodeJPEG(Self.picture()))
        _ = fuzz("JPEG", seed: seed, salt: 8) { bytes in
            let image = try Images.decode(Data(bytes), path: "fuzz.jpg", channels: 3, minimumSide: 8)
            #expect(image.height * image.width <= Images.maximumPixels && image.pixels.count == 3 * image.height * image.width)
        }
    }

    /// A checkpoint's bytes, and its metadata values one by one.
    @Test func checkpointMetadata() throws {
        let metadata = ["format": Checkpoint.format, "network": "tiny", "epoch": "2", "step_in_epoch": "3", "global_step": "19",
                        "learning_rate": "0.01", "best_val_error": "inf", "epochs_without_improvement": "0", "seed": "7",
                        "spec": "name: tiny", "epoch_loss_sum": "1.5", "epoch_wrong": "4", "epoch_seen": "24", "batch": "8",
                        "data_fingerprint": "abc", "classes": #"["cat","dog"]"#]
        let file = Safetensors.File(tensors: [("c1.weight", .init(shape: [1, 1, 1, 1], values: [0.5])), ("data/mean", .init(shape: [1, 2, 2], values: [0, 1, 2, 3])),
                                              ("data/pca_values", .init(shape: [3], values: [1, 2, 3])), ("data/pca_vectors", .init(shape: [3, 3], values: [Float](repeating: 0, count: 9)))],
                                    metadata: metadata)
        let valid = try Checkpoint.read(file, path: "ok")
        #expect(valid.epoch == 2 && valid.batch == 8 && valid.classNames == ["cat", "dog"])
        _ = fuzz("checkpoint bytes", seed: [UInt8](Safetensors.encode(file)), salt: 9) { bytes in
            let state = try Checkpoint.read(Safetensors.decode(Data(bytes), path: "fuzz"), path: "fuzz")
            #expect(state.epoch >= 0 && state.stepInEpoch >= 0 && state.meanShape.count == 3 && state.learningRate.isFinite)
        }
        var mutator = Mutator(seed: 10)
        for k in 0..<Self.iterations {
            var changed = file
            let key = metadata.keys.sorted()[k % metadata.count]
            changed.metadata[key] = String(decoding: mutator.mutate(Array(metadata[key]!.utf8)), as: UTF8.self)
            if let state = try? Checkpoint.read(changed, path: "fuzz") {
                #expect(state.epoch >= 0 && state.globalStep >= 0 && (state.batch ?? 1) >= 1)
            }
        }
    }
}
