import ArgumentParser
import StrataAnalysis
import StrataFigures

/// The options of every command that draws figures: the format, how heat maps are scaled, and
/// the outlier percentile clipped. Each figure states the last two on itself.
struct FigureArguments: ParsableArguments {
    @Option(help: "Figure format: png, or pdf or svg (vectors with real text, for papers).")
    var format: FigureFormat = .png

    @Option(help: "Heat-map and projection colours: per-image (each its own range) or shared (one range for all images, so they compare).")
    var scale: HeatmapScale = .perImage

    @Option(name: .customLong("clip-percentile"),
            help: "Clip the largest P% of magnitudes in heat maps and projections before scaling them (Captum's outlier percentile; 0 clips nothing).")
    var clipPercentile: Double = 1

    func validate() throws {
        guard clipPercentile.isFinite, (0...50).contains(clipPercentile) else {
            throw ValidationError("--clip-percentile must be between 0 and 50 (a percentage of values clipped), not \(clipPercentile)")
        }
    }
}

extension FigureFormat: ExpressibleByArgument {}
extension HeatmapScale: ExpressibleByArgument {}
