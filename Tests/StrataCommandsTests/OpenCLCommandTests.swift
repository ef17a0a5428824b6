import Foundation
import StrataFormats
import Testing

/// The commands on `--device opencl` (PoCL here and in CI) give the CPU's results: one executor
/// interface, no second copy of a command per device.
@Suite("commands on OpenCL", .serialized)
struct OpenCLCommandTests {
    @Test func featuresGradAndTrainingAgreeWithTheCPU() throws {
        let d = NSTemporaryDirectory() + "strata-opencl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 64)
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/w.safetensors", "--seed", "3").status == 0)
        for device in ["cpu", "opencl"] {
            let f = strata("features", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--input", d + "/data/val_images.npy", "--layers", "r1,f1",
                           "--out", d + "/f-" + device, "--device", device)
            #expect(f.status == 0, "\(f.errors)")
            let g = strata("grad", d + "/tiny.yaml", "--weights", d + "/w.safetensors", "--input", d + "/data/val_images.npy", "--labels", d + "/data/val_labels.npy",
                           "--out", d + "/g-\(device).safetensors", "--device", device)
            #expect(g.status == 0, "\(g.errors)")
            let t = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run-" + device, "--epochs", "2", "--seed", "5", "--device", device)
            #expect(t.status == 0, "\(t.errors)")
        }
        func close(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-4) {
            let scale = max(a.map(abs).max() ?? 0, 1e-12)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(a.count == b.count && worst <= tolerance * scale, "\(what): largest difference \(worst) of \(scale)")
        }
        for layer in ["r1", "f1"] {
            close(try NumpyArray.readFloats(path: d + "/f-cpu/\(layer).npy").values, try NumpyArray.readFloats(path: d + "/f-opencl/\(layer).npy").values, layer)
        }
        let gc = try Safetensors.read(path: d + "/g-cpu.safetensors"), go = try Safetensors.read(path: d + "/g-opencl.safetensors")
        for name in gc.order { close(gc.tensors[name]!.values, go.tensors[name]!.values, "gradient of \(name)") }
        // Two epochs of SGD with dropout from the same seed: the same weights to float32 rounding.
        let wc = try Safetensors.read(path: d + "/run-cpu/checkpoints/latest.safetensors"), wo = try Safetensors.read(path: d + "/run-opencl/checkpoints/latest.safetensors")
        for name in wc.order where !name.hasPrefix("data/") { close(wc.tensors[name]!.values, wo.tensors[name]!.values, "trained \(name)", tolerance: 1e-3) }
    }
}
