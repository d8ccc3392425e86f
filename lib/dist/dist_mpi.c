/* MPI_COMM_WORLD as a dist communicator (lib/dist/dist.h). Errors are returned, not
 * fatal (MPI_ERRORS_RETURN), and every collective is non-blocking, polled
 * against the communicator's timeout: a blocking call would wait forever for
 * a rank that hangs. Only the main thread calls MPI (MPI_THREAD_FUNNELED). */
#include "lib/dist/dist_mpi.h"

#ifdef DNL_WITH_MPI

#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

/* Polls that spin before the waiting rank starts yielding its core: ranks in
 * step finish a collective within microseconds; a rank waiting for a slower
 * one should leave the core to ranks still computing (oversubscribed runs). */
#define SPIN_POLLS 2000
/* elements per MPI call (MPI counts are int) */
#define CHUNK (1 << 28)

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static dnl_status mpi_failed(int rc, const char *call, const char *what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
    snprintf(msg, sizeof msg, "MPI error %d", rc);
  return dnl_error(DNL_ERR_IO, "%s of %s: %s", call, what, msg);
}

static dnl_status wait_for(dist *d, MPI_Request *req, const char *call, const char *what) {
  const double start = now_seconds();
  for (long polls = 0;; polls++) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
      return mpi_failed(rc, call, what);
    if (done)
      return DNL_OK;
    if (polls < SPIN_POLLS)
      continue;
    if (now_seconds() - start > d->timeout)
      return dnl_error(DNL_ERR_IO,
                       "%s of %s: the other ranks did not take part within %g s; one of "
                       "them died or hangs (DNL_DIST_TIMEOUT sets the limit)",
                       call, what, d->timeout);
    sched_yield();
  }
}

static MPI_Datatype mpi_type(dist_type t) {
  return t == DIST_F32 ? MPI_FLOAT : t == DIST_F64 ? MPI_DOUBLE : MPI_INT64_T;
}

static dnl_status mpi_allreduce_sum(dist *d, void *buf, size_t count, dist_type type,
                                    const char *what) {
  const size_t elem = type == DIST_F32 ? sizeof(float) : 8;
  char *p = buf;
  while (count > 0) {
    const int n = count > CHUNK ? CHUNK : (int)count;
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, p, n, mpi_type(type), MPI_SUM, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
      return mpi_failed(rc, "all-reduce", what);
    DNL_TRY(wait_for(d, &req, "all-reduce", what));
    p += (size_t)n * elem;
    count -= (size_t)n;
  }
  return DNL_OK;
}

static dnl_status mpi_allgather(dist *d, const void *mine, size_t bytes, void *all,
                                const char *what) {
  if (bytes > INT_MAX)
    return dnl_error(DNL_ERR_ARG, "all-gather of %s: %zu bytes per rank, at most %d", what,
                     bytes, INT_MAX);
  MPI_Request req;
  int rc = MPI_Iallgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD,
                          &req);
  if (rc != MPI_SUCCESS)
    return mpi_failed(rc, "all-gather", what);
  return wait_for(d, &req, "all-gather", what);
}

static void mpi_abort(dist *d, int code) {
  (void)d;
  MPI_Abort(MPI_COMM_WORLD, code);
}

static void mpi_close(dist *d) {
  (void)d;
  MPI_Finalize();
}

static const dist_ops mpi_ops = {.allreduce_sum = mpi_allreduce_sum,
                                 .allgather = mpi_allgather,
                                 .abort = mpi_abort,
                                 .close = mpi_close};

bool dist_mpi_built(void) { return true; }

dnl_status dist_mpi_open(dist *d) {
  int provided = 0;
  int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS)
    return dnl_error(DNL_ERR_IO, "MPI_Init_thread failed (MPI error %d)", rc);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "the MPI library offers thread level %d, the loader threads need "
                     "MPI_THREAD_FUNNELED (%d)",
                     provided, MPI_THREAD_FUNNELED);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm local;
  if (MPI_Comm_rank(MPI_COMM_WORLD, &d->rank) != MPI_SUCCESS ||
      MPI_Comm_size(MPI_COMM_WORLD, &d->size) != MPI_SUCCESS ||
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                          &local) != MPI_SUCCESS) {
    MPI_Finalize();
    return dnl_error(DNL_ERR_IO, "MPI: cannot query MPI_COMM_WORLD");
  }
  MPI_Comm_rank(local, &d->local_rank);
  MPI_Comm_size(local, &d->local_size);
  MPI_Comm_free(&local);
  d->name = "mpi";
  d->ops = &mpi_ops;
  return DNL_OK;
}

#else

bool dist_mpi_built(void) { return false; }

dnl_status dist_mpi_open(dist *d) {
  (void)d;
  return dnl_error(DNL_ERR_UNSUPPORTED, "this build has no MPI");
}

#endif
