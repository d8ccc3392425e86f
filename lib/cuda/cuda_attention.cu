/* Pairwise attention of the context block, reference kernel (contracts in
 * lib/core/backend.h, the same computation as lib/cpu/cpu_attention.c): per sample
 * the logits S = scale Q^T K are materialised [p, p] by cuBLAS, softmax rows in
 * place (kept as attn), out = V A^T. The backward forms dA = dO^T V [p, p] in the
 * workspace, one sample at a time, turns it into dS = scale A (dA - rowdot(A, dA))
 * in place and finishes with GEMMs. O(p^2) memory. Also the workspace query of
 * both kernels (the fused one's layout lives in cuda_attention_fused.cu). */
#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

size_t cuda_attention_workspace(const attention_shape *s, bool fused, bool backward) {
  if (fused)
    return cuda_attention_fused_workspace(s, backward);
  return backward ? (size_t)s->p * s->p * sizeof(float) : 0;
}

dnl_status cuda_attention_reference_forward(const attention_shape *s, const float *q,
                                            const float *k, const float *v, float *out,
                                            float *attn) {
  const int n = s->n, p = s->p, d = s->d, dv = s->dv;
  if (n <= 0 || p <= 0)
    return DNL_OK;
  const size_t pp = (size_t)p * p, dp = (size_t)d * p, vp = (size_t)dv * p;
  DNL_TRY(
      cuda_sgemm_batched(true, false, p, p, d, s->scale, q, p, dp, k, p, dp, 0.0f, attn, p, pp, n));
  DNL_TRY(cuda_softmax_forward(n * p, p, 1, attn, attn));
  return cuda_sgemm_batched(false, true, dv, p, p, 1.0f, v, p, vp, attn, p, pp, 0.0f, out, p, vp,
                            n);
}

/* One block per row of [p, p]: ds = scale * a * (ds - sum_j a_j ds_j), the dot
 * in double as on the CPU. */
__global__ static void softmax_grad_rows_kernel(int p, float scale, const float *a, float *ds) {
  const float *ar = a + (size_t)blockIdx.x * p;
  float *dr = ds + (size_t)blockIdx.x * p;
  double dot = 0.0;
  for (int j = threadIdx.x; j < p; j += blockDim.x)
    dot += (double)ar[j] * dr[j];
  const float total = (float)block_reduce(dot, reduce_add(), 0.0);
  for (int j = threadIdx.x; j < p; j += blockDim.x)
    dr[j] = scale * ar[j] * (dr[j] - total);
}

dnl_status cuda_attention_reference_backward(const attention_shape *s, const float *q,
                                             const float *k, const float *v, const float *attn,
                                             const float *dout, float *dq, float *dk, float *dv,
                                             void *ws) {
  const int p = s->p, d = s->d, cv = s->dv;
  float *da = (float *)ws; /* [p, p]: dA, then dS in place */
  for (int b = 0; b < s->n; b++) {
    const float *a = attn + (size_t)b * p * p;
    const float *qb = q + (size_t)b * d * p, *kb = k + (size_t)b * d * p;
    const float *vb = v + (size_t)b * cv * p, *dob = dout + (size_t)b * cv * p;
    if (dv)
      DNL_TRY(
          cuda_sgemm(false, false, cv, p, p, 1.0f, dob, p, a, p, 1.0f, dv + (size_t)b * cv * p, p));
    if (!dq && !dk)
      continue;
    DNL_TRY(cuda_sgemm(true, false, p, p, cv, 1.0f, dob, p, vb, p, 0.0f, da, p));
    softmax_grad_rows_kernel<<<p, CUDA_BLOCK>>>(p, s->scale, a, da);
    CUDA_CHECK_LAUNCH("softmax_grad_rows_kernel");
    if (dq)
      DNL_TRY(
          cuda_sgemm(false, true, d, p, p, 1.0f, kb, p, da, p, 1.0f, dq + (size_t)b * d * p, p));
    if (dk)
      DNL_TRY(
          cuda_sgemm(false, false, d, p, p, 1.0f, qb, p, da, p, 1.0f, dk + (size_t)b * d * p, p));
  }
  return DNL_OK;
}
