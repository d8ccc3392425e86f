/* Status checks for CUDA runtime, cuBLAS and cuDNN calls (host code in lib/cuda).
 * Each macro turns a failing call into `return dnl_error(...)` naming the call,
 * the file:line and the library's own error text. */
#ifndef DNL_CUDA_CHECK_H
#define DNL_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

extern "C" {
#include "lib/core/status.h"
}

/* Out-of-memory errors map to DNL_ERR_NOMEM, everything else to INTERNAL. */
static inline dnl_status cuda_status_code(cudaError_t e) {
  return e == cudaErrorMemoryAllocation ? DNL_ERR_NOMEM : DNL_ERR_INTERNAL;
}

/* The one-line error of a device allocation that failed (lib/cuda/cuda_memory.cu):
 * DNL_ERR_NOMEM, "cuda: out of device memory: WHAT asked for X MiB, F of T MiB
 * free (CAUSE)"; bytes 0: the size is not known (a library's own allocation).
 * Clears CUDA's recorded error, which later launch checks would read. */
dnl_status cuda_oom_error(const char *what, size_t bytes, const char *cause);

#define CUDA_CHECK(expr)                                                                      \
  do {                                                                                        \
    cudaError_t cuda_check_e_ = (expr);                                                       \
    if (cuda_check_e_ == cudaErrorMemoryAllocation)                                           \
      return cuda_oom_error(#expr, 0, cudaGetErrorString(cuda_check_e_));                     \
    if (cuda_check_e_ != cudaSuccess)                                                         \
      return dnl_error(DNL_ERR_INTERNAL, "%s:%d: %s failed: %s (%s)", __FILE__, __LINE__,     \
                       #expr, cudaGetErrorName(cuda_check_e_),                                \
                       cudaGetErrorString(cuda_check_e_));                                    \
  } while (0)

/* After a kernel launch: reports bad launch configurations right away (errors
 * inside the kernel surface at the next synchronising call). */
#define CUDA_CHECK_LAUNCH(kernel_name)                                                        \
  do {                                                                                        \
    cudaError_t cuda_check_e_ = cudaGetLastError();                                           \
    if (cuda_check_e_ != cudaSuccess)                                                         \
      return dnl_error(cuda_status_code(cuda_check_e_), "%s:%d: launch of %s failed: %s",     \
                       __FILE__, __LINE__, kernel_name, cudaGetErrorString(cuda_check_e_));   \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                    \
  do {                                                                                        \
    cublasStatus_t cublas_check_s_ = (expr);                                                  \
    if (cublas_check_s_ == CUBLAS_STATUS_ALLOC_FAILED)                                        \
      return cuda_oom_error(#expr, 0, cublasGetStatusString(cublas_check_s_));                \
    if (cublas_check_s_ != CUBLAS_STATUS_SUCCESS)                                             \
      return dnl_error(DNL_ERR_INTERNAL, "%s:%d: %s failed: %s", __FILE__, __LINE__, #expr,   \
                       cublasGetStatusString(cublas_check_s_));                               \
  } while (0)

/* cuDNN's device allocation failures read as out of memory; its host ones as
 * out of (host) memory */
#define CUDNN_CHECK(expr)                                                                     \
  do {                                                                                        \
    cudnnStatus_t cudnn_check_s_ = (expr);                                                    \
    if (cudnn_check_s_ == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)               \
      return cuda_oom_error(#expr, 0, cudnnGetErrorString(cudnn_check_s_));                   \
    if (cudnn_check_s_ != CUDNN_STATUS_SUCCESS)                                               \
      return dnl_error(cudnn_check_s_ == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED   \
                           ? DNL_ERR_NOMEM                                                    \
                           : DNL_ERR_INTERNAL,                                                \
                       "%s:%d: %s failed: %s", __FILE__, __LINE__, #expr,                     \
                       cudnnGetErrorString(cudnn_check_s_));                                  \
  } while (0)

#endif
