#include "tests/test_sweep_util.h"

#include <hdf5.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/store/h5io.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

void sweep_test_base(const char *dir, int iterations, int ckpt_every) {
  char path[512], text[2048];
  snprintf(text, sizeof text,
           "seed = 1;\n"
           "threads = 1;\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; planes = [8, 8, 8, 8]; width = 0.125;\n"
           "          head_width = 8; };\n"
           "block = { variant = \"dnl\"; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 32; workers = 1;\n"
           "         random_resize = false; brightness = 0;\n"
           "         synth = { train = 4; val = 1; size = 32; }; };\n"
           "solver = { iterations = %d; };\n"
           "loss = { ohem = false; };\n"
           "eval = { limit = 1; };\n"
           "output = { log_every = 1; checkpoint_every = %d; attention_images = 0; };\n",
           dir, iterations, ckpt_every);
  file_write_text(tmpdir_path(path, sizeof path, dir, "base.cfg"), text);
}

int sweep_test_sh(const char *fmt, ...) {
  char cmd[8192], runner[4096];
  cr_assert(realpath(test_runner_bin(), runner), "no %s", test_runner_bin());
  int n = snprintf(cmd, sizeof cmd, "R=%s; ", runner);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
  va_end(ap);
  int status = system(cmd);
  cr_assert(status != -1 && WIFEXITED(status), "cannot run %s", cmd);
  return WEXITSTATUS(status);
}

int sweep_test_count(const char *text, const char *what) {
  int n = 0;
  for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
    n++;
  return n;
}

typedef struct name_list {
  char items[512][128];
  int count;
} name_list;

static herr_t add_name(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)g;
  (void)info;
  name_list *n = data;
  cr_assert_lt(n->count, 512);
  snprintf(n->items[n->count++], sizeof n->items[0], "%s", name);
  return 0;
}

bool sweep_test_same_group(const char *a, const char *b, const char *names, const char *values,
                           const char *prefix, int *compared) {
  static name_list n;
  n.count = 0;
  hid_t f = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(f >= 0, "cannot open %s", a);
  hid_t g = H5Gopen2(f, names, H5P_DEFAULT);
  cr_assert(g >= 0, "%s: no /%s", a, names);
  hsize_t idx = 0;
  H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_name, &n);
  H5Gclose(g);
  H5Fclose(f);
  bool same = true;
  *compared = 0;
  for (int i = 0; i < n.count && same; i++) {
    if (strncmp(n.items[i], prefix, strlen(prefix)))
      continue;
    char path[300];
    snprintf(path, sizeof path, "/%s/%s", values, n.items[i]);
    h5io_array x, y;
    TRY_OK(h5io_read_float(a, path, &x));
    TRY_OK(h5io_read_float(b, path, &y));
    same = x.numel == y.numel && !memcmp(x.data, y.data, x.numel * sizeof(float));
    h5io_array_free(&x);
    h5io_array_free(&y);
    (*compared)++;
  }
  return same;
}
