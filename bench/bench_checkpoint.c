/* Checkpoint save and load speed for a ResNet-101-size parameter store: FLOATS
 * trainable floats in ENTRIES entries (values + momentum = 2 x FLOATS x 4
 * bytes), CPU backend, into /tmp. Save = build in memory, write, fsync,
 * rename; load = strict load with momentum. Reported: seconds and MB/s of
 * file size, and that the round trip is bit-exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/store/checkpoint.h"

#define FLOATS (60 * 1000 * 1000)
#define ENTRIES 400

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int build(param_store *ps, tensor *views) {
  params_init(ps);
  for (int i = 0; i < ENTRIES; i++) {
    char name[64];
    snprintf(name, sizeof name, "backbone.layer%d.%d.conv.weight", i % 4 + 1, i);
    int shape[1] = {FLOATS / ENTRIES};
    if (params_add(ps, name, 1, shape, PARAM_TRAINABLE, (param_init){PARAM_INIT_CONST, 0, 0},
                   &views[2 * i], &views[2 * i + 1]) != DNL_OK)
      return 1;
  }
  return params_finalize(ps, cpu_backend()) != DNL_OK;
}

int main(void) {
  static tensor views_a[2 * ENTRIES], views_b[2 * ENTRIES];
  param_store a, b;
  if (build(&a, views_a) || build(&b, views_b)) {
    fprintf(stderr, "bench_checkpoint: %s\n", dnl_last_error());
    return 1;
  }
  for (size_t i = 0; i < a.total; i++) {
    a.values[i] = (float)i * 1e-7f;
    a.momentum[i] = -(float)i * 1e-8f;
  }
  char path[] = "/tmp/dnl_bench_ckpt.h5";
  checkpoint_meta m = {.iteration = 1, .config = "bench = 1;"};
  double t0 = now();
  if (checkpoint_save(path, &a, &m) != DNL_OK) {
    fprintf(stderr, "bench_checkpoint: %s\n", dnl_last_error());
    return 1;
  }
  double t1 = now();
  if (checkpoint_load(path, &b, NULL) != DNL_OK) {
    fprintf(stderr, "bench_checkpoint: %s\n", dnl_last_error());
    return 1;
  }
  double t2 = now();
  struct stat st;
  stat(path, &st);
  double mb = st.st_size / 1e6;
  int exact = memcmp(a.values, b.values, a.total * sizeof(float)) == 0 &&
              memcmp(a.momentum, b.momentum, a.total * sizeof(float)) == 0;
  printf("checkpoint of %d floats in %d entries: %.0f MB\n", FLOATS, ENTRIES, mb);
  printf("  save %.2f s (%.0f MB/s)   load %.2f s (%.0f MB/s)   bit-exact: %s\n", t1 - t0,
         mb / (t1 - t0), t2 - t1, mb / (t2 - t1), exact ? "yes" : "NO");
  unlink(path);
  params_free(&a);
  params_free(&b);
  return exact ? 0 : 1;
}
