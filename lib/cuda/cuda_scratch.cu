#include "lib/cuda/cuda_scratch.h"

#include <stdio.h>

#include "lib/cuda/cuda_check.h"

dnl_status cuda_scratch_get(cuda_scratch *s, size_t bytes, const char *what, void **out) {
  *out = NULL;
  if (bytes == 0)
    bytes = 1;
  if (s->bytes < bytes) {
    /* cudaFree waits for the kernels that still read the old buffer */
    if (s->p)
      CUDA_CHECK(cudaFree(s->p));
    s->p = NULL;
    s->bytes = 0;
    cudaError_t e = cudaMalloc(&s->p, bytes);
    if (e != cudaSuccess) {
      s->p = NULL;
      char who[96];
      snprintf(who, sizeof who, "scratch of %s", what);
      if (e == cudaErrorMemoryAllocation)
        return cuda_oom_error(who, bytes, cudaGetErrorString(e));
      cudaGetLastError(); /* clear it: later launch checks read the last error */
      return dnl_error(DNL_ERR_INTERNAL, "cuda %s: cannot allocate %zu bytes: %s", who, bytes,
                       cudaGetErrorString(e));
    }
    s->bytes = bytes;
  }
  *out = s->p;
  return DNL_OK;
}
