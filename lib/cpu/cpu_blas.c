#include <cblas.h>
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
  return DNL_OK;
}

dnl_status cpu_sgemm_batched(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                             const float *a, int lda, size_t stride_a, const float *b, int ldb,
                             size_t stride_b, float beta, float *c, int ldc, size_t stride_c,
                             int batch) {
  for (int i = 0; i < batch; i++)
    cpu_sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
              beta, c + i * stride_c, ldc);
  return DNL_OK;
}

dnl_status cpu_axpy(size_t n, float alpha, const float *x, float *y) {
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++)
    y[i] += alpha * x[i];
  return DNL_OK;
}

dnl_status cpu_scale(size_t n, float alpha, float *x) {
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++)
    x[i] *= alpha;
  return DNL_OK;
}

dnl_status cpu_add(size_t n, const float *a, const float *b, float *y) {
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++)
    y[i] = a[i] + b[i];
  return DNL_OK;
}

dnl_status cpu_sum(size_t n, const float *x, double *out) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += x[i];
  *out = s;
  return DNL_OK;
}

dnl_status cpu_count_nonfinite(size_t n, const float *x, size_t *out) {
  size_t bad = 0;
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) reduction(+ : bad) schedule(static)
  for (size_t i = 0; i < n; i++)
    bad += !isfinite(x[i]);
  *out = bad;
  return DNL_OK;
}
