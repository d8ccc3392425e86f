/* lib/cpu/ holds the CPU backend: the op table of lib/core/backend.h over
 * OpenBLAS and OpenMP. It depends on lib/core only.
 *
 * Its ops, file by file; lib/core/backend.h has their contracts. */
#ifndef DNL_CPU_OPS_H
#define DNL_CPU_OPS_H

#include "lib/core/backend.h"

/* cpu_memory.c */
dnl_status cpu_alloc(size_t bytes, void **out);
void cpu_free(void *p);
dnl_status cpu_memcpy(void *dst, dnl_device dst_dev, const void *src, dnl_device src_dev,
                      size_t bytes);
dnl_status cpu_fill(float *x, size_t n, float value);
dnl_status cpu_synchronize(void);

/* cpu_transfer.c */
dnl_status cpu_host_alloc_pinned(size_t bytes, void **out);
void cpu_host_free_pinned(void *p);
dnl_status cpu_upload_async(void *dst, const void *src, size_t bytes);
dnl_status cpu_upload_wait(void);
dnl_status cpu_memory_usage(size_t *used, size_t *total);

/* cpu_blas.c */
dnl_status cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc);
dnl_status cpu_sgemm_batched(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                             const float *a, int lda, size_t stride_a, const float *b, int ldb,
                             size_t stride_b, float beta, float *c, int ldc, size_t stride_c,
                             int batch);
dnl_status cpu_axpy(size_t n, float alpha, const float *x, float *y);
dnl_status cpu_scale(size_t n, float alpha, float *x);
dnl_status cpu_add(size_t n, const float *a, const float *b, float *y);
dnl_status cpu_sum(size_t n, const float *x, double *out);
dnl_status cpu_count_nonfinite(size_t n, const float *x, size_t *out);

/* cpu_conv.c */
size_t cpu_conv2d_workspace(const conv2d_shape *s);
dnl_status cpu_conv2d_forward(const conv2d_shape *s, const float *x, const float *w,
                              const float *bias, float *y, void *ws);
dnl_status cpu_conv2d_backward(const conv2d_shape *s, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *dbias, void *ws);

/* cpu_batchnorm.c */
dnl_status cpu_bn_stats(int n, int c, int hw, const float *x, double *stats);
dnl_status cpu_bn_forward_apply(int n, int c, int hw, float eps, float momentum,
                                const double *stats, const float *x, const float *gamma,
                                const float *beta, float *running_mean, float *running_var,
                                float *y, float *save_mean, float *save_invstd);
dnl_status cpu_bn_forward_eval(int n, int c, int hw, float eps, const float *x,
                               const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float *y);
dnl_status cpu_bn_backward_stats(int n, int c, int hw, const float *x, const float *dy,
                                 const float *mean, const float *invstd, double *stats,
                                 float *dgamma, float *dbeta);
dnl_status cpu_bn_backward_apply(int n, int c, int hw, const float *x, const float *gamma,
                                 const float *dy, const float *mean, const float *invstd,
                                 const double *stats, float *dx);

/* cpu_pointwise.c */
dnl_status cpu_relu_forward(size_t n, const float *x, float *y);
dnl_status cpu_relu_backward(size_t n, const float *y, const float *dy, float *dx);
dnl_status cpu_channel_scale_forward(int n, int c, int hw, const float *x, const float *scale,
                                     float *y);
dnl_status cpu_channel_scale_backward(int n, int c, int hw, const float *dy,
                                      const float *scale, float *dx);
dnl_status cpu_copy_channels(int n, int hw, const float *src, int src_c, int src_off,
                             float *dst, int dst_c, int dst_off, int count, bool accumulate);

/* cpu_pool.c */
dnl_status cpu_maxpool_forward(const pool_shape *s, const float *x, float *y,
                               int32_t *argmax);
dnl_status cpu_maxpool_backward(const pool_shape *s, const float *dy, const int32_t *argmax,
                                float *dx);

/* cpu_resize.c */
dnl_status cpu_resize_forward(const resize_shape *s, const float *x, float *y);
dnl_status cpu_resize_backward(const resize_shape *s, const float *dy, float *dx);

/* cpu_softmax.c */
dnl_status cpu_softmax_forward(int outer, int len, int inner, const float *x, float *y);
dnl_status cpu_softmax_backward(int outer, int len, int inner, const float *y,
                                const float *dy, float *dx);

/* cpu_loss.c */
dnl_status cpu_ce_prob_gt(const ce_shape *s, const float *logits, const int32_t *labels,
                          float *p_gt, size_t *n_valid);
dnl_status cpu_select_kth(size_t n, const float *x, size_t k, float *scratch, float *out);
dnl_status cpu_ce_forward_backward(const ce_shape *s, const float *logits,
                                   const int32_t *labels, const float *weights,
                                   const float *p_gt, float threshold, float loss_weight,
                                   float *loss, float *dlogits);

/* cpu_sgd.c */
dnl_status cpu_sgd_update(size_t n, float *w, const float *g, float *momentum_buf, float lr,
                          float momentum, float weight_decay);

/* cpu_attention.c */
size_t cpu_attention_workspace(const attention_shape *s, bool fused, bool backward);
dnl_status cpu_attention_reference_forward(const attention_shape *s, const float *q,
                                           const float *k, const float *v, float *out,
                                           float *attn);
dnl_status cpu_attention_reference_backward(const attention_shape *s, const float *q,
                                            const float *k, const float *v, const float *attn,
                                            const float *dout, float *dq, float *dk, float *dv,
                                            void *ws);
dnl_status cpu_attention_fused_forward(const attention_shape *s, const float *q,
                                       const float *k, const float *v, float *out, float *lse,
                                       void *ws);
dnl_status cpu_attention_fused_backward(const attention_shape *s, const float *q,
                                        const float *k, const float *v, const float *out,
                                        const float *lse, const float *dout, float *dq,
                                        float *dk, float *dv, void *ws);

/* cpu_context.c */
dnl_status cpu_center_rows(int rows, int len, const float *x, float *y);
dnl_status cpu_attention_combine_forward(int n, int c, int p, const float *gamma,
                                         const float *pair, const float *unary, float *z);
dnl_status cpu_attention_combine_backward(int n, int c, int p, const float *gamma,
                                          const float *pair, const float *dz, float *dpair,
                                          float *dgamma, float *dunary);

/* cpu_groupnorm.c */
dnl_status cpu_group_norm_forward(int n, int c, int hw, int groups, float eps, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_invstd);
dnl_status cpu_group_norm_backward(int n, int c, int hw, int groups, const float *x,
                                   const float *gamma, const float *dy, const float *save_mean,
                                   const float *save_invstd, float *dx, float *dgamma,
                                   float *dbeta);

#endif
