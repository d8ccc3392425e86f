/* The training loop of one run: batches from the loader, forward, OHEM + aux
 * loss, backward, SGD with poly LR; evaluations, checkpoints and the result file
 * as it goes. */
#ifndef DNL_TRAIN_H
#define DNL_TRAIN_H

#include <stdbool.h>

#include "runner/session.h"

typedef struct train_options {
  bool resume;        /* continue from the run's checkpoint when there is one */
  bool quiet;         /* no progress output */
  const char *prefix; /* progress line prefix (sweeps: "[3/12] run"), may be NULL */
} train_options;

/* Trains and evaluates the run of an opened session (session_open); its result
 * file and checkpoint are s->result_path and s->checkpoint_path. With several
 * ranks in s->ctx.dist it trains data-parallel: each rank takes its share of
 * every global batch, rank 0 writes the files (docs/distributed.md). Returns
 * DNL_ERR_NUMERIC for a NaN/Inf loss and DNL_ERR_IO... with the reason; the
 * result file then says "failed: <reason>". SIGINT/SIGTERM stop after the
 * current iteration with a checkpoint (DNL_ERR_ARG "interrupted"). */
dnl_status train_run(session *s, const train_options *opt);

/* Set by the SIGINT/SIGTERM handler that train_run installs. */
extern volatile int train_interrupted;

#endif
