#include "lib/dist/dist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/dist/dist_devices.h"
#include "lib/dist/dist_mpi.h"

#define DEFAULT_TIMEOUT 300.0

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int dist_launcher_size(void) {
  /* Open MPI's mpirun, then MPICH / Intel MPI (hydra) and Slurm's PMI */
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (!v || !*v)
      continue;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!errno && !*end && n > 0 && n < (1L << 24))
      return (int)n;
  }
  return 0;
}

static dnl_status read_timeout(double *out) {
  *out = DEFAULT_TIMEOUT;
  const char *v = getenv("DNL_DIST_TIMEOUT");
  if (!v || !*v)
    return DNL_OK;
  char *end;
  errno = 0;
  double t = strtod(v, &end);
  if (errno || *end || !(t > 0) || !isfinite(t))
    return dnl_error(DNL_ERR_ARG, "DNL_DIST_TIMEOUT=%s: expected a number of seconds > 0", v);
  *out = t;
  return DNL_OK;
}

dnl_status dist_open(dist **out) {
  *out = NULL;
  double timeout;
  DNL_TRY(read_timeout(&timeout));
  const int launched = dist_launcher_size();
  if (launched > 1 && !dist_mpi_built())
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "started as one of %d ranks (by mpirun), but this build has no MPI: "
                     "install it (make deps: openmpi-bin, libopenmpi-dev) and rebuild (make), "
                     "or run a single process without mpirun",
                     launched);
  dist *d = malloc(sizeof *d);
  if (!d)
    return dnl_error(DNL_ERR_NOMEM, "communicator");
  *d = (dist){.name = "single", .size = 1, .local_size = 1, .timeout = timeout};
  if (launched > 1) {
    dnl_status st = dist_mpi_open(d);
    /* one GPU per rank on each machine, should the run use the CUDA backend */
    if (st == DNL_OK)
      st = cuda_backend_select_device(d->local_rank);
    if (st != DNL_OK) {
      dist_close(d);
      return st;
    }
  }
  *out = d;
  return DNL_OK;
}

void dist_close(dist *d) {
  if (!d)
    return;
  if (d->device_ops && d->device_ops->close)
    d->device_ops->close(d);
  if (d->ops && d->ops->close)
    d->ops->close(d);
  free(d);
}

int dist_rank(const dist *d) { return d ? d->rank : 0; }
int dist_size(const dist *d) { return d ? d->size : 1; }

dnl_status dist_allreduce_sum(dist *d, void *buf, size_t count, dist_type type, const char *what) {
  if (!d || d->size == 1 || count == 0)
    return DNL_OK;
  const double t = now_seconds();
  dnl_status st = d->ops->allreduce_sum(d, buf, count, type, what);
  d->comm_seconds += now_seconds() - t;
  d->comm_calls++;
  return st;
}

dnl_status dist_allgather(dist *d, const void *mine, size_t bytes, void *all, const char *what) {
  if (!d || d->size == 1) {
    memmove(all, mine, bytes);
    return DNL_OK;
  }
  const double t = now_seconds();
  dnl_status st = d->ops->allgather(d, mine, bytes, all, what);
  d->comm_seconds += now_seconds() - t;
  d->comm_calls++;
  return st;
}

static size_t elem_bytes(dist_type type) { return type == DIST_F32 ? sizeof(float) : 8; }

/* Device buffers summed through host memory, where NCCL cannot be used: the
 * host copy is kept for the next call (the gradients every step). */
typedef struct host_copies {
  void *host;
  size_t bytes;
} host_copies;

static dnl_status copies_allreduce(dist *d, void *buf, size_t count, dist_type type,
                                   const char *what) {
  host_copies *h = d->device_impl;
  const dnl_backend *be = d->device_be;
  if (count > SIZE_MAX / 8)
    return dnl_error(DNL_ERR_ARG, "all-reduce of %s: %zu elements", what, count);
  const size_t bytes = count * elem_bytes(type);
  if (bytes > h->bytes) {
    void *p = realloc(h->host, bytes);
    if (!p)
      return dnl_error(DNL_ERR_NOMEM, "all-reduce of %s: host copy of %zu bytes", what, bytes);
    h->host = p;
    h->bytes = bytes;
  }
  DNL_TRY(be->memcpy(h->host, DEVICE_CPU, buf, be->device, bytes));
  DNL_TRY(d->ops->allreduce_sum(d, h->host, count, type, what));
  return be->memcpy(buf, be->device, h->host, DEVICE_CPU, bytes);
}

static dnl_status copies_finish(dist *d) { return d->device_be->synchronize(); }

static void copies_close(dist *d) {
  host_copies *h = d->device_impl;
  free(h->host);
  free(h);
}

static const dist_device_ops copies_ops = {
    .finish = copies_finish, .allreduce_sum = copies_allreduce, .close = copies_close};

/* DNL_DIST_NCCL=0 keeps device buffers on host copies (e.g. to compare with NCCL) */
static dnl_status nccl_wanted(bool *out) {
  const char *v = getenv("DNL_DIST_NCCL");
  *out = !v || !*v || !strcmp(v, "1");
  if (v && *v && strcmp(v, "0") && strcmp(v, "1"))
    return dnl_error(DNL_ERR_ARG, "DNL_DIST_NCCL=%s: expected 0 (host copies) or 1 (NCCL)", v);
  return DNL_OK;
}

dnl_status dist_use_device(dist *d, const dnl_backend *be) {
  if (!d || d->size == 1 || be->device == DEVICE_CPU)
    return DNL_OK;
  if (d->device_be)
    return d->device_be == be ? DNL_OK
                              : dnl_error(DNL_ERR_ARG,
                                          "communicator: set up for the %s backend already, "
                                          "not for %s",
                                          d->device_be->name, be->name);
  bool want, opened = false;
  DNL_TRY(nccl_wanted(&want));
  const dist_device_comm *comm = dist_device_comm_for(be->device);
  if (comm)
    DNL_TRY(comm->open(d, want, &opened));
  else
    snprintf(d->device_comm, sizeof d->device_comm, "host copies (no communicator for %s)",
             device_name(be->device));
  if (!opened) {
    host_copies *h = calloc(1, sizeof *h);
    if (!h)
      return dnl_error(DNL_ERR_NOMEM, "communicator for device %s", device_name(be->device));
    d->device_ops = &copies_ops;
    d->device_impl = h;
  }
  d->device_be = be;
  return DNL_OK;
}

dnl_status dist_allreduce_sum_on(dist *d, const dnl_backend *be, void *buf, size_t count,
                                 dist_type type, const char *what) {
  if (be->device == DEVICE_CPU)
    return dist_allreduce_sum(d, buf, count, type, what);
  if (!d || d->size == 1 || count == 0)
    return DNL_OK;
  if (d->device_be != be)
    return dnl_error(DNL_ERR_INTERNAL,
                     "all-reduce of %s: the communicator is not set up for device %s "
                     "(dist_use_device)",
                     what, device_name(be->device));
  /* the time of the sum alone, not of the computation queued before it */
  DNL_TRY(d->device_ops->finish(d));
  const double t = now_seconds();
  dnl_status st = d->device_ops->allreduce_sum(d, buf, count, type, what);
  d->comm_seconds += now_seconds() - t;
  d->comm_calls++;
  return st;
}

dnl_status dist_barrier(dist *d, const char *what) {
  int64_t zero = 0;
  return dist_allreduce_sum(d, &zero, 1, DIST_I64, what);
}

dnl_status dist_check_same(dist *d, uint64_t value, const char *what) {
  const int size = dist_size(d);
  if (size == 1)
    return DNL_OK;
  uint64_t *all = malloc((size_t)size * sizeof *all);
  if (!all)
    return dnl_error(DNL_ERR_NOMEM, "%s of %d ranks", what, size);
  dnl_status st = dist_allgather(d, &value, sizeof value, all, what);
  if (st != DNL_OK) {
    free(all);
    return st;
  }
  char list[256] = "";
  size_t used = 0;
  int differ = 0;
  for (int r = 1; r < size; r++) {
    if (all[r] == all[0])
      continue;
    if (differ++ < 16 && used < sizeof list)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", differ > 1 ? ", " : "", r);
    else if (differ == 17 && used < sizeof list)
      used += (size_t)snprintf(list + used, sizeof list - used, ", ...");
  }
  free(all);
  if (!differ)
    return DNL_OK;
  return dnl_error(DNL_ERR_ARG, "%s: rank%s %s of %d differ%s from rank 0", what,
                   differ > 1 ? "s" : "", list, size, differ > 1 ? "" : "s");
}

void dist_abort(dist *d, int code) {
  if (d && d->size > 1 && d->ops && d->ops->abort)
    d->ops->abort(d, code);
}

uint64_t dist_hash(uint64_t h, const void *bytes, size_t n) {
  const unsigned char *p = bytes;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
