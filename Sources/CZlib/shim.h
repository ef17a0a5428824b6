// zlib (Debian: zlib1g-dev; pkg-config: zlib).
#include <zlib.h>
