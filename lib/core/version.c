#include "lib/core/version.h"

#ifndef DNL_GIT_VERSION
#define DNL_GIT_VERSION "unknown"
#endif

const char *dnl_version(void) { return DNL_GIT_VERSION; }
