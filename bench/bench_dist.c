/* The collectives of one data-parallel training step of the tiny model
 * (experiments/base/synth_tiny.cfg) on 2 ranks of this machine: two all-reduces
 * of 2c + 1 doubles per BN layer (forward and backward statistics), the loss
 * weights, the losses, and the gradient all-reduce of every parameter. A
 * barrier before each step puts the ranks in step, so this is the cost of the
 * collectives themselves, without the waits for a slower rank that a training
 * step adds. make bench starts it alone; it then starts itself under mpirun
 * (skipped without mpirun or without MPI in the build).
 *
 * `bench_dist cuda [RANKS]` does the same with the BN statistics and gradients
 * in GPU memory (one GPU per rank, NCCL; host copies when ranks share a GPU),
 * and also times the gradient all-reduce of the full ResNet-101 + DNL model
 * (71,484,392 floats). It says so and exits when there is no GPU. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/dist/dist.h"
#include "lib/dist/dist_mpi.h"
#include "runner/session.h"

#define STEPS 300
#define MAX_BN 256
#define MAX_CHANNELS 4096
/* trainable parameters of ResNet-101 + DNL for 19 classes (tests/test_net.c) */
#define FULL_MODEL_FLOATS 71484392
#define FULL_MODEL_STEPS 20

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int relaunch(bool cuda, const char *ranks) {
  const char *mode = cuda ? "bench_dist cuda" : "bench_dist";
  if (!dist_mpi_built()) {
    printf("%s: skipped, this build has no MPI\n", mode);
    return 0;
  }
  if (system("command -v mpirun > /dev/null 2>&1") != 0) {
    printf("%s: skipped, no mpirun\n", mode);
    return 0;
  }
  if (cuda) {
    const dnl_backend *g;
    if (backend_get(DEVICE_CUDA, &g) != DNL_OK) {
      printf("%s: skipped, no GPU: %s\n", mode, dnl_last_error());
      return 0;
    }
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    perror("bench_dist: /proc/self/exe");
    return 1;
  }
  self[n] = '\0';
  fflush(NULL);
  execlp("mpirun", "mpirun", "--oversubscribe", "--allow-run-as-root", "-np", ranks, self,
         cuda ? "cuda" : (char *)NULL, (char *)NULL);
  perror("bench_dist: mpirun");
  return 1;
}

static int fail(const char *what) {
  fprintf(stderr, "bench_dist: %s: %s\n", what, dnl_last_error());
  return 1;
}

/* Buffers of bytes in be's memory, zeroed. */
static dnl_status zeros(const dnl_backend *be, size_t bytes, void **out) {
  DNL_TRY(be->alloc(bytes, out));
  void *host = calloc(1, bytes);
  if (!host)
    return dnl_error(DNL_ERR_NOMEM, "%zu bytes", bytes);
  dnl_status st = be->memcpy(*out, be->device, host, DEVICE_CPU, bytes);
  free(host);
  return st;
}

/* The gradient all-reduce of the full model: median time, and the bus
 * bandwidth of a ring all-reduce (2 (n - 1) / n of the bytes per rank). */
static dnl_status full_model(dist *d, const dnl_backend *be) {
  const size_t bytes = (size_t)FULL_MODEL_FLOATS * sizeof(float);
  void *grads;
  DNL_TRY(zeros(be, bytes, &grads));
  double t[FULL_MODEL_STEPS];
  dnl_status st = DNL_OK;
  for (int k = 0; k < FULL_MODEL_STEPS && st == DNL_OK; k++) {
    st = dist_barrier(d, "step start");
    const double t0 = now();
    if (st == DNL_OK)
      st = dist_allreduce_sum_on(d, be, grads, FULL_MODEL_FLOATS, DIST_F32, "gradients");
    t[k] = now() - t0;
  }
  be->free(grads);
  DNL_TRY(st);
  if (d->rank == 0) {
    qsort(t, FULL_MODEL_STEPS, sizeof t[0], cmp_double);
    const double med = t[FULL_MODEL_STEPS / 2];
    printf("  ResNet-101 + DNL gradients (%d floats, %.0f MB): median %.2f ms, min %.2f ms, "
           "bus bandwidth %.1f GB/s at the median (%d all-reduces)\n",
           FULL_MODEL_FLOATS, 1e-6 * (double)bytes, 1e3 * med, 1e3 * t[0],
           2.0 * (d->size - 1) / d->size * (double)bytes / med * 1e-9, FULL_MODEL_STEPS);
  }
  return DNL_OK;
}

int main(int argc, char **argv) {
  const bool cuda = argc > 1 && !strcmp(argv[1], "cuda");
  if ((argc > 1 && !cuda) || argc > 3 || (argc == 3 && atoi(argv[2]) < 2)) {
    fprintf(stderr, "usage: bench_dist [cuda [RANKS >= 2]]\n");
    return 2;
  }
  if (dist_launcher_size() == 0)
    return relaunch(cuda, argc == 3 ? argv[2] : "2");
  dist *d;
  if (dist_open(&d) != DNL_OK)
    return fail("communicator");
  /* the network on the CPU gives the sizes of the buffers */
  session s;
  if (session_open(&s, "experiments/base/synth_tiny.cfg", NULL, 0) != DNL_OK ||
      session_build_net(&s, 4) != DNL_OK)
    return fail("network");
  const dnl_backend *be = s.be;
  if (cuda && backend_get(DEVICE_CUDA, &be) != DNL_OK)
    return fail("rank without GPU");
  int channels[MAX_BN], nbn = 0;
  for (int i = 0; i < s.ps.count && nbn < MAX_BN; i++) {
    const char *name = s.ps.entries[i].name;
    size_t len = strlen(name);
    if (len > 13 && !strcmp(name + len - 13, ".running_mean") &&
        s.ps.entries[i].numel <= MAX_CHANNELS)
      channels[nbn++] = (int)s.ps.entries[i].numel;
  }
  void *stats, *grads;
  if (dist_use_device(d, be) != DNL_OK ||
      zeros(be, (2 * MAX_CHANNELS + 1) * sizeof(double), &stats) != DNL_OK ||
      zeros(be, s.ps.total * sizeof(float), &grads) != DNL_OK)
    return fail("device buffers");
  double losses[3] = {0};
  double step[STEPS], grad[STEPS];
  dnl_status st = DNL_OK;
  for (int k = 0; k < STEPS && st == DNL_OK; k++) {
    st = dist_barrier(d, "step start");
    const double t0 = now();
    for (int pass = 0; pass < 2 && st == DNL_OK; pass++) {
      for (int b = 0; b < nbn && st == DNL_OK; b++)
        st = dist_allreduce_sum_on(d, be, stats, 2 * (size_t)channels[b] + 1, DIST_F64, "bn");
      if (st == DNL_OK)
        st = dist_allreduce_sum(d, losses, pass ? 3 : 1, DIST_F64, "loss");
    }
    const double t1 = now();
    if (st == DNL_OK)
      st = dist_allreduce_sum_on(d, be, grads, s.ps.total, DIST_F32, "gradients");
    step[k] = now() - t0;
    grad[k] = now() - t1;
  }
  if (st == DNL_OK && d->rank == 0) {
    qsort(step, STEPS, sizeof step[0], cmp_double);
    qsort(grad, STEPS, sizeof grad[0], cmp_double);
    printf("bench_dist%s: %d ranks (%s), tiny model: %d collectives per step (%d BN layers x "
           "2, 2 losses, gradients of %zu floats)\n",
           cuda ? " cuda" : "", d->size, d->device_comm[0] ? d->device_comm : d->name,
           2 * nbn + 3, nbn, s.ps.total);
    printf("  whole step: median %.3f ms, min %.3f ms; gradient all-reduce: median %.3f ms, "
           "min %.3f ms (%d steps)\n",
           1e3 * step[STEPS / 2], 1e3 * step[0], 1e3 * grad[STEPS / 2], 1e3 * grad[0], STEPS);
  }
  if (st == DNL_OK && cuda)
    st = full_model(d, be);
  if (st != DNL_OK) {
    fprintf(stderr, "bench_dist: rank %d: %s\n", d->rank, dnl_last_error());
    dist_abort(d, 1);
    return 1;
  }
  be->free(stats);
  be->free(grads);
  session_close(&s);
  dist_close(d);
  return 0;
}
