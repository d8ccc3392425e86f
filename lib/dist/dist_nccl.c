/* The NCCL communicator behind dist_use_device (lib/dist/dist_nccl.h), which
 * talks to the other ranks through d->ops (MPI) while it sets up. Its
 * all-reduce is queued on the default stream after the backend's ops, followed
 * by an event that the host polls: like the MPI collectives, it never waits
 * forever for a rank that hangs, and an error NCCL reports asynchronously (a
 * peer's connection lost) ends the wait too. After a failure the communicator
 * is aborted, which also stops its kernels still waiting on the GPU. */
#include "lib/dist/dist_nccl.h"

#include <stdio.h>

#ifdef DNL_WITH_NCCL

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* polls that spin before the waiting rank starts yielding its core */
#define SPIN_POLLS 2000

typedef struct nccl_comm {
  ncclComm_t comm;
  cudaEvent_t done; /* recorded after each all-reduce */
  bool aborted;
} nccl_comm;

/* What each rank tells the others about its GPU. */
typedef struct gpu_of_rank {
  char host[64];
  char bus[32]; /* PCI bus id, e.g. "0000:3B:00.0" */
  int32_t want; /* wants NCCL (DNL_DIST_NCCL) */
  int32_t device;
} gpu_of_rank;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static ncclDataType_t nccl_type(dist_type t) {
  return t == DIST_F32 ? ncclFloat32 : t == DIST_F64 ? ncclFloat64 : ncclInt64;
}

static void abort_comm(nccl_comm *c) {
  if (c->aborted)
    return;
  ncclCommAbort(c->comm);
  c->aborted = true;
}

/* The error of a failed NCCL call (or asynchronous error r), after which the
 * communicator is aborted. */
static dnl_status nccl_failed(nccl_comm *c, ncclResult_t r, const char *call, const char *what) {
  char detail[512];
  const char *last = ncclGetLastError(c->comm);
  snprintf(detail, sizeof detail, "%s", last ? last : "");
  abort_comm(c);
  return dnl_error(DNL_ERR_IO, "%s of %s (NCCL): %s%s%s (NCCL_DEBUG=WARN tells more)", call, what,
                   ncclGetErrorString(r), detail[0] ? ": " : "", detail);
}

static dnl_status wait_done(dist *d, nccl_comm *c, const char *what) {
  const double start = now_seconds();
  for (long polls = 0;; polls++) {
    const cudaError_t e = cudaEventQuery(c->done);
    if (e == cudaSuccess)
      return DNL_OK;
    if (e != cudaErrorNotReady) {
      abort_comm(c);
      return dnl_error(DNL_ERR_IO, "all-reduce of %s (NCCL): %s", what, cudaGetErrorString(e));
    }
    ncclResult_t async = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(c->comm, &async);
    if (r != ncclSuccess)
      return nccl_failed(c, r, "all-reduce", what);
    if (async != ncclSuccess && async != ncclInProgress)
      return nccl_failed(c, async, "all-reduce", what);
    if (polls < SPIN_POLLS)
      continue;
    if (now_seconds() - start > d->timeout) {
      abort_comm(c);
      return dnl_error(DNL_ERR_IO,
                       "all-reduce of %s (NCCL): the other ranks did not take part within %g "
                       "s; one of them died or hangs (DNL_DIST_TIMEOUT sets the limit)",
                       what, d->timeout);
    }
    sched_yield();
  }
}

/* The default stream only: uploads on the backend's copy stream go on. */
static dnl_status nccl_finish(dist *d) {
  (void)d;
  const cudaError_t e = cudaStreamSynchronize(NULL);
  if (e != cudaSuccess)
    return dnl_error(DNL_ERR_IO, "NCCL: the work before an all-reduce failed: %s",
                     cudaGetErrorString(e));
  return DNL_OK;
}

static dnl_status nccl_allreduce_sum(dist *d, void *buf, size_t count, dist_type type,
                                     const char *what) {
  nccl_comm *c = d->device_impl;
  if (c->aborted)
    return dnl_error(DNL_ERR_IO,
                     "all-reduce of %s: the NCCL communicator was aborted after an earlier "
                     "failure",
                     what);
  /* stream NULL is the default stream, where the CUDA backend's ops run */
  const ncclResult_t r = ncclAllReduce(buf, buf, count, nccl_type(type), ncclSum, c->comm, NULL);
  if (r != ncclSuccess)
    return nccl_failed(c, r, "all-reduce", what);
  const cudaError_t e = cudaEventRecord(c->done, NULL);
  if (e != cudaSuccess) {
    abort_comm(c);
    return dnl_error(DNL_ERR_IO, "all-reduce of %s (NCCL): cudaEventRecord: %s", what,
                     cudaGetErrorString(e));
  }
  return wait_done(d, c, what);
}

static void nccl_close(dist *d) {
  nccl_comm *c = d->device_impl;
  if (!c->aborted) {
    ncclCommFinalize(c->comm);
    ncclCommDestroy(c->comm);
  }
  cudaEventDestroy(c->done);
  free(c);
}

static const dist_device_ops nccl_ops = {
    .finish = nccl_finish, .allreduce_sum = nccl_allreduce_sum, .close = nccl_close};

bool dist_nccl_built(void) { return true; }

static dnl_status identify(gpu_of_rank *me) {
  if (gethostname(me->host, sizeof me->host) != 0)
    snprintf(me->host, sizeof me->host, "?");
  me->host[sizeof me->host - 1] = '\0';
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess)
    e = cudaDeviceGetPCIBusId(me->bus, (int)sizeof me->bus, device);
  if (e != cudaSuccess)
    return dnl_error(DNL_ERR_IO, "NCCL set-up: which GPU this rank uses: %s",
                     cudaGetErrorString(e));
  me->device = device;
  return DNL_OK;
}

/* NCCL when every rank wants it and has a GPU of its own; d->device_comm says
 * what was decided. Every rank decides alike from the same table. */
static bool decide(dist *d, const gpu_of_rank *all) {
  const size_t len = sizeof d->device_comm;
  for (int r = 0; r < d->size; r++)
    if (!all[r].want) {
      snprintf(d->device_comm, len, "host copies (rank %d has DNL_DIST_NCCL=0)", r);
      return false;
    }
  int hosts = 0;
  for (int r = 0; r < d->size; r++) {
    bool new_host = true;
    for (int q = 0; q < r; q++) {
      if (strcmp(all[q].host, all[r].host))
        continue;
      new_host = false;
      if (!strcmp(all[q].bus, all[r].bus)) {
        snprintf(d->device_comm, len,
                 "host copies (ranks %d and %d share GPU %s on %s; NCCL needs one GPU per "
                 "rank)",
                 q, r, all[r].bus, all[r].host);
        return false;
      }
    }
    hosts += new_host;
  }
  snprintf(d->device_comm, len, "nccl, %d GPUs on %d machine%s", d->size, hosts,
           hosts > 1 ? "s" : "");
  return true;
}

static dnl_status make_comm(dist *d, const gpu_of_rank *me) {
  ncclUniqueId id;
  memset(&id, 0, sizeof id);
  if (d->rank == 0) {
    const ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess)
      return dnl_error(DNL_ERR_IO, "NCCL set-up: ncclGetUniqueId: %s (NCCL_DEBUG=WARN tells more)",
                       ncclGetErrorString(r));
  }
  ncclUniqueId *ids = malloc((size_t)d->size * sizeof *ids);
  if (!ids)
    return dnl_error(DNL_ERR_NOMEM, "NCCL set-up: ids of %d ranks", d->size);
  dnl_status st = d->ops->allgather(d, &id, sizeof id, ids, "the NCCL unique id");
  if (st == DNL_OK)
    id = ids[0];
  free(ids);
  DNL_TRY(st);
  nccl_comm *c = calloc(1, sizeof *c);
  if (!c)
    return dnl_error(DNL_ERR_NOMEM, "NCCL communicator");
  const cudaError_t e = cudaEventCreateWithFlags(&c->done, cudaEventDisableTiming);
  if (e != cudaSuccess) {
    free(c);
    return dnl_error(DNL_ERR_IO, "NCCL set-up: cudaEventCreateWithFlags: %s",
                     cudaGetErrorString(e));
  }
  const ncclResult_t r = ncclCommInitRank(&c->comm, d->size, id, d->rank);
  if (r != ncclSuccess) {
    cudaEventDestroy(c->done);
    free(c);
    const char *last = ncclGetLastError(NULL);
    return dnl_error(DNL_ERR_IO,
                     "NCCL set-up: ncclCommInitRank (rank %d of %d, GPU %s on %s): %s%s%s "
                     "(NCCL_DEBUG=WARN tells more)",
                     d->rank, d->size, me->bus, me->host, ncclGetErrorString(r),
                     last && *last ? ": " : "", last ? last : "");
  }
  d->device_ops = &nccl_ops;
  d->device_impl = c;
  return DNL_OK;
}

static dnl_status nccl_open(dist *d, bool want, bool *opened) {
  *opened = false;
  gpu_of_rank me;
  memset(&me, 0, sizeof me);
  me.want = want;
  DNL_TRY(identify(&me));
  gpu_of_rank *all = malloc((size_t)d->size * sizeof *all);
  if (!all)
    return dnl_error(DNL_ERR_NOMEM, "NCCL set-up: GPUs of %d ranks", d->size);
  dnl_status st = d->ops->allgather(d, &me, sizeof me, all, "the ranks' GPUs");
  const bool use = st == DNL_OK && decide(d, all);
  free(all);
  if (!use)
    return st;
  DNL_TRY(make_comm(d, &me));
  *opened = true;
  return DNL_OK;
}

#else

bool dist_nccl_built(void) { return false; }

static dnl_status nccl_open(dist *d, bool want, bool *opened) {
  (void)want;
  *opened = false;
  snprintf(d->device_comm, sizeof d->device_comm, "host copies (this build has no NCCL)");
  return DNL_OK;
}

#endif

const dist_device_comm dist_nccl_comm = {.name = "nccl", .device = DEVICE_CUDA, .open = nccl_open};
