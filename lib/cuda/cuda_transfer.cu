/* Host staging of uploads: page-locked host memory, host-to-device copies on a
 * copy stream of their own that overlap with the ops on the default stream,
 * and the device's memory in use.
 *
 * Ordering: an upload waits (through the event `queued`) for every op queued
 * on the default stream before it, since those may still read its destination;
 * upload_wait blocks the host on the event `copied`, recorded after the last
 * upload, so the source may be reused and every later op sees the data. The
 * copy stream is non-blocking: it does not serialise with the legacy default
 * stream, which is what lets the copy run beside the ops. */
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

namespace {
struct copy_state {
  bool ready;
  cudaStream_t stream;
  cudaEvent_t queued, copied;
};
copy_state copy; /* process-wide, like the library handles (one host thread) */
} // namespace

static dnl_status copy_state_ready(void) {
  if (copy.ready)
    return DNL_OK;
  CUDA_CHECK(cudaStreamCreateWithFlags(&copy.stream, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&copy.queued, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&copy.copied, cudaEventDisableTiming));
  copy.ready = true;
  return DNL_OK;
}

dnl_status cuda_host_alloc_pinned(size_t bytes, void **out) {
  *out = NULL;
  cudaError_t e = cudaHostAlloc(out, bytes ? bytes : sizeof(float), cudaHostAllocDefault);
  if (e == cudaSuccess)
    return DNL_OK;
  cudaGetLastError(); /* clear the recorded error: later launch checks read it */
  return dnl_error(cuda_status_code(e), "cuda: cannot allocate %zu bytes of pinned host memory: %s",
                   bytes, cudaGetErrorString(e));
}

void cuda_host_free_pinned(void *p) {
  /* as cuda_free: a failure here means an earlier error, reported by the next
   * checked call */
  if (p)
    cudaFreeHost(p);
}

dnl_status cuda_upload_async(void *dst, const void *src, size_t bytes) {
  if (bytes == 0)
    return DNL_OK;
  DNL_TRY(copy_state_ready());
  CUDA_CHECK(cudaEventRecord(copy.queued, cudaStreamLegacy));
  CUDA_CHECK(cudaStreamWaitEvent(copy.stream, copy.queued, 0));
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, copy.stream));
  CUDA_CHECK(cudaEventRecord(copy.copied, copy.stream));
  return DNL_OK;
}

dnl_status cuda_upload_wait(void) {
  if (!copy.ready)
    return DNL_OK;
  CUDA_CHECK(cudaEventSynchronize(copy.copied));
  /* the host has waited; this keeps the order on the device explicit too */
  CUDA_CHECK(cudaStreamWaitEvent(cudaStreamLegacy, copy.copied, 0));
  return DNL_OK;
}

dnl_status cuda_memory_usage(size_t *used, size_t *total) {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  *used = total_bytes - free_bytes;
  *total = total_bytes;
  return DNL_OK;
}
