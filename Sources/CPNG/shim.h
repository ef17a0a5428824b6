// libpng (Debian: libpng-dev; pkg-config: libpng16).
#include <png.h>
