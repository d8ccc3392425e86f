/* The training loop's batches on the backend's device.
 *
 * On the CPU the loader's batches are used where they are: views, no copy. On
 * a device, two device buffers take turns: while the network trains on the
 * batch in one, the next batch is uploaded into the other on the backend's
 * copy stream (upload_async) from the loader's page-locked slots (create the
 * loader with loader_config.pinned = the backend), and the next
 * batch_stage_next waits for it (upload_wait).
 *
 * Use per iteration: batch_stage_next, then whatever needs the host batch,
 * then batch_stage_prefetch before the step's ops are queued (so that the
 * upload overlaps with all of them). */
#ifndef DNL_BATCH_STAGE_H
#define DNL_BATCH_STAGE_H

#include "data/loader.h"
#include "lib/core/backend.h"
#include "lib/core/tensor.h"

typedef struct staged_batch {
  tensor images;          /* [n, 3, h, w] on the device */
  const int32_t *labels;  /* [n, h, w] on the device */
  /* the loader's batch in host memory: valid until batch_stage_prefetch or the
   * next batch_stage_next */
  const loader_batch *host;
} staged_batch;

typedef struct batch_stage {
  const dnl_backend *be;
  loader *ld;
  int n, h, w;         /* every batch's size */
  float *images[2];    /* [n, 3, h, w] device buffers (NULL on the CPU) */
  int32_t *labels[2];  /* [n, h, w] */
  int cur;             /* the buffer handed out last */
  const loader_batch *pending; /* fetched, uploading into buffer 1 - cur; or NULL */
} batch_stage;

/* Batches of n images of h x w (the loader's training batches). */
dnl_status batch_stage_init(batch_stage *st, const dnl_backend *be, loader *ld, int n, int h,
                            int w);
/* Before destroying the loader: a pending upload still reads its slot. */
void batch_stage_free(batch_stage *st);

/* The next batch, on the device. A batch of another size than the stage's is
 * an error. */
dnl_status batch_stage_next(batch_stage *st, staged_batch *out);
/* Starts the upload of the batch after the one handed out (nothing on the CPU). */
dnl_status batch_stage_prefetch(batch_stage *st);

/* Where the loader resumes after the last batch handed out (for checkpoints):
 * a prefetched batch counts as not yet delivered. */
loader_pos batch_stage_tell(const batch_stage *st);

/* Device bytes of the stage's own buffers (0 on the CPU). */
size_t batch_stage_device_bytes(const batch_stage *st);

#endif
