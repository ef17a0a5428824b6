// CLBlast's SGEMM timed on one OpenCL device, for tools/bench-gemm-opencl: C = A·Bᵀ, row-major,
// A M×K and B N×K (the layout of Strata's fc_forward, which that script times beside it).
//   clblast-sgemm PLATFORM DEVICE M N K ITERATIONS   → prints the median milliseconds and GFLOP/s
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int compare(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
#define CHECK(what, status) if ((status) != 0) { fprintf(stderr, "error: %s failed with status %d\n", what, (int)(status)); return 1; }

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: clblast-sgemm PLATFORM DEVICE M N K ITERATIONS\n"); return 2; }
    int p = atoi(argv[1]), d = atoi(argv[2]), iterations = atoi(argv[6]);
    size_t m = atol(argv[3]), n = atol(argv[4]), k = atol(argv[5]);
    cl_platform_id platforms[16]; cl_uint np = 0;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(16, platforms, &np));
    if (p >= (int)np) { fprintf(stderr, "error: no platform %d\n", p); return 1; }
    cl_device_id devices[16]; cl_uint nd = 0;
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 16, devices, &nd));
    if (d >= (int)nd) { fprintf(stderr, "error: no device %d on platform %d\n", d, p); return 1; }
    cl_int status;
    cl_context context = clCreateContext(NULL, 1, &devices[d], NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, devices[d], 0, &status);
    CHECK("clCreateCommandQueue", status);
    float *host = malloc(sizeof(float) * (m * k > n * k ? m * k : n * k));
    for (size_t i = 0; i < (m * k > n * k ? m * k : n * k); i++) host[i] = (float)rand() / RAND_MAX - 0.5f;
    cl_mem a = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof(float) * m * k, host, &status); CHECK("clCreateBuffer A", status);
    cl_mem b = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof(float) * n * k, host, &status); CHECK("clCreateBuffer B", status);
    cl_mem c = clCreateBuffer(context, CL_MEM_READ_WRITE, sizeof(float) * m * n, NULL, &status); CHECK("clCreateBuffer C", status);
    double *times = malloc(sizeof(double) * (iterations + 2));
    for (int r = 0; r < iterations + 2; r++) {
        double t = now();
        CHECK("CLBlastSgemm", CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, m, n, k, 1.0f, a, 0, k, b, 0, k, 0.0f, c, 0, n, &queue, NULL));
        CHECK("clFinish", clFinish(queue));
        if (r >= 2) times[r - 2] = now() - t;   // two warm-up runs (the first compiles CLBlast's kernels)
    }
    qsort(times, iterations, sizeof(double), compare);
    double median = times[iterations / 2];
    printf("%.3f ms %.1f GFLOP/s\n", median * 1e3, 2.0 * m * n * k / median / 1e9);
    return 0;
}
