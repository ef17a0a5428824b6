#include "strata_support.h"
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

void strata_flush_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040);  /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}
