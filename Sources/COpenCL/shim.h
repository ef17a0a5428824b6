// OpenCL 1.2 API through the ICD loader (Debian: ocl-icd-opencl-dev, opencl-headers; pkg-config: OpenCL).
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
