/* One training iteration of a session's network on a batch already on its
 * device (SPEC 3): forward in training mode, main loss (CE, or OHEM when the
 * config asks) and auxiliary CE, backward, the gradient all-reduce over
 * data-parallel ranks, the SGD step, and a check that the weights stayed finite.
 * The training loop (runner/train.c), the training benchmark and the
 * CPU-vs-CUDA parity test all run this. */
#ifndef DNL_TRAIN_STEP_H
#define DNL_TRAIN_STEP_H

#include <stdbool.h>

#include "runner/session.h"

typedef struct train_step_in {
  const tensor *images;       /* [n, 3, h, w] on the session's device */
  const int32_t *labels;      /* [n, h, w] on the device, 255 = ignore */
  const float *class_weights; /* [classes] on the device, or NULL */
  /* this rank's share of the global batch's mean CE loss: its class-weighted
   * valid pixels over the global batch's (1 for one process) */
  double share;
  double lr;
  bool interrupted; /* a signal reached this rank; the ranks agree in the step */
} train_step_in;

typedef struct train_step_out {
  float loss, loss_main, loss_aux; /* of the global batch */
  bool interrupted;                /* some rank was interrupted */
  double allreduce_seconds;        /* in the gradient all-reduce */
} train_step_out;

/* DNL_ERR_NUMERIC when the loss or an updated weight is not finite. */
dnl_status train_step(session *s, const train_step_in *in, train_step_out *out);

#endif
