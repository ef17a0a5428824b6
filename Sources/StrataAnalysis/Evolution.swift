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

    /// An entry of evolution.json: `{epoch, map, image, row, column, activation}`.
    public static func record(epoch: Int, _ a: Activation) -> JSONValue {
        ["epoch": .int(epoch), "map": .int(a.map), "image": .int(a.image), "row": .int(a.row), "column": .int(a.column), "activation": .float(a.value)]
    }
}
