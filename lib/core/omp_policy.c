#include "lib/core/omp_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define WAIT_SPINCOUNT "10000"

void omp_policy_reexec(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
    return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  setenv("GOMP_SPINCOUNT", WAIT_SPINCOUNT, 1);
  execv("/proc/self/exe", argv);
}

const char *omp_policy_describe(void) {
  static char text[128];
  const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
  if (!policy && !spin)
    return "libgomp default";
  snprintf(text, sizeof text, "%s%s%s", policy ? policy : "", policy && spin ? ", spin " : "",
           spin ? spin : "");
  return text;
}
