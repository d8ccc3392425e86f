/* lib/dist/ holds the communicators of data-parallel training: one process,
 * MPI on the host, and device communicators (NCCL) through a table. It
 * depends on lib/core only (an implementation reaches its own runtime, MPI,
 * CUDA, NCCL, directly).
 *
 * The communicator of data-parallel training: `size` ranks (processes), each
 * with its share of every global batch, which sum their gradients (one
 * all-reduce over the contiguous gradient buffer) and their batch-norm
 * statistics (lib/layers/batchnorm.c). docs/distributed.md has the whole picture.
 *
 * dist_open chooses the implementation from the environment: started by an MPI
 * launcher (mpirun sets OMPI_COMM_WORLD_SIZE, MPICH's PMI_SIZE) it is MPI when
 * the build has it (the Makefile enables it when pkg-config finds MPI; a build
 * without MPI refuses to run as one of several ranks), else one process, whose
 * collectives cost nothing. The collectives take host buffers. Buffers in a
 * device's memory (the CUDA backend's gradients and BN statistics) go through
 * dist_allreduce_sum_on, after dist_use_device gave the communicator that
 * device: a device communicator from the table in lib/dist/dist_devices.c (NCCL,
 * lib/dist/dist_nccl.h, for CUDA), or copies through host memory when ranks
 * share a GPU. With several ranks, dist_open also tells the CUDA backend to
 * open the GPU of the local rank (modulo the visible GPUs), so the backend must
 * not have been opened before it.
 *
 * No rank waits forever: a collective that the other ranks do not join within
 * `timeout` seconds (DNL_DIST_TIMEOUT, default 300) fails with DNL_ERR_IO
 * naming what it was summing; the program then calls dist_abort, which ends
 * every rank. (mpirun itself ends the job when a rank dies or exits non-zero.)
 *
 * A NULL communicator is the single process: the wrappers below accept it. */
#ifndef DNL_DIST_H
#define DNL_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/backend.h"
#include "lib/core/status.h"
#include "lib/dist/dist_comm.h"

/* The communicator of this process (see above); close it with dist_close. */
dnl_status dist_open(dist **out);
void dist_close(dist *d);

/* Number of ranks the launcher started, from its environment; 0 when this
 * process was not started by an MPI launcher. */
int dist_launcher_size(void);

int dist_rank(const dist *d); /* 0 for NULL */
int dist_size(const dist *d); /* 1 for NULL */

/* The collectives; `what` names the data in errors ("gradients"). */
dnl_status dist_allreduce_sum(dist *d, void *buf, size_t count, dist_type type, const char *what);
dnl_status dist_allgather(dist *d, const void *mine, size_t bytes, void *all, const char *what);
dnl_status dist_barrier(dist *d, const char *what);

/* Prepares the sums of buffers in be's memory (nothing for the CPU backend).
 * For the CUDA backend (opened, on this rank's GPU) the ranks exchange which
 * GPU each uses: when every rank has its own, they make an NCCL communicator;
 * when some share one (NCCL refuses that), or any rank has DNL_DIST_NCCL=0,
 * or the build has no NCCL, device buffers are copied to host memory, summed
 * by the collectives above and copied back. A collective: every rank calls it
 * with the same device. d->device_comm then says which. */
dnl_status dist_use_device(dist *d, const dnl_backend *be);

/* dist_allreduce_sum on a buffer in be's memory: host memory for the CPU
 * backend, else the device of dist_use_device (be must be the backend given
 * there). The work queued before it on the device's compute stream is finished
 * first (not counted in comm_seconds); returns once buf holds the sum. */
dnl_status dist_allreduce_sum_on(dist *d, const dnl_backend *be, void *buf, size_t count,
                                 dist_type type, const char *what);

/* DNL_ERR_ARG naming the ranks whose value differs from rank 0's ("<what>:
 * ranks 1, 3 of 4 differ from rank 0"); every rank gets the same verdict. */
dnl_status dist_check_same(dist *d, uint64_t value, const char *what);

/* Ends every rank of the job at once (a rank failed alone, so the others may
 * be waiting in a collective that it will never join). Only programs call it,
 * in place of exiting; with one process it returns and the caller exits. */
void dist_abort(dist *d, int code);

/* 64-bit FNV-1a of bytes, continuing from h (start with DIST_HASH_INIT). */
#define DIST_HASH_INIT 0xcbf29ce484222325ull
uint64_t dist_hash(uint64_t h, const void *bytes, size_t n);

#endif
