/* Row-major GEMM through column-major cuBLAS.
 * A row-major [r, c] matrix with leading dimension ld is, read column-major, the
 * [c, r] matrix of its transpose. So row-major C = op(A) op(B) is computed as the
 * column-major C^T = op(B)^T op(A)^T: operands swapped, m and n swapped, each
 * operand keeping its own transpose flag. */
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

static cublasOperation_t op_of(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

dnl_status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc) {
  CUBLAS_CHECK(cublasSgemm(cuda_cublas_handle(), op_of(trans_b), op_of(trans_a), n, m, k,
                           &alpha, b, ldb, a, lda, &beta, c, ldc));
  return DNL_OK;
}

dnl_status cuda_sgemm_batched(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                              const float *a, int lda, size_t stride_a, const float *b,
                              int ldb, size_t stride_b, float beta, float *c, int ldc,
                              size_t stride_c, int batch) {
  if (batch == 0)
    return DNL_OK;
  CUBLAS_CHECK(cublasSgemmStridedBatched(cuda_cublas_handle(), op_of(trans_b), op_of(trans_a),
                                         n, m, k, &alpha, b, ldb, (long long)stride_b, a, lda,
                                         (long long)stride_a, &beta, c, ldc,
                                         (long long)stride_c, batch));
  return DNL_OK;
}
