/* `runner sweep SWEEP.cfg --eval-only --checkpoint-dir DIR`: every run of the
 * sweep whose weights lie in DIR (DIR/<run>.pth or .safetensors: the authors'
 * published models, read with the published name map; DIR/<run>.h5: a file of
 * `runner import` or a training checkpoint) is evaluated with its config's test
 * protocol into OUT/<sweep>-published/<run>.h5 (an eval row at iteration 0,
 * attribute `checkpoint`); runs without a file are skipped with a line. The runs
 * go one after another in this process. `analysis table --paper` on the result
 * files puts the published mIoU beside ours. */
#ifndef DNL_RUNNER_SWEEP_EVAL_H
#define DNL_RUNNER_SWEEP_EVAL_H

#include <stdbool.h>

#include "runner/sweep.h"

typedef struct sweep_eval_opts {
  const char *checkpoint_dir;
  const char *out_dir; /* results */
  const char *only;    /* shell pattern of run names, or NULL */
  const char *device;  /* "device=cpu" / "device=cuda" override (stored in the run's
                          config too), or NULL */
  int threads;         /* 0: the config's */
  bool quiet;
} sweep_eval_opts;

/* The exit status: 0 when every present run was evaluated. */
int sweep_eval(const sweep *sw, const sweep_eval_opts *o);

#endif
