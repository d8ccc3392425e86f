/* Device communicators: how buffers in a device's memory are summed over the
 * ranks (dist_use_device, lib/dist/dist.h). Each kind (NCCL for CUDA,
 * lib/dist/dist_nccl.c) exports one dist_device_comm, which the table in
 * lib/dist/dist_devices.c lists; dist.c finds it there by device and never
 * includes an implementation. Layers: dist_comm.h <- dist_device.h <- the
 * implementations <- dist_devices (table) <- dist.c. */
#ifndef DNL_DIST_DEVICE_H
#define DNL_DIST_DEVICE_H

#include <stdbool.h>

#include "lib/dist/dist_comm.h"

/* An open device communicator's operations (d->device_ops). */
typedef struct dist_device_ops {
  /* waits for the device's work queued so far, which a sum follows (not timed) */
  dnl_status (*finish)(dist *d);
  /* as dist_ops.allreduce_sum on device memory; returns once buf holds the sum */
  dnl_status (*allreduce_sum)(dist *d, void *buf, size_t count, dist_type type, const char *what);
  void (*close)(dist *d);
} dist_device_ops;

/* A kind of device communicator. */
typedef struct dist_device_comm {
  const char *name; /* "nccl" */
  dnl_device device;
  /* A collective over d's ranks (size > 1, d->ops set), each with the device's
   * backend open. want: this rank has not ruled the kind out (DNL_DIST_NCCL=0).
   * When the ranks agree to use it, sets d->device_ops and d->device_impl and
   * *opened; otherwise *opened is false and the caller falls back to host
   * copies. Either way d->device_comm says what was decided and why. */
  dnl_status (*open)(dist *d, bool want, bool *opened);
} dist_device_comm;

#endif
