// Cairo (Debian: libcairo2-dev; pkg-config: cairo): figures as PNG, PDF and SVG with real text.
#include <cairo/cairo.h>
#include <cairo/cairo-pdf.h>
#include <cairo/cairo-svg.h>
