import Testing
import COpenBLAS
import COpenCL

/// The system libraries the backends build on link and work on this machine (tools/bootstrap
/// installs them): OpenBLAS's sgemm, and an OpenCL platform (PoCL on a CPU-only machine).
@Suite("System libraries")
struct SystemLibraryTests {
    @Test func openBLASMultipliesMatrices() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2)
        #expect(c == [19, 22, 43, 50])
    }

    @Test func openCLHasAPlatform() {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        #expect(status == CL_SUCCESS, "clGetPlatformIDs failed with \(status); is pocl-opencl-icd installed?")
        #expect(count >= 1)
    }
}
