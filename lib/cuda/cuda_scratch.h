/* A device buffer kept between calls of one op and grown on demand, for the
 * small per-call temporaries of lib/cuda (partial sums, selection state). Each
 * user holds its own; a buffer is only used within one op call, and ops run on
 * the default stream from one host thread (see cuda_ops.h). */
#ifndef DNL_CUDA_SCRATCH_H
#define DNL_CUDA_SCRATCH_H

#include <stddef.h>

extern "C" {
#include "lib/core/status.h"
}

typedef struct cuda_scratch {
  void *p;
  size_t bytes;
} cuda_scratch;

/* At least bytes of device memory in *out; what the buffer held before is lost
 * when it grows. `what` names the user in the error message. */
dnl_status cuda_scratch_get(cuda_scratch *s, size_t bytes, const char *what, void **out);

#endif
