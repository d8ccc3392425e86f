/* Cost of one run without running it: parameters, FLOPs and memory of a
 * training iteration, measured on a small input and scaled to the crop. */
#ifndef DNL_ESTIMATE_H
#define DNL_ESTIMATE_H

#include <stddef.h>

#include "runner/run_config.h"

typedef struct run_estimate {
  size_t params;          /* trainable */
  double param_bytes;     /* values, gradients and momentum (buffers once) */
  double activation_bytes;/* one training iteration at the crop and batch (per process) */
  double flops;           /* one training iteration (forward + backward ~ 3x forward) */
} run_estimate;

/* classes: the dataset's. Runs a forward + backward of batch 1 at 65 x 65 on the CPU and
 * scales by the area of the output-stride-8 maps. */
dnl_status run_estimate_cost(const run_config *cfg, int classes, run_estimate *out);

#endif
