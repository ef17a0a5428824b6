import COpenCL
import Foundation

/// One OpenCL device, as `strata devices` lists it.
public struct OpenCLDevice: Sendable, CustomStringConvertible {
    public var platform: Int
    public var index: Int
    public var platformName: String
    public var name: String
    public var vendor: String
    /// `OpenCL 3.0 CUDA`, `OpenCL 3.0 PoCL ...`.
    public var version: String
    public var driver: String
    public var isGPU: Bool
    public var kind: String
    public var globalMemory: UInt64
    public var maxAllocation: UInt64
    public var computeUnits: Int
    public var clockMHz: Int
    /// Where sub-buffers may start, in bytes (CL_DEVICE_MEM_BASE_ADDR_ALIGN).
    public var baseAlignment: Int
    /// The most work items in one work-group, and the local memory one work-group may use.
    public var maxWorkGroupSize: Int = 256
    public var localMemory: Int = 16384
    nonisolated(unsafe) let id: cl_device_id   // a handle the driver owns for the process's life

    /// `opencl:P:D`, what `--device` takes to pick this device.
    public var selector: String { "opencl:\(platform):\(index)" }

    /// A rough float32 peak in GFLOP/s: compute units × clock × 2 (a fused multiply-add) × lanes per
    /// unit (NVIDIA 128, AMD 64, Intel GPUs 16, CPUs their native float vector width × 2 pipes).
    /// An estimate for orientation, not a measurement.
    public var peakGFLOPS: Double {
        let lanes: Double
        let v = vendor.lowercased()
        if isGPU {
            lanes = v.contains("nvidia") ? 128 : (v.contains("amd") || v.contains("advanced micro") ? 64 : 16)
        } else {
            lanes = Double(max(1, nativeFloatWidth)) * 2
        }
        return Double(computeUnits) * Double(clockMHz) * 1e-3 * 2 * lanes
    }
    var nativeFloatWidth: Int

    public var description: String {
        let gib = Double(globalMemory) / Double(1 << 30)
        return "\(selector)  \(name) (\(kind), \(vendor)): \(version), driver \(driver); \(String(format: "%.1f", gib)) GiB, "
            + "\(computeUnits) compute units at \(clockMHz) MHz, ~\(Int(peakGFLOPS.rounded())) GFLOP/s float32 (estimate)"
    }
}

public enum OpenCL {
    /// Every device of every platform, in platform and device order. Discovered once per process
    /// (drivers such as PoCL do not take concurrent first calls well).
    public static func devices() throws(OpenCLError) -> [OpenCLDevice] { try discovered.get() }

    static let discovered: Result<[OpenCLDevice], OpenCLError> = Result { () throws(OpenCLError) in try discover() }

    static func discover() throws(OpenCLError) -> [OpenCLDevice] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == -1001 || count == 0 {   // CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no driver
            throw OpenCLError("clGetPlatformIDs", status == 0 ? -1001 : status, detail: noPlatformAdvice)
        }
        try OpenCLError.check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try OpenCLError.check(clGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
        var out: [OpenCLDevice] = []
        for (p, platform) in platforms.enumerated() {
            guard let platform else { continue }
            let platformName = string { clGetPlatformInfo(platform, cl_platform_info(CL_PLATFORM_NAME), $0, $1, $2) }
            var n: cl_uint = 0
            let s = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n)
            if s == CL_DEVICE_NOT_FOUND || n == 0 { continue }
            try OpenCLError.check(s, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            try OpenCLError.check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
            for (d, id) in ids.enumerated() {
                guard let id else { continue }
                func info(_ param: Int32) -> String { string { clGetDeviceInfo(id, cl_device_info(param), $0, $1, $2) } }
                let type: cl_device_type = value(id, CL_DEVICE_TYPE)
                let kind = type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? "GPU"
                    : type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? "CPU" : type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? "accelerator" : "other"
                let units: cl_uint = value(id, CL_DEVICE_MAX_COMPUTE_UNITS), clock: cl_uint = value(id, CL_DEVICE_MAX_CLOCK_FREQUENCY)
                let width: cl_uint = value(id, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT)
                let alignBits: cl_uint = value(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN)
                let groupSize: Int = value(id, CL_DEVICE_MAX_WORK_GROUP_SIZE), local: cl_ulong = value(id, CL_DEVICE_LOCAL_MEM_SIZE)
                out.append(OpenCLDevice(platform: p, index: d, platformName: platformName, name: info(CL_DEVICE_NAME), vendor: info(CL_DEVICE_VENDOR),
                                        version: info(CL_DEVICE_VERSION), driver: info(CL_DRIVER_VERSION), isGPU: kind == "GPU", kind: kind,
                                        globalMemory: value(id, CL_DEVICE_GLOBAL_MEM_SIZE), maxAllocation: value(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                                        computeUnits: Int(units), clockMHz: Int(clock), baseAlignment: max(4, Int(alignBits) / 8), maxWorkGroupSize: groupSize, localMemory: Int(local),
                                        id: id, nativeFloatWidth: Int(width)))
            }
        }
        guard !out.isEmpty else {
            throw OpenCLError("clGetDeviceIDs", CL_DEVICE_NOT_FOUND, detail: "the OpenCL platforms (\(platforms.count)) have no devices.\n" + noPlatformAdvice)
        }
        return out
    }

    /// `opencl`: the first GPU, else the first device; `opencl:P:D`: platform P's device D.
    /// `opencl`: the first GPU, else the first device; with several ranks of a job on a node, rank
    /// `localRank` takes GPU localRank mod count. `opencl:P:D`: that device.
    public static func select(_ selector: String, localRank: Int = 0) throws -> OpenCLDevice {
        let all = try devices()
        let parts = selector.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.first == "opencl" else { throw OpenCLError("select", CL_INVALID_DEVICE, detail: "'\(selector)' is not opencl or opencl:P:D") }
        if parts.count == 1 {
            let gpus = all.filter(\.isGPU)
            return gpus.isEmpty ? all[0] : gpus[localRank % gpus.count]
        }
        guard parts.count == 3, let p = Int(parts[1]), let d = Int(parts[2]) else {
            throw OpenCLError("select", CL_INVALID_DEVICE, detail: "'\(selector)': write opencl:PLATFORM:DEVICE, e.g. opencl:0:0 (strata devices lists them)")
        }
        guard let device = all.first(where: { $0.platform == p && $0.index == d }) else {
            throw OpenCLError("select", CL_INVALID_DEVICE, detail: "there is no device \(selector); the devices are " + all.map(\.selector).joined(separator: ", "))
        }
        return device
    }

    static let noPlatformAdvice = """
        No OpenCL driver was found (the ICD loader reads /etc/OpenCL/vendors/*.icd, or the folder OCL_ICD_VENDORS names). \
        For the CPU install PoCL (Debian: pocl-opencl-icd; tools/bootstrap does); for a GPU, the vendor's ICD \
        (NVIDIA: register libnvidia-opencl.so.1 in a .icd file and point OCL_ICD_VENDORS at its folder).
        """

    /// A string property through the usual two calls (size, then value).
    static func string(_ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Int32) -> String {
        var size = 0
        guard get(0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [UInt8](repeating: 0, count: size)
        guard get(size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    static func value<T: FixedWidthInteger>(_ id: cl_device_id, _ param: Int32) -> T {
        var v: T = 0
        _ = clGetDeviceInfo(id, cl_device_info(param), MemoryLayout<T>.size, &v, nil)
        return v
    }
}
