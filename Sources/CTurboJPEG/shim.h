// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev; pkg-config: libturbojpeg).
#include <turbojpeg.h>
