/* The collectives of one data-parallel training step of the tiny model
 * (experiments/base/synth_tiny.cfg) on 2 ranks of this machine: two all-reduces
 * of 2c + 1 doubles per BN layer (forward and backward statistics), the loss
 * weights, the losses, and the gradient all-reduce of every parameter. A
 * barrier before each step puts the ranks in step, so this is the cost of the
 * collectives themselves, without the waits for a slower rank that a training
 * step adds. make bench starts it alone; it then starts itself under mpirun
 * (skipped without mpirun or without MPI in the build). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/dist.h"
#include "lib/dist_mpi.h"
#include "runner/session.h"

#define STEPS 300
#define MAX_BN 256

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int relaunch(void) {
  if (!dist_mpi_built()) {
    printf("bench_dist: skipped, this build has no MPI\n");
    return 0;
  }
  if (system("command -v mpirun > /dev/null 2>&1") != 0) {
    printf("bench_dist: skipped, no mpirun\n");
    return 0;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    perror("bench_dist: /proc/self/exe");
    return 1;
  }
  self[n] = '\0';
  fflush(NULL);
  execlp("mpirun", "mpirun", "--oversubscribe", "--allow-run-as-root", "-np", "2", self,
         (char *)NULL);
  perror("bench_dist: mpirun");
  return 1;
}

static int fail(const char *what) {
  fprintf(stderr, "bench_dist: %s: %s\n", what, dnl_last_error());
  return 1;
}

int main(void) {
  if (dist_launcher_size() == 0)
    return relaunch();
  dist *d;
  if (dist_open(&d) != DNL_OK)
    return fail("communicator");
  session s;
  if (session_open(&s, "experiments/base/synth_tiny.cfg", NULL, 0) != DNL_OK ||
      session_build_net(&s, 4) != DNL_OK)
    return fail("network");
  int channels[MAX_BN], nbn = 0;
  for (int i = 0; i < s.ps.count && nbn < MAX_BN; i++) {
    const char *name = s.ps.entries[i].name;
    size_t len = strlen(name);
    if (len > 13 && !strcmp(name + len - 13, ".running_mean"))
      channels[nbn++] = (int)s.ps.entries[i].numel;
  }
  double stats[2 * 4096 + 1] = {0}, losses[3] = {0};
  double step[STEPS], grad[STEPS];
  dnl_status st = DNL_OK;
  for (int k = 0; k < STEPS && st == DNL_OK; k++) {
    st = dist_barrier(d, "step start");
    const double t0 = now();
    for (int pass = 0; pass < 2 && st == DNL_OK; pass++) {
      for (int b = 0; b < nbn && st == DNL_OK; b++)
        st = dist_allreduce_sum(d, stats, 2 * (size_t)channels[b] + 1, DIST_F64, "bn");
      if (st == DNL_OK)
        st = dist_allreduce_sum(d, losses, pass ? 3 : 1, DIST_F64, "loss");
    }
    const double t1 = now();
    if (st == DNL_OK)
      st = dist_allreduce_sum(d, s.ps.grads, s.ps.total, DIST_F32, "gradients");
    step[k] = now() - t0;
    grad[k] = now() - t1;
  }
  if (st != DNL_OK) {
    fprintf(stderr, "bench_dist: rank %d: %s\n", d->rank, dnl_last_error());
    dist_abort(d, 1);
    return 1;
  }
  if (d->rank == 0) {
    qsort(step, STEPS, sizeof step[0], cmp_double);
    qsort(grad, STEPS, sizeof grad[0], cmp_double);
    printf("bench_dist: %d ranks, tiny model: %d collectives per step (%d BN layers x 2, 2 "
           "losses, gradients of %zu floats)\n",
           d->size, 2 * nbn + 3, nbn, s.ps.total);
    printf("  whole step: median %.3f ms, min %.3f ms; gradient all-reduce: median %.3f ms, "
           "min %.3f ms (%d steps)\n",
           1e3 * step[STEPS / 2], 1e3 * step[0], 1e3 * grad[STEPS / 2], 1e3 * grad[0], STEPS);
  }
  session_close(&s);
  dist_close(d);
  return 0;
}
