/* NCCL for the sums of buffers in CUDA device memory (dist_use_device,
 * lib/dist/dist.h), in lib/dist/dist_nccl.c: compiled with NCCL when the build has CUDA
 * and MPI (DNL_WITH_NCCL, the Makefile then links -lnccl), else a stub that
 * leaves device buffers to host copies. MPI stays in charge of everything on
 * the host; it also carries NCCL's start-up (the unique id from rank 0). */
#ifndef DNL_DIST_NCCL_H
#define DNL_DIST_NCCL_H

#include <stdbool.h>

#include "lib/dist/dist_device.h"

/* Whether this build has NCCL. */
bool dist_nccl_built(void);

/* The device communicator for DEVICE_CUDA (lib/dist/dist_devices.c). Its open:
 * the ranks, each with the CUDA backend open on its GPU (the current CUDA
 * device), tell each other their GPU (host name and PCI bus id) and whether
 * they want NCCL. When every rank wants it and has a GPU of its own, they make
 * one NCCL communicator, whose all-reduce runs on the backend's stream (the
 * default stream) and is polled against d->timeout. The stub (no NCCL in the
 * build) always declines. */
extern const dist_device_comm dist_nccl_comm;

#endif
