#include "lib/store/h5error.h"

#include <stdio.h>

static _Thread_local char last_failure[256];

static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *data) {
  if (n == 0 && err->desc)
    snprintf(data, sizeof last_failure, "%s", err->desc);
  return 0;
}

/* Called by HDF5 when an API call fails, before a later call clears the stack. */
static herr_t remember_failure(hid_t stack, void *data) {
  (void)data;
  last_failure[0] = '\0';
  H5Ewalk2(stack, H5E_WALK_UPWARD, keep_innermost, last_failure);
  return 0;
}

void h5error_quiet(void) { H5Eset_auto2(H5E_DEFAULT, remember_failure, NULL); }

const char *h5error_detail(char *buf, size_t len) {
  snprintf(buf, len, "%s", last_failure);
  last_failure[0] = '\0';
  return buf;
}

const char *h5error_where(hid_t obj, char *buf, size_t len) {
  char file[512] = "?";
  char name[512] = "/";
  if (H5Fget_name(obj, file, sizeof file) < 0)
    snprintf(file, sizeof file, "?");
  if (H5Iget_name(obj, name, sizeof name) < 0)
    snprintf(name, sizeof name, "/");
  snprintf(buf, len, "%s:%s", file, name);
  return buf;
}
