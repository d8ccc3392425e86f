/* The communicator's state and its implementations' vtable: the lowest header
 * of lib/dist/, which the implementations (dist_mpi.c, dist_nccl.c) fill in
 * and the public API (lib/dist/dist.h) drives. Only lib/dist/ and tests with a
 * fake communicator look inside. */
#ifndef DNL_DIST_COMM_H
#define DNL_DIST_COMM_H

#include <stddef.h>

#include "lib/core/backend.h"
#include "lib/core/status.h"

typedef enum dist_type { DIST_F32, DIST_F64, DIST_I64 } dist_type;

typedef struct dist dist;

/* An implementation's collectives; they are only called with size > 1. */
typedef struct dist_ops {
  /* buf[i] = sum over ranks of their buf[i] (in place, same count everywhere) */
  dnl_status (*allreduce_sum)(dist *d, void *buf, size_t count, dist_type type, const char *what);
  /* all[r * bytes .. (r + 1) * bytes) = rank r's mine */
  dnl_status (*allgather)(dist *d, const void *mine, size_t bytes, void *all, const char *what);
  /* ends every rank of the job with the exit status code; does not return */
  void (*abort)(dist *d, int code);
  void (*close)(dist *d);
} dist_ops;

struct dist_device_ops; /* lib/dist/dist_device.h */

struct dist {
  const char *name;           /* "single", "mpi" */
  int rank, size;             /* this process among all */
  int local_rank, local_size; /* among those on this machine (picks a GPU) */
  double timeout;             /* seconds a collective waits for the other ranks */
  double comm_seconds;        /* spent in collectives so far, waits for slower ranks included */
  long comm_calls;
  const dist_ops *ops; /* NULL when size is 1 */
  void *impl;
  /* device buffers (dist_use_device): the device's backend, NULL before */
  const dnl_backend *device_be;
  const struct dist_device_ops *device_ops;
  void *device_impl;
  char device_comm[192]; /* how they are summed: "nccl", "host copies (why)" */
};

#endif
