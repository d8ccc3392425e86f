/* Prefetching batch loader.
 *
 * Worker threads decode and augment whole batches ahead of the training loop
 * into a ring of preallocated slots; loader_next hands them out in order.
 * Batch k always holds the same samples with the same augmentation, whatever
 * the number of workers: the epoch order is a shuffle seeded by (seed, epoch),
 * and sample i of epoch e is augmented with rng_seed3(seed, e, i).
 *
 * Training (LOADER_TRAIN): endless, epoch after epoch; a global batch is
 * batch_size * world samples of the epoch's order (an incomplete last one is
 * dropped), and rank r gets samples [r * batch_size, (r + 1) * batch_size) of
 * it, so the ranks together see exactly what one process with the global batch
 * would. Every sample is crop_h x crop_w (cfg.augment).
 * Evaluation (LOADER_EVAL): one pass in dataset order, one image per batch at
 * its original size, normalised only; rank r gets samples r, r + world, ...
 *
 * Errors (a corrupt file, a missing label) reach the caller at the batch that
 * needed the file: loader_next returns the status, with a message naming the
 * file, then and on every later call. */
#ifndef DNL_DATA_LOADER_H
#define DNL_DATA_LOADER_H

#include <stdint.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "lib/core/backend.h"
#include "lib/core/status.h"

typedef enum { LOADER_TRAIN, LOADER_EVAL } loader_mode;

/* A place in the stream: batches of `epoch` already delivered. */
typedef struct loader_pos {
  long epoch;
  long batch;
} loader_pos;

typedef struct loader_config {
  dataset *ds;
  loader_mode mode;
  int batch_size;         /* per rank (training); evaluation always gives 1 */
  augment_config augment; /* training: every step and the crop; eval: mean_bgr */
  uint64_t seed;
  int workers;     /* decoding threads, >= 1 */
  int prefetch;    /* batches decoded ahead (slots); 0 = workers + 2 */
  int rank, world; /* 0 and 1 for a single process */
  loader_pos start; /* training: resume here (a value from loader_tell) */
  /* NULL: the slots' images and labels come from malloc; else from this
   * backend's host_alloc_pinned (page-locked, so that uploads to its device run
   * at full speed and asynchronously: runner/batch_stage.c) */
  const dnl_backend *pinned;
} loader_config;

/* Defaults: augment_defaults of the dataset, batch 1, 2 workers, seed 0,
 * rank 0 of 1, start of epoch 0. */
dnl_status loader_config_init(loader_config *cfg, dataset *ds, loader_mode mode);

typedef struct loader_batch {
  int n, h, w;        /* images in the batch and their size */
  float *images;      /* [n, 3, h, w] host memory, BGR minus mean */
  int32_t *labels;    /* [n, h, w] train ids, 255 = ignore */
  const int *samples; /* [n] dataset indices */
  loader_pos pos;     /* which batch this is */
} loader_batch;

typedef struct loader loader;

/* Checks the config and starts the workers. The dataset must outlive the loader. */
dnl_status loader_create(const loader_config *cfg, loader **out);

/* The next batch; it stays valid until the next loader_next or loader_destroy.
 * *out is NULL at the end of an evaluation pass (never in training). */
dnl_status loader_next(loader *l, const loader_batch **out);

/* Position of the batch the next loader_next returns (save it with a
 * checkpoint; pass it as cfg.start to resume). */
loader_pos loader_tell(loader *l);

/* Training: batches per epoch; evaluation: batches in this rank's pass. */
long loader_num_batches(const loader *l);

/* Stops and joins the workers (a batch being decoded is abandoned), frees all. */
void loader_destroy(loader *l);

#endif
