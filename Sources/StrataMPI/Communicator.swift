import CMPI
import Foundation

/// The processes of one job and the collectives Strata needs between them: data-parallel training
/// sums gradients (`allReduceSum`), every command checks that the ranks agree (`allGather`), and
/// the spread commands gather their results on rank 0.
///
/// A command started without `mpirun` is one rank (`World.single`), whose collectives return at
/// once: no MPI call is made and MPI is never initialised.
public protocol Communicator: AnyObject, Sendable {
    /// 0..<size; rank 0 writes the files.
    var rank: Int { get }
    var size: Int { get }
    /// The rank among the ranks of this node (picks the node's GPU: rank r takes GPU r mod count).
    var localRank: Int { get }
    /// Sums `values` over every rank, in place, on every rank.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>)
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>)
    /// Every rank's bytes, in rank order, on every rank.
    func allGather(_ bytes: [UInt8]) -> [[UInt8]]
    /// Rank `root`'s bytes on every rank.
    func broadcast(_ bytes: [UInt8], from root: Int) -> [UInt8]
    func barrier()
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    public func allReduceSum(_ values: inout [Double]) {
        values.withUnsafeMutableBufferPointer { allReduceSum($0) }
    }

    public func allGather(_ text: String) -> [String] {
        allGather(Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether this rank takes item `index` of a list spread over the ranks (an experiment's runs,
    /// the batches of a sweep, occlusion or evaluation): every size-th, from its rank.
    public func takes(_ index: Int) -> Bool { index % size == rank }

    /// The ranks that disagree with rank 0 about `what` (a fingerprint of a spec, data, a
    /// checkpoint's state), as an error message naming the first, or nil when all agree.
    public func disagreement(_ fingerprint: String, about what: String) -> String? {
        let all = allGather(fingerprint)
        guard let r = all.indices.first(where: { all[$0] != all[0] }) else { return nil }
        return "rank \(r) of \(size) has other \(what) than rank 0 (\(all[r]) against \(all[0])); every rank must read the same files"
    }
}

/// One process, no MPI.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) {}
    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func broadcast(_ bytes: [UInt8], from root: Int) -> [UInt8] { bytes }
    public func barrier() {}
}

/// MPI_COMM_WORLD. MPI's default error handler ends the whole job on a failed call, so the
/// collectives do not return errors.
public final class MPIWorld: Communicator {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    /// MPI takes int counts: larger buffers go in pieces.
    static let piece = 1 << 28

    fileprivate init() {
        _ = strata_mpi_init()
        rank = Int(strata_mpi_rank())
        size = Int(strata_mpi_size())
        let env = ProcessInfo.processInfo.environment
        localRank = (env["OMPI_COMM_WORLD_LOCAL_RANK"] ?? env["MPI_LOCALRANKID"] ?? env["SLURM_LOCALID"]).flatMap(Int.init) ?? rank
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        guard let base = values.baseAddress else { return }
        for start in stride(from: 0, to: values.count, by: Self.piece) {
            _ = strata_mpi_allreduce_sum_f32(base + start, Int32(min(Self.piece, values.count - start)))
        }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) {
        guard let base = values.baseAddress else { return }
        for start in stride(from: 0, to: values.count, by: Self.piece) {
            _ = strata_mpi_allreduce_sum_f64(base + start, Int32(min(Self.piece, values.count - start)))
        }
    }

    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
        var counts = [Int32](repeating: 0, count: size)
        _ = strata_mpi_allgather_int(Int32(bytes.count), &counts)
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { displacements[r] = displacements[r - 1] + counts[r - 1] }
        let total = Int(counts.reduce(0, +))
        var all = [UInt8](repeating: 0, count: max(1, total))
        bytes.withUnsafeBytes { mine in
            _ = strata_mpi_allgatherv(mine.baseAddress, Int32(bytes.count), &all, counts, displacements)
        }
        return (0..<size).map { r in Array(all[Int(displacements[r])..<Int(displacements[r] + counts[r])]) }
    }

    public func broadcast(_ bytes: [UInt8], from root: Int) -> [UInt8] {
        var count = [Int32](repeating: 0, count: size)
        _ = strata_mpi_allgather_int(Int32(bytes.count), &count)
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[root]))
        if !buffer.isEmpty { _ = strata_mpi_broadcast(&buffer, Int32(buffer.count), Int32(root)) }
        return buffer
    }

    public func barrier() { _ = strata_mpi_barrier() }

    /// Ends every rank of the job with `code` (after this rank printed why).
    public func abort(_ code: Int32) -> Never {
        _ = strata_mpi_abort(code)
        exit(code)
    }

    public func finalize() { _ = strata_mpi_finalize() }
}

/// The job this process belongs to.
public enum World {
    /// Whether this process was started by an MPI launcher (mpirun, srun with PMIx): only then is
    /// MPI initialised.
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }

    nonisolated(unsafe) private static var world: (any Communicator)?
    private static let lock = NSLock()

    /// MPI_COMM_WORLD under mpirun, else one rank. Initialises MPI on first use.
    public static var current: any Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let world { return world }
        let made: any Communicator = launchedByMPI ? MPIWorld() : SingleProcess()
        world = made
        return made
    }

    /// Ends the job: MPI_Finalize on success; on failure under MPI, MPI_Abort, which stops every
    /// rank (a rank waiting in a collective for this one would otherwise wait for ever).
    public static func end(_ status: Int32) -> Never {
        lock.lock()
        let w = world as? MPIWorld
        lock.unlock()
        if let w {
            if status != 0 && w.size > 1 { w.abort(status) }
            w.finalize()
        }
        exit(status)
    }
}
