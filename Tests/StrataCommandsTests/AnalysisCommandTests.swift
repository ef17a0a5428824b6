import Foundation
import StrataFormats
import Testing

/// The analysis commands end to end on the tiny network, trained here for two epochs with snapshots.
@Suite("strata sweep, occlude, deconv, filters, evolve, correspond")
struct AnalysisCommandTests {
    /// A trained run (once per test, in its own folder).
    func trained() throws -> String {
        let d = NSTemporaryDirectory() + "strata-analysis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try TrainCommandTests.spec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        try TrainCommandTests.makeData(d + "/data", count: 128)
        let run = strata("train", d + "/tiny.yaml", "--data", d + "/data", "--out", d + "/run", "--snapshot-epochs", "1,2")
        #expect(run.status == 0, "\(run.errors)")
        return d
    }

    var checkpoint: String { "/run/checkpoints/latest.safetensors" }

    @Test func sweepWritesRowsASummaryStripsAndTheRecord() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let run = strata("sweep", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "10",
                         "--transform", "translate-x", "--amounts=-2,0,2", "--layers", "c1,f1", "--out", d + "/sweep")
        #expect(run.status == 0, "\(run.errors)")
        let rows = try String(contentsOfFile: d + "/sweep/sweep.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "image,transform,amount,layer,distance,relative_distance,true_prob,top_label")
        #expect(rows.count == 1 + 10 * 3 * 2)
        #expect(rows.filter { $0.contains(",0.0,") && $0.contains(",translate-x,") }.allSatisfy { $0.split(separator: ",")[4] == "0.0" })
        let summary = try String(contentsOfFile: d + "/sweep/summary.csv", encoding: .utf8).split(separator: "\n")
        #expect(summary.count == 1 + 3 * 2)
        #expect(FileManager.default.fileExists(atPath: d + "/sweep/translate-x.png") && FileManager.default.fileExists(atPath: d + "/sweep/sweep-translate-x.png"))
        // --format pdf and svg: the same figures as vectors, named by the format.
        for (format, magic) in [("pdf", "%PDF-"), ("svg", "<?xml")] {
            let vectors = strata("sweep", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "6", "--transform", "rotate,blur",
                                 "--layers", "c1,f1", "--show", "2", "--format", format, "--out", d + "/" + format)
            #expect(vectors.status == 0, "\(vectors.errors)")
            for name in ["rotate", "blur", "sweep-rotate", "sweep-blur"] {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(d)/\(format)/\(name).\(format)"))
                #expect(String(decoding: bytes.prefix(5), as: UTF8.self) == magic, "\(name).\(format)")
            }
            #expect(!FileManager.default.fileExists(atPath: "\(d)/\(format)/rotate.png"))
        }
        let record = try String(contentsOfFile: d + "/sweep/run.json", encoding: .utf8)
        #expect(record.contains("\"command\": \"sweep\"") && record.contains("\"weights_fnv1a64\"") && record.contains("name: tiny"))
        // The record says what was applied, in which order.
        #expect(record.contains("\"order\": \"transform the raw image, then subtract the mean: T(x) − μ\"") && record.contains("\"fill\": \"black\"")
                && record.contains("subtracted: the mean image data/mean of"), "\(record)")
        #expect(summary[0].hasPrefix("transform,amount,layer,images,mean_distance,distance_ci95_low,distance_ci95_high,mean_relative_distance"))
        // Plain weights carry no mean: the user says what to subtract, and the record has it.
        #expect(strata("init", d + "/tiny.yaml", "--out", d + "/plain.safetensors").status == 0)
        let plain = ["sweep", d + "/tiny.yaml", "--weights", d + "/plain.safetensors", "--data", d + "/data", "--limit", "4", "--transform", "translate-x",
                     "--amounts=-1,1", "--out", d + "/plain"]
        let refused = strata(plain)
        #expect(refused.status == 1 && refused.errors.contains("carries no mean image") && refused.errors.contains("--mean none"), "\(refused.errors)")
        let chosen = strata(plain + ["--mean", "train", "--fill", "edge", "--interpolation", "nearest"])
        #expect(chosen.status == 0, "\(chosen.errors)")
        let chosenRecord = try String(contentsOfFile: d + "/plain/run.json", encoding: .utf8)
        #expect(chosenRecord.contains("--mean train") && chosenRecord.contains("\"fill\": \"edge\"") && chosenRecord.contains("\"interpolation\": \"nearest\""))
        // An amount given twice would count twice in the summary: refused.
        let twice = strata(plain.map { $0 == "--amounts=-1,1" ? "--amounts=1,1" : $0 } + ["--mean", "none"])
        #expect(twice.status == 2 && twice.errors.contains("--amounts gives 1.0 twice"), "\(twice.errors)")
        // No labels with --input: refused.
        let unlabelled = strata("sweep", d + "/tiny.yaml", "--weights", d + checkpoint, "--input", d + "/data/images.npy", "--transform", "rotate", "--out", d + "/x")
        #expect(unlabelled.status == 1 && unlabelled.errors.contains("needs labels"))
        let unknown = strata("sweep", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--transform", "shear", "--out", d + "/x")
        #expect(unknown.status == 2 && unknown.errors.contains("unknown transform 'shear'"))
    }

    @Test func robustnessWritesTheTableTheMarkdownTheFigureAndTheRecord() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let base = ["robustness", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "10", "--k", "2"]
        let run = strata(base + ["--baseline", d + checkpoint, "--out", d + "/rob"])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("shift_consistency") && run.output.contains("mCE 1.0000"), "\(run.output)")
        let rows = try String(contentsOfFile: d + "/rob/robustness.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "measure,setting,layer,value,ci95_low,ci95_high,images")
        for measure in ["clean_accuracy", "shift_consistency", "shift_feature_distance", "worst_of_k_accuracy", "grid_worst_accuracy", "corruption_error",
                        "corruption_mean_error", "mean_corruption_error", "relative_corruption_error", "mCE"] {
            #expect(rows.contains { $0.hasPrefix(measure + ",") }, "\(measure) missing")
        }
        #expect(rows.filter { $0.hasPrefix("shift_feature_distance,") }.count == 2)   // r1 and f1
        #expect(rows.filter { $0.hasPrefix("corruption_error,") }.count == 3 * 6)     // severities 0…5 of three corruptions
        #expect(rows.dropFirst().allSatisfy { $0.hasSuffix(",10") })
        let md = try String(contentsOfFile: d + "/rob/robustness.md", encoding: .utf8)
        #expect(md.contains("10 images of the test split") && md.contains("| shift_consistency |"))
        #expect(FileManager.default.fileExists(atPath: d + "/rob/robustness.png"))
        let record = try String(contentsOfFile: d + "/rob/run.json", encoding: .utf8)
        #expect(record.contains("\"command\": \"robustness\"") && record.contains("\"k\": \"2\"") && record.contains("\"shift\": \"±1 px, whole pixels\""))
        #expect(record.contains("robustness.csv") && record.contains("robustness.md") && record.contains("robustness.png"))
        let svg = strata(base + ["--format", "svg", "--out", d + "/svg"])
        #expect(svg.status == 0, "\(svg.errors)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: d + "/svg/robustness.svg"))
        #expect(String(decoding: bytes.prefix(5), as: UTF8.self) == "<?xml")
        // Bad flags: refused with the reason, usage errors with status 2.
        for (flags, message) in [(["--k", "0"], "--k must be between 1 and 1000"), (["--rotation-step", "0"], "--rotation-step must be positive"),
                                 (["--baseline-spec", d + "/tiny.yaml"], "--baseline-spec goes with --baseline"), (["--shift=-1"], "--shift must be 0 or more")] {
            let bad = strata(Array(base.dropLast(2)) + flags + ["--out", d + "/x"])
            #expect(bad.status == 2 && bad.errors.contains(message), "\(flags): \(bad.errors)")
        }
        let noOut = strata(base)
        #expect(noOut.status == 2 && noOut.errors.contains("missing --out"))
        let unlabelled = strata("robustness", d + "/tiny.yaml", "--weights", d + checkpoint, "--input", d + "/data/images.npy", "--out", d + "/x")
        #expect(unlabelled.status == 1 && unlabelled.errors.contains("needs labels"), "\(unlabelled.errors)")
    }

    @Test func occludeWritesTheDocumentedArrays() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let run = strata("occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "5", "--patch", "2", "--stride", "2",
                         "--out", d + "/occ", "--scale", "shared")
        #expect(run.status == 0, "\(run.errors)")
        #expect(try NumpyArray.readFloats(path: d + "/occ/probability.npy").shape == [5, 3, 3])
        #expect(try NumpyArray.readLabels(path: d + "/occ/top_class.npy").shape == [5, 3, 3])
        #expect(try NumpyArray.readFloats(path: d + "/occ/activation.npy").shape == [5, 3, 3])
        let maps = try NumpyArray.readLabels(path: d + "/occ/strongest_map.npy")
        #expect(maps.shape == [5] && maps.values.allSatisfy { (0..<4).contains($0) })
        #expect(run.output.contains("tracking r1"))
        #expect(FileManager.default.fileExists(atPath: d + "/occ/occlusion.png"))
        // The shown images' projections (the default --show 8, of 5 images): 5 × C × H × W.
        #expect(try NumpyArray.readFloats(path: d + "/occ/projection.npy").shape == [5, 1, 6, 6])
        let record = try String(contentsOfFile: d + "/occ/run.json", encoding: .utf8)
        #expect(record.contains("\"clip_percentile\": \"1\"") && record.contains("\"projection\": \"deconvnet\""), "\(record)")
        for (format, magic) in [("pdf", "%PDF-"), ("svg", "<?xml")] {
            let vectors = strata("occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "3", "--patch", "2",
                                 "--format", format, "--clip-percentile", "0", "--out", d + "/occ-" + format)
            #expect(vectors.status == 0, "\(vectors.errors)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(d)/occ-\(format)/occlusion.\(format)"))
            #expect(String(decoding: bytes.prefix(5), as: UTF8.self) == magic)
            #expect(!FileManager.default.fileExists(atPath: "\(d)/occ-\(format)/occlusion.png"))
        }
        // Which path made the maps is recorded (the default picks by the work it saves); --incremental
        // and --full force each, and their maps agree to float rounding (1e-5 of probabilities in [0, 1]).
        #expect(record.contains("\"method\": \"incremental: ") || record.contains("\"method\": \"full: "), "\(record)")
        let fastRun = strata("occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "5", "--patch", "2", "--stride", "2",
                             "--show", "0", "--incremental", "--out", d + "/occ-incremental")
        #expect(fastRun.status == 0 && fastRun.output.contains("incremental"), "\(fastRun.errors)")
        let whole = strata("occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "5", "--patch", "2", "--stride", "2",
                           "--show", "0", "--full", "--out", d + "/occ-full")
        #expect(whole.status == 0 && whole.output.contains("full"), "\(whole.errors)")
        let (fast, slow) = (try NumpyArray.readFloats(path: d + "/occ-incremental/probability.npy"), try NumpyArray.readFloats(path: d + "/occ-full/probability.npy"))
        #expect(fast.shape == slow.shape && zip(fast.values, slow.values).allSatisfy { abs($0 - $1) < 1e-5 })
        // --approximate states its bound and measures itself against the exact maps of --verify images.
        let rough = strata("occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "5", "--patch", "2", "--stride", "1",
                           "--show", "1", "--approximate", "0.5", "--drill-step", "3", "--verify", "2", "--out", d + "/occ-approximate")
        #expect(rough.status == 0, "\(rough.errors)")
        #expect(rough.output.contains("τ = 0.5") && rough.output.contains("drill-down computed"), "\(rough.output)")
        #expect(rough.output.contains("the coarse occluders, 3 px apart, leave 1-px gaps"), "\(rough.output)")
        #expect(rough.output.contains("measured on 2 images against the exact maps: top class the same at "), "\(rough.output)")
        let roughRecord = try String(contentsOfFile: d + "/occ-approximate/run.json", encoding: .utf8)
        #expect(roughRecord.contains("\"measured\": \"on 2 images against the exact maps") && roughRecord.contains("approximate (Krypton)"), "\(roughRecord)")
        for (arguments, message) in [(["--approximate", "1.5"], "--approximate takes τ in (0, 1]"), (["--approximate", "0.5", "--full"], "--full and --approximate"),
                                     (["--approximate", "0.5", "--drill-threshold", "2"], "--drill-threshold is a difference of probabilities")] {
            let bad = strata(["occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--out", d + "/x"] + arguments)
            #expect(bad.status == 2 && bad.errors.contains(message), "\(bad.errors)")
        }
        let tooMany = strata("occlude", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--show", "25", "--out", d + "/x")
        #expect(tooMany.status == 2 && tooMany.errors.contains("--show must be between 0 and 24"), "\(tooMany.errors)")
    }

    @Test func deconvFiltersAndEvolve() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let deconv = strata("deconv", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--layer", "c1", "--maps", "0,3", "--top", "4",
                            "--out", d + "/dc")
        #expect(deconv.status == 0, "\(deconv.errors)")
        #expect(try NumpyArray.readFloats(path: d + "/dc/c1/map-3.npy").shape == [4, 1, 6, 6])
        let json = try String(contentsOfFile: d + "/dc/c1/map-0.json", encoding: .utf8)
        #expect(json.components(separatedBy: "\"image\"").count == 5)
        let filters = strata("filters", d + "/tiny.yaml", "--weights", d + checkpoint, "--layer", "c1", "--out", d + "/fl")
        #expect(filters.status == 0 && filters.output.contains("c1: 4 filters of 1×3×3"))
        #expect(try String(contentsOfFile: d + "/fl/c1-rms.csv", encoding: .utf8).split(separator: "\n").count == 5)
        let notConv = strata("filters", d + "/tiny.yaml", "--weights", d + checkpoint, "--layer", "f1", "--out", d + "/fl")
        #expect(notConv.status == 1 && notConv.errors.contains("is a fc layer"))
        let evolve = strata("evolve", d + "/tiny.yaml", "--run", d + "/run", "--layer", "c1", "--data", d + "/data", "--limit", "20", "--out", d + "/ev")
        #expect(evolve.status == 0, "\(evolve.errors)")
        #expect(evolve.output.contains("over epochs 1, 2"))
        #expect(try NumpyArray.readFloats(path: d + "/ev/evolution.npy").shape == [4, 2, 1, 6, 6])
        for png in ["/dc/c1/map-0.png", "/dc/c1/map-3.png", "/dc/c1/maps.png", "/fl/c1.png", "/ev/evolution.png"] {
            #expect(try Images.decode(path: d + png, channels: 3).width > 400, "\(png)")
        }
    }

    /// --sanity writes sanity.csv (a line per step, rule and unit: the trained network, then f1
    /// and c1 re-initialised), sanity.md, the figure (in --format) and the projections.
    @Test func deconvSanityWritesTheCascade() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let run = strata("deconv", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "20", "--layer", "c1", "--maps", "0,1",
                         "--top", "3", "--sanity", "--out", d + "/sn")
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("sanity check of 6 units of c1 over 2 re-initialised layers"), "\(run.output)")
        let csv = try String(contentsOfFile: d + "/sn/sanity.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + 3 * 3 * 6 && csv[0] == "step,layers_randomised,rule,map,image,spearman,ssim")
        #expect(csv.contains { $0.hasPrefix("2,f1;c1,guided,1,") } && csv.filter { $0.hasPrefix("1,f1,") }.allSatisfy { $0.hasSuffix(",1.0,1.0") })
        let md = try String(contentsOfFile: d + "/sn/sanity.md", encoding: .utf8)
        #expect(md.contains("| 2 | c1 | deconvnet | 6 |"), "\(md)")
        #expect(try NumpyArray.readFloats(path: d + "/sn/sanity-projections.npy").shape == [3, 3, 6, 1, 6, 6])
        #expect(try Images.decode(path: d + "/sn/sanity.png", channels: 3).width > 400)
        #expect(try String(contentsOfFile: d + "/sn/run.json", encoding: .utf8).contains("\"sanity\": \"true\""))
        let svg = strata("deconv", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "8", "--layer", "c1", "--maps", "0",
                         "--top", "2", "--sanity", "--format", "svg", "--out", d + "/sv")
        #expect(svg.status == 0, "\(svg.errors)")
        #expect(try String(contentsOfFile: d + "/sv/sanity.svg", encoding: .utf8).contains("<svg"))
    }

    /// --format svg or pdf writes the figure in that format (the extension follows), and the
    /// record has the figure's settings.
    @Test func deconvFiltersAndEvolveDrawSVGAndPDF() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let deconv = strata("deconv", d + "/tiny.yaml", "--weights", d + checkpoint, "--data", d + "/data", "--limit", "8", "--layer", "c1", "--maps", "1",
                            "--top", "4", "--format", "svg", "--scale", "shared", "--clip-percentile", "0", "--out", d + "/dc")
        #expect(deconv.status == 0, "\(deconv.errors)")
        let svg = try String(contentsOfFile: d + "/dc/c1/map-1.svg", encoding: .utf8)
        #expect(svg.contains("<svg") && !FileManager.default.fileExists(atPath: d + "/dc/c1/map-1.png"))
        #expect(!FileManager.default.fileExists(atPath: d + "/dc/c1/maps.svg"), "one map: no overview")
        let record = try String(contentsOfFile: d + "/dc/run.json", encoding: .utf8)
        #expect(record.contains("\"scale\": \"shared\"") && record.contains("\"clip_percentile\": \"0.0\"") && record.contains("\"c1/map-1.svg\""), "\(record)")
        let filters = strata("filters", d + "/tiny.yaml", "--weights", d + checkpoint, "--layer", "c1", "--format", "pdf", "--out", d + "/fl")
        #expect(filters.status == 0 && filters.output.contains("wrote \(d)/fl/c1.pdf"), "\(filters.errors)")
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: d + "/fl/c1.pdf")).prefix(5), as: UTF8.self) == "%PDF-")
        let evolve = strata("evolve", d + "/tiny.yaml", "--run", d + "/run", "--layer", "c1", "--maps", "0,2", "--data", d + "/data", "--limit", "8",
                            "--format", "pdf", "--out", d + "/ev")
        #expect(evolve.status == 0 && evolve.output.contains("wrote \(d)/ev/evolution.pdf"), "\(evolve.errors)")
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: d + "/ev/evolution.pdf")).prefix(5), as: UTF8.self) == "%PDF-")
        let svgEvolve = strata("evolve", d + "/tiny.yaml", "--run", d + "/run", "--layer", "c1", "--data", d + "/data", "--limit", "8", "--format", "svg",
                               "--out", d + "/ev2")
        #expect(svgEvolve.status == 0, "\(svgEvolve.errors)")
        #expect(try String(contentsOfFile: d + "/ev2/evolution.svg", encoding: .utf8).contains("<svg"))
        let bad = strata("filters", d + "/tiny.yaml", "--weights", d + checkpoint, "--layer", "c1", "--clip-percentile", "80", "--out", d + "/fl")
        #expect(bad.status == 2 && bad.errors.contains("--clip-percentile must be between 0 and 50"), "\(bad.errors)")
    }

    @Test func correspondReadsRegionsAndWritesTheTable() throws {
        let d = try trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var values: [Float] = []
        for i in 0..<3 { values += (0..<36).map { Float(($0 + i * 5) % 7) / 7 } }
        try NumpyArray.write(.init(shape: [3, 1, 6, 6], values: values), path: d + "/three.npy")
        try "parts:\n  corner: [[0, 0, 2, 2], [0, 1, 2, 2], [1, 0, 2, 2]]\n".write(toFile: d + "/regions.yaml", atomically: true, encoding: .utf8)
        let run = strata("correspond", d + "/tiny.yaml", "--weights", d + checkpoint, "--input", d + "/three.npy", "--regions", d + "/regions.yaml",
                         "--layers", "r1,f1", "--random", "3", "--out", d + "/cor")
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("| corner |") && run.output.contains("| random (corner's size, 3 draws) |"), "\(run.output)")
        let json = try String(contentsOfFile: d + "/cor/run.json", encoding: .utf8)
        #expect(json.contains("grey (0.5), drawn on the raw image") && json.contains("\"preprocessing\": \"raw pixels in [0, 1]"), "\(json)")
        #expect(try String(contentsOfFile: d + "/cor/correspondence.csv", encoding: .utf8).split(separator: "\n").count == 3)
        try "parts:\n  corner: [[0, 0, 2, 2]]\n".write(toFile: d + "/short.yaml", atomically: true, encoding: .utf8)
        let short = strata("correspond", d + "/tiny.yaml", "--weights", d + checkpoint, "--input", d + "/three.npy", "--regions", d + "/short.yaml",
                           "--layers", "r1", "--out", d + "/cor2")
        #expect(short.status == 1 && short.errors.contains("short.yaml:2:11: error: 'corner' has 1 rectangles but there are 3 images"), "\(short.errors)")
    }
}

/// `strata report` on a run with a sweep and an occlusion, opened in headless Chromium: every
/// chart must draw, name its axes and show a legend where it has several series, and every image
/// must load (the page reports all of it on its canvases and `<body>`).
@Suite("strata report")
struct ReportCommandTests {
    @Test func thePageOpensOfflineWithEveryChartAndImage() throws {
        let d = try AnalysisCommandTests().trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let checkpoint = d + "/run/checkpoints/latest.safetensors"
        #expect(strata("sweep", d + "/tiny.yaml", "--weights", checkpoint, "--data", d + "/data", "--limit", "6", "--transform", "translate-y,rotate",
                       "--out", d + "/run/sweep").status == 0)
        #expect(strata("occlude", d + "/tiny.yaml", "--weights", checkpoint, "--data", d + "/data", "--limit", "3", "--out", d + "/run/occlude").status == 0)
        let run = strata("report", d + "/run")
        #expect(run.status == 0, "\(run.errors)")
        // Training: loss per step, error and learning rate per epoch; each transform: distance,
        // relative distance, the classifier. Pictures: the two strips, the two Fig. 5 figures
        // (sweep-TRANSFORM.png) and occlusion.png.
        #expect(run.output.contains("9 charts, 5 pictures"), "\(run.output)")
        let page = try String(contentsOfFile: d + "/run/report.html", encoding: .utf8)
        #expect(!page.contains("src=\"http") && !page.contains("<script src"))   // nothing fetched
        #expect(page.contains("<td>optimizer</td>") && page.contains("steps.csv") && page.contains("mean [95% CI]"))
        #expect(page.contains("strata occlude: ") && page.contains("patch "), "pictures are captioned from run.json")
        guard let dom = try headlessDOM(d + "/run/report.html") else { return }
        #expect(dom.contains("data-charts=\"9/9\""), "\(dom.prefix(300))")
        #expect(dom.contains("data-images=\"5/5\""))
        let charts = try drawnCharts(dom)
        #expect(charts.count == 9)
        for chart in charts {
            let title = chart["title"]?.text ?? ""
            #expect(!title.isEmpty, "a chart without a title: \(chart.text())")
            #expect(!(chart["x"]?.text ?? "").isEmpty && !(chart["y"]?.text ?? "").isEmpty, "'\(title)' lacks an axis title")
            guard case .array(let series)? = chart["series"] else { Issue.record("'\(title)' lists no series"); continue }
            #expect(!series.isEmpty, "'\(title)' draws nothing")
            #expect(series.count < 2 || chart["legend"]?.bool == true, "'\(title)' has \(series.count) series but no legend")
            #expect(!series.contains { ($0.text ?? "").contains("95% CI") }, "'\(title)' lists a band in its legend")
        }
        #expect(charts.contains { $0["x"]?.text == "rotation (degrees, counter-clockwise)" && $0["y"]?.text == "‖f(T(x)) − f(x)‖ (Euclidean)" })
        #expect(charts.contains { $0["title"]?.text == "training loss per step" && $0["series"]?.text(.minimal).contains("exponential moving average") == true })
    }

    /// A report of a fixed folder (training files, a sweep summary, a picture), screenshotted by
    /// headless Chromium at a fixed size and averaged down to 32 × 48 grey cells, matches the
    /// recorded Golden/report-screenshot.pgm: a chart, table or picture that goes missing or moves
    /// fails it. STRATA_RECORD_GOLDEN=1 records it again.
    @Test(.enabled(if: chromiumPath != nil, "headless Chromium is not installed; tools/bootstrap installs Debian's chromium"))
    func aFixedReportLooksAsRecorded() throws {
        let d = NSTemporaryDirectory() + "strata-report-look-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: d) }
        try ReportFixture.write(d + "/run")
        // Run from inside d so the page names the folder "run" wherever the test runs.
        let run = try strataProcess(["report", "run"], currentDirectory: d, environment: [:])
        #expect(run.status == 0, "\(run.errors)")
        _ = try headlessChromium(["--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=1280,1920",
                                  "--screenshot=\(d)/shot.png", "file://\(d)/run/report.html"])
        let actual = try Thumbnail(png: d + "/shot.png", columns: 32, rows: 48)
        let golden = packageRoot + "/Tests/StrataCommandsTests/Golden/report-screenshot.pgm"
        if ProcessInfo.processInfo.environment["STRATA_RECORD_GOLDEN"] == "1" {
            try actual.pgm.write(toFile: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try Thumbnail(pgm: String(contentsOfFile: golden, encoding: .utf8))
        let differences = zip(actual.cells, expected.cells).map { abs($0 - $1) }
        let kept = NSTemporaryDirectory() + "strata-report-screenshot.png"
        try? FileManager.default.removeItem(atPath: kept)
        try? FileManager.default.copyItem(atPath: d + "/shot.png", toPath: kept)
        // Tolerances: text rendered by another FreeType or Chromium shifts a 40 × 40-pixel cell's
        // mean by a few hundredths; a chart or picture missing or moved changes whole cells by 0.2 or more.
        let mean = differences.reduce(0, +) / Double(differences.count)
        #expect(actual.columns == expected.columns && actual.rows == expected.rows)
        #expect(differences.max() ?? 1 < 0.15 && mean < 0.02,
                "the report looks different from Golden/report-screenshot.pgm (largest cell difference \(differences.max() ?? 1), mean \(mean)); see \(kept), and rerun with STRATA_RECORD_GOLDEN=1 if the change is intended")
    }

    /// SVG figures are inlined (and load), PDFs linked; each is captioned with the command and
    /// parameters of the run.json above it.
    @Test func svgFiguresAreInlinedAndPDFsLinked() throws {
        let d = NSTemporaryDirectory() + "strata-report-svg-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: d) }
        try FileManager.default.createDirectory(atPath: d + "/occlude/maps", withIntermediateDirectories: true)
        try "{\"command\": \"occlude\", \"parameters\": {\"patch\": \"6\", \"stride\": \"2\"}}\n".write(toFile: d + "/occlude/run.json", atomically: true, encoding: .utf8)
        try "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"20\"><rect width=\"40\" height=\"20\" fill=\"teal\"/></svg>\n"
            .write(toFile: d + "/occlude/maps/occlusion.svg", atomically: true, encoding: .utf8)
        try "%PDF-1.4\n".write(toFile: d + "/occlude/maps/occlusion.pdf", atomically: true, encoding: .utf8)
        let run = strata("report", d)
        #expect(run.status == 0 && run.output.contains("0 charts, 1 pictures, 1 PDFs linked"), "\(run.output)\(run.errors)")
        let page = try String(contentsOfFile: d + "/report.html", encoding: .utf8)
        #expect(page.contains("src=\"data:image/svg+xml;base64,") && page.contains("href=\"./occlude/maps/occlusion.pdf\""))
        #expect(page.components(separatedBy: "strata occlude: patch 6; stride 2").count == 3, "both figures are captioned from occlude/run.json")
        guard let dom = try headlessDOM(d + "/report.html") else { return }
        #expect(dom.contains("data-images=\"1/1\""), "\(dom.prefix(300))")
    }

    @Test func aFolderWithNothingToShowIsAnError() throws {
        let d = NSTemporaryDirectory() + "strata-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let run = strata("report", d)
        #expect(run.status == 1 && run.errors.contains("nothing to report"))
    }
}

@Suite("strata sweep SWEEP.yaml")
struct SweepFileTests {
    @Test func aSweepFileRunsSeveralTransformsAndReportsLocatedErrors() throws {
        let d = try AnalysisCommandTests().trained()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
            spec: tiny.yaml
            weights: run/checkpoints/latest.safetensors
            data: data
            limit: 4
            layers: [r1, f1]
            out: swept
            transforms:
              - {transform: translate-x, amounts: [-1, 0, 1]}
              - {transform: contrast, amounts: [1, 0.5]}

            """.write(toFile: d + "/sweep.yaml", atomically: true, encoding: .utf8)
        let run = strata("sweep", d + "/sweep.yaml")
        #expect(run.status == 0, "\(run.errors)")
        let rows = try String(contentsOfFile: d + "/swept/sweep.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 1 + 4 * 5 * 2)
        #expect(rows.contains { $0.hasPrefix("3,contrast,0.5,f1,") })
        try "spec: tiny.yaml\ntransforms:\n  - {transform: shear}\n".write(toFile: d + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = strata("sweep", d + "/bad.yaml")
        #expect(bad.status == 1 && bad.errors.contains("bad.yaml:3:5: error: unknown transform 'shear'"), "\(bad.errors)")
    }
}
