/* lib/cuda/ holds the CUDA backend (built with make CUDA=1): the op table of
 * lib/core/backend.h over cuBLAS, cuDNN and own kernels. It depends on
 * lib/core only.
 *
 * The CUDA backend's ops (cuBLAS + own kernels); see lib/core/backend.h for the
 * contracts, which are the CPU backend's. Every op runs on the default stream
 * of the device chosen by cuda_backend_open(); ops that return host values
 * (sum, count_nonfinite, the losses, select_kth) synchronise. The backend
 * state (handles, reduction scratch) is process-wide, so ops are meant to be
 * called from one host thread. */
#ifndef DNL_CUDA_OPS_H
#define DNL_CUDA_OPS_H

#include <cublas_v2.h>
#include <cudnn.h>
#include <stddef.h>

extern "C" {
#include "lib/core/backend.h"
}

/* Handles created by cuda_backend_open() (valid once it returned DNL_OK). */
cublasHandle_t cuda_cublas_handle(void);
cudnnHandle_t cuda_cudnn_handle(void);

/* Launch geometry for element-wise kernels with grid-stride loops. */
#define CUDA_BLOCK 256
static inline unsigned cuda_grid_for(size_t n) {
  const size_t max_blocks = 65535;
  size_t blocks = (n + CUDA_BLOCK - 1) / CUDA_BLOCK;
  return (unsigned)(blocks < max_blocks ? blocks : max_blocks);
}

/* cuda_memory.cu */
dnl_status cuda_alloc(size_t bytes, void **out);
void cuda_free(void *p);
dnl_status cuda_memcpy(void *dst, dnl_device dst_dev, const void *src, dnl_device src_dev,
                       size_t bytes);
dnl_status cuda_fill(float *x, size_t n, float value);
dnl_status cuda_synchronize(void);

/* cuda_transfer.cu */
dnl_status cuda_host_alloc_pinned(size_t bytes, void **out);
void cuda_host_free_pinned(void *p);
dnl_status cuda_upload_async(void *dst, const void *src, size_t bytes);
dnl_status cuda_upload_wait(void);
dnl_status cuda_memory_usage(size_t *used, size_t *total);

/* cuda_blas.cu */
dnl_status cuda_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);
dnl_status cuda_sgemm_batched(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                              const float *a, int lda, size_t stride_a, const float *b,
                              int ldb, size_t stride_b, float beta, float *c, int ldc,
                              size_t stride_c, int batch);

/* cuda_elementwise.cu */
dnl_status cuda_axpy(size_t n, float alpha, const float *x, float *y);
dnl_status cuda_scale(size_t n, float alpha, float *x);
dnl_status cuda_add(size_t n, const float *a, const float *b, float *y);
dnl_status cuda_relu_forward(size_t n, const float *x, float *y);
dnl_status cuda_relu_backward(size_t n, const float *y, const float *dy, float *dx);

/* cuda_reduce.cu */
dnl_status cuda_reduce_init(void);
dnl_status cuda_sum(size_t n, const float *x, double *out);
dnl_status cuda_count_nonfinite(size_t n, const float *x, size_t *out);

/* cuda_softmax.cu */
dnl_status cuda_softmax_forward(int outer, int len, int inner, const float *x, float *y);
dnl_status cuda_softmax_backward(int outer, int len, int inner, const float *y,
                                 const float *dy, float *dx);

/* cuda_sgd.cu */
dnl_status cuda_sgd_update(size_t n, float *w, const float *g, float *momentum_buf, float lr,
                           float momentum, float weight_decay);

/* cuda_attention.cu (reference, cuBLAS) and cuda_attention_fused.cu (flash style) */
size_t cuda_attention_workspace(const attention_shape *s, bool fused, bool backward);
size_t cuda_attention_fused_workspace(const attention_shape *s, bool backward);
dnl_status cuda_attention_reference_forward(const attention_shape *s, const float *q,
                                            const float *k, const float *v, float *out,
                                            float *attn);
dnl_status cuda_attention_reference_backward(const attention_shape *s, const float *q,
                                             const float *k, const float *v, const float *attn,
                                             const float *dout, float *dq, float *dk, float *dv,
                                             void *ws);
dnl_status cuda_attention_fused_forward(const attention_shape *s, const float *q,
                                        const float *k, const float *v, float *out, float *lse,
                                        void *ws);
dnl_status cuda_attention_fused_backward(const attention_shape *s, const float *q,
                                         const float *k, const float *v, const float *out,
                                         const float *lse, const float *dout, float *dq,
                                         float *dk, float *dv, void *ws);

/* cuda_channels.cu */
dnl_status cuda_channel_scale_forward(int n, int c, int hw, const float *x, const float *scale,
                                      float *y);
dnl_status cuda_channel_scale_backward(int n, int c, int hw, const float *dy,
                                       const float *scale, float *dx);
dnl_status cuda_copy_channels(int n, int hw, const float *src, int src_c, int src_off,
                              float *dst, int dst_c, int dst_off, int count, bool accumulate);

/* cuda_pool.cu */
dnl_status cuda_maxpool_forward(const pool_shape *s, const float *x, float *y,
                                int32_t *argmax);
dnl_status cuda_maxpool_backward(const pool_shape *s, const float *dy, const int32_t *argmax,
                                 float *dx);

/* cuda_resize.cu */
dnl_status cuda_resize_forward(const resize_shape *s, const float *x, float *y);
dnl_status cuda_resize_backward(const resize_shape *s, const float *dy, float *dx);

/* cuda_loss.cu */
dnl_status cuda_ce_prob_gt(const ce_shape *s, const float *logits, const int32_t *labels,
                           float *p_gt, size_t *n_valid);
dnl_status cuda_select_kth(size_t n, const float *x, size_t k, float *scratch, float *out);
dnl_status cuda_ce_forward_backward(const ce_shape *s, const float *logits,
                                    const int32_t *labels, const float *weights,
                                    const float *p_gt, float threshold, float loss_weight,
                                    float *loss, float *dlogits);

/* cuda_block_ops.cu */
dnl_status cuda_center_rows(int rows, int len, const float *x, float *y);
dnl_status cuda_attention_combine_forward(int n, int c, int p, const float *gamma,
                                          const float *pair, const float *unary, float *z);
dnl_status cuda_attention_combine_backward(int n, int c, int p, const float *gamma,
                                           const float *pair, const float *dz, float *dpair,
                                           float *dgamma, float *dunary);

/* cuda_conv.cu (cuDNN; DNL_CUDA_TF32=0: exact FP32 instead of TF32) */
size_t cuda_conv2d_workspace(const conv2d_shape *s);
dnl_status cuda_conv2d_forward(const conv2d_shape *s, const float *x, const float *w,
                               const float *bias, float *y, void *ws);
dnl_status cuda_conv2d_backward(const conv2d_shape *s, const float *x, const float *w,
                                const float *dy, float *dx, float *dw, float *dbias, void *ws);

/* cuda_batchnorm.cu */
dnl_status cuda_bn_stats(int n, int c, int hw, const float *x, double *stats);
dnl_status cuda_bn_forward_apply(int n, int c, int hw, float eps, float momentum,
                                 const double *stats, const float *x, const float *gamma,
                                 const float *beta, float *running_mean, float *running_var,
                                 float *y, float *save_mean, float *save_invstd);
dnl_status cuda_bn_forward_eval(int n, int c, int hw, float eps, const float *x,
                                const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var, float *y);
dnl_status cuda_bn_backward_stats(int n, int c, int hw, const float *x, const float *dy,
                                  const float *mean, const float *invstd, double *stats,
                                  float *dgamma, float *dbeta);
dnl_status cuda_bn_backward_apply(int n, int c, int hw, const float *x, const float *gamma,
                                  const float *dy, const float *mean, const float *invstd,
                                  const double *stats, float *dx);

/* cuda_groupnorm.cu */
dnl_status cuda_group_norm_forward(int n, int c, int hw, int groups, float eps, const float *x,
                                   const float *gamma, const float *beta, float *y,
                                   float *save_mean, float *save_invstd);
dnl_status cuda_group_norm_backward(int n, int c, int hw, int groups, const float *x,
                                    const float *gamma, const float *dy,
                                    const float *save_mean, const float *save_invstd,
                                    float *dx, float *dgamma, float *dbeta);

#endif
