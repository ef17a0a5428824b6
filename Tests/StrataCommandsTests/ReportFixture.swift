import Foundation
import StrataFormats

/// A small, fixed run folder for the report's screenshot test: three epochs of metrics.csv, thirty
/// steps of steps.csv, spec.yaml's training block, and a sweep folder with a summary.csv (rotate,
/// two layers, 95% intervals), its run.json and a picture. Every number is written here, so the
/// page is the same on every machine.
enum ReportFixture {
    static func write(_ run: String) throws {
        try FileManager.default.createDirectory(atPath: run + "/sweep", withIntermediateDirectories: true)
        try """
            epoch,step,lr,loss,train_top1_error,val_top1_error,val_top5_error,images_per_s,data_wait_fraction,val_loss
            1,10,0.1,0.62,0.3,0.22,,1000,0.01,0.55
            2,20,0.1,0.41,0.16,0.14,,1000,0.01,0.43
            3,30,0.01,0.3,0.1,0.11,,1000,0.01,0.37

            """.write(toFile: run + "/metrics.csv", atomically: true, encoding: .utf8)
        var steps = "epoch,step,global_step,loss,learning_rate\n"
        for k in 1...30 {
            let loss = 0.25 + 0.5 * exp(-Double(k) / 10) + 0.06 * sin(1.7 * Double(k))
            steps += "\((k - 1) / 10 + 1),\((k - 1) % 10 + 1),\(k),\(String(format: "%.4f", loss)),\(k <= 20 ? "0.1" : "0.01")\n"
        }
        try steps.write(toFile: run + "/steps.csv", atomically: true, encoding: .utf8)
        try """
            name: fixture
            input: {channels: 1, height: 6, width: 6}
            layers:
              - {name: c1, op: conv, filters: 4, kernel: 3, pad: 1}
              - {name: f1, op: fc, units: 2}
              - {name: prob, op: softmax}
            training:
              batch: 8
              epochs: 3
              optimizer: {type: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.0005}
              schedule: {type: step, factor: 0.1, epochs: [2]}
              augment: {flip: true, pca_color: 0}

            """.write(toFile: run + "/spec.yaml", atomically: true, encoding: .utf8)
        try sweep(run + "/sweep")
    }

    static func sweep(_ folder: String) throws {
        var summary = "transform,amount,layer,images,mean_distance,distance_ci95_low,distance_ci95_high,mean_relative_distance,ci95_low,ci95_high,"
            + "mean_true_prob,true_prob_ci95_low,true_prob_ci95_high,top1_accuracy,top1_ci95_low,top1_ci95_high\n"
        let probability = [0.9, 0.5, 0.4, 0.5], accuracy = [1, 0.6, 0.5, 0.6]
        for (k, amount) in [0, 90, 180, 270].enumerated() {
            for (layer, distance) in [("c1", [0, 12, 14, 12.0]), ("f1", [0, 5, 6, 5.0])] {
                let d = distance[k], spread = k == 0 ? 0 : 1.0
                summary += "rotate,\(amount),\(layer),8,\(d),\(d - spread),\(d + spread),\(d / 20),\((d - spread) / 20),\((d + spread) / 20),"
                    + "\(probability[k]),\(probability[k] - 0.1),\(probability[k] + 0.1),\(accuracy[k]),\(max(0, accuracy[k] - 0.2)),\(min(1, accuracy[k] + 0.2))\n"
            }
        }
        try summary.write(toFile: folder + "/summary.csv", atomically: true, encoding: .utf8)
        try """
            {"command": "sweep", "parameters": {"transforms": "rotate: 0,90,180,270", "layers": "c1,f1", "images": "8"}}

            """.write(toFile: folder + "/run.json", atomically: true, encoding: .utf8)
        let pixels = (0..<(16 * 64)).map { Float(($0 % 64) * 4) }
        try Images.encodePNG(.init(channels: 1, height: 16, width: 64, pixels: pixels)).write(to: URL(fileURLWithPath: folder + "/rotate.png"))
    }
}
