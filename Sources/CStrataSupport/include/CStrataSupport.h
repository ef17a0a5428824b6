#include "strata_support.h"
#include "strata_kernels.h"
#include "strata_gemm.h"
