// CBLAS from OpenBLAS (Debian: libopenblas-dev; pkg-config: openblas).
#include <cblas.h>
