#ifndef STRATA_SUPPORT_H
#define STRATA_SUPPORT_H

/// Sets flush-to-zero and denormals-are-zero for the calling thread (x86 MXCSR; a no-op elsewhere).
/// Tiny gradients otherwise become denormal floats, which x86 cores handle up to 100x slower;
/// PyTorch and oneDNN run with the same setting for the same reason.
void strata_flush_denormals(void);

#endif
