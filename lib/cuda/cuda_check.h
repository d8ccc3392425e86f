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

#define CUDA_CHECK(expr)                                                                      \
  do {                                                                                        \
    cudaError_t cuda_check_e_ = (expr);                                                       \
    if (cuda_check_e_ != cudaSuccess)                                                         \
      return dnl_error(cuda_status_code(cuda_check_e_), "%s:%d: %s failed: %s (%s)",          \
                       __FILE__, __LINE__, #expr, cudaGetErrorName(cuda_check_e_),            \
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
    if (cublas_check_s_ != CUBLAS_STATUS_SUCCESS)                                             \
      return dnl_error(cublas_check_s_ == CUBLAS_STATUS_ALLOC_FAILED ? DNL_ERR_NOMEM          \
                                                                     : DNL_ERR_INTERNAL,      \
                       "%s:%d: %s failed: %s", __FILE__, __LINE__, #expr,                     \
                       cublasGetStatusString(cublas_check_s_));                               \
  } while (0)

#define CUDNN_CHECK(expr)                                                                     \
  do {                                                                                        \
    cudnnStatus_t cudnn_check_s_ = (expr);                                                    \
    if (cudnn_check_s_ != CUDNN_STATUS_SUCCESS)                                               \
      return dnl_error(DNL_ERR_INTERNAL, "%s:%d: %s failed: %s", __FILE__, __LINE__, #expr,   \
                       cudnnGetErrorString(cudnn_check_s_));                                  \
  } while (0)

#endif
