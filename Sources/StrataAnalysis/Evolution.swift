import Foundation
import StrataFormats
import StrataIR

/// Fig. 4 of the ZF paper: the strongest projection of each map at every snapshot a run kept
/// (`strata train --snapshot-epochs`), one column per epoch.
public enum Evolution {
    /// The snapshots in a run's checkpoints `folder`, in epoch order: the files
    /// `epoch-N.safetensors` with N a plain positive number (no sign, no leading zero, at most 9
    /// digits); any other file is not a snapshot.
    public static func snapshots(in folder: String) -> [(epoch: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name -> (Int, String)? in
            let digits = name.dropFirst(6).dropLast(12)
            guard name.hasPrefix("epoch-"), name.hasSuffix(".safetensors"), (1...9).contains(digits.count), digits.first != "0",
                  digits.allSatisfy({ ("0"..."9").contains($0) }), let e = Int(digits) else { return nil }
            return (e, "\(folder)/\(name)")
        }.sorted { $0.0 < $1.0 }
    }

    /// A cell of evolution.png: the projection (C × H × W, the graph's input) cropped to the
    /// receptive field of `activation` in `node`'s output, centred on 0 (`Picture.signed`) and
    /// enlarged to about 96 pixels.
    public static func cell(_ projection: [Float], activation a: Activation, graph: Graph, node: Int) -> Images.Image {
        let f = ReceptiveField.of(graph, node: node, row: a.row, column: a.column)
        let side = max(f.height, f.width)
        let cropped = Projection.crop(projection[...], shape: graph.input, field: f)
        return Picture.enlarge(Picture.signed(cropped[...], channels: graph.input.channels, height: f.height, width: f.width), max(1, (96 + side - 1) / side))
    }

    /// An entry of evolution.json: `{epoch, map, image, row, column, activation}`.
    public static func record(epoch: Int, _ a: Activation) -> JSONValue {
        ["epoch": .int(epoch), "map": .int(a.map), "image": .int(a.image), "row": .int(a.row), "column": .int(a.column), "activation": .float(a.value)]
    }
}
