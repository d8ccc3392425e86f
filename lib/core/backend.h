/* lib/core/ holds what every other folder stands on: tensors, the backend
 * function table below (the numeric ops each device implements), arenas, the
 * parameter store, status and error messages, random numbers, the OpenMP wait
 * policy and the version. It depends on nothing of ours; lib/cpu and lib/cuda
 * implement this table and are found at link time (cpu_backend,
 * cuda_backend_open). Allowed arrows: docs/architecture.md, "Layers".
 *
 * The backend function table: every numeric op of the harness, on one device.
 *
 * Conventions for every op:
 *  - pointers are device pointers of the backend's device;
 *  - forward ops overwrite their outputs;
 *  - backward ops ACCUMULATE (+=) into dx / dw / db, and skip a NULL one;
 *  - shapes are validated by the layer code (lib/layers) before the call, so ops
 *    only fail on allocation or device errors.
 * A backend that lacks an op leaves it NULL; backend_check() reports it at
 * start-up instead of failing later. */
#ifndef DNL_BACKEND_H
#define DNL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"
#include "lib/core/tensor.h"

/* 2-D convolution geometry, PyTorch semantics. */
typedef struct conv2d_shape {
  int n, cin, h, w; /* input */
  int cout, kh, kw;
  int stride, pad, dilation;
  int oh, ow; /* output, set by conv2d_shape_init */
} conv2d_shape;

/* Fills oh/ow; error when the geometry gives an empty output. */
dnl_status conv2d_shape_init(conv2d_shape *s, int n, int cin, int h, int w, int cout,
                             int k, int stride, int pad, int dilation);

/* Max pooling geometry (PyTorch MaxPool2d with ceil_mode option). */
typedef struct pool_shape {
  int n, c, h, w;
  int k, stride, pad;
  bool ceil_mode;
  int oh, ow; /* set by pool_shape_init */
} pool_shape;

dnl_status pool_shape_init(pool_shape *s, int n, int c, int h, int w, int k, int stride,
                           int pad, bool ceil_mode);

/* Bilinear resize geometry (PyTorch interpolate, mode bilinear). */
typedef struct resize_shape {
  int n, c, ih, iw, oh, ow;
  bool align_corners;
} resize_shape;

/* Pixel-wise classification loss geometry: logits [n, c, hw], labels [n, hw]. */
typedef struct ce_shape {
  int n, c, hw;
  int ignore_label;
  bool plain_mean; /* divide by the count of selected pixels, not sum(w_y) (OHEM) */
} ce_shape;

/* Pairwise attention of the context block (shared/SPEC.md 1, steps 2-4), per
 * sample: q, k [n, d, p] and v [n, dv, p] channel-major (as NCHW activations);
 * out[c, i] = sum_j softmax_j(scale * sum_e q[e, i] k[e, j]) v[c, j]. */
typedef struct attention_shape {
  int n, p, d, dv;
  float scale;
} attention_shape;

typedef struct dnl_backend {
  const char *name;
  dnl_device device;

  /* memory */
  dnl_status (*alloc)(size_t bytes, void **out);
  void (*free)(void *p);
  /* Copies bytes between host and this device (either side may be either). */
  dnl_status (*memcpy)(void *dst, dnl_device dst_dev, const void *src, dnl_device src_dev,
                       size_t bytes);
  dnl_status (*fill)(float *x, size_t n, float value);
  dnl_status (*synchronize)(void);

  /* host staging of uploads (the training loop's batches: runner/batch_stage.c) */
  /* Page-locked host memory, from which uploads run at full speed and can be
   * asynchronous (CUDA: cudaHostAlloc); the CPU backend gives aligned memory. */
  dnl_status (*host_alloc_pinned)(size_t bytes, void **out);
  void (*host_free_pinned)(void *p);
  /* Starts copying bytes of host memory src to device memory dst on a second
   * (copy) stream, ordered after every op queued so far (which may still use
   * dst), so that it overlaps with the ops queued after it. Until upload_wait()
   * returns, src must stay unchanged and dst unused. The CPU backend copies at
   * once. */
  dnl_status (*upload_async)(void *dst, const void *src, size_t bytes);
  /* Blocks until every upload_async has finished; later ops see the data. */
  dnl_status (*upload_wait)(void);
  /* Bytes in use on the device and its capacity (CUDA: cudaMemGetInfo, every
   * process's allocations and contexts included; CPU: this process's resident
   * set and the machine's physical memory). */
  dnl_status (*memory_usage)(size_t *used, size_t *total);

  /* BLAS-like, row-major */
  dnl_status (*sgemm)(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);
  dnl_status (*sgemm_batched)(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                              const float *a, int lda, size_t stride_a, const float *b,
                              int ldb, size_t stride_b, float beta, float *c, int ldc,
                              size_t stride_c, int batch);
  dnl_status (*axpy)(size_t n, float alpha, const float *x, float *y); /* y += a x */
  dnl_status (*scale)(size_t n, float alpha, float *x);                /* x *= a */
  dnl_status (*add)(size_t n, const float *a, const float *b, float *y); /* y = a + b */
  dnl_status (*sum)(size_t n, const float *x, double *out);              /* host result */
  dnl_status (*count_nonfinite)(size_t n, const float *x, size_t *out);

  /* convolution (weights [cout, cin, kh, kw], bias [cout] or NULL) */
  size_t (*conv2d_workspace)(const conv2d_shape *s); /* bytes */
  dnl_status (*conv2d_forward)(const conv2d_shape *s, const float *x, const float *w,
                               const float *bias, float *y, void *ws);
  dnl_status (*conv2d_backward)(const conv2d_shape *s, const float *x, const float *w,
                                const float *dy, float *dx, float *dw, float *dbias,
                                void *ws);

  /* batch norm over [n, c, hw]. Training comes in halves, so that data-parallel
   * ranks can sum the per-channel statistics in between (synchronised BN):
   * stats are [2c + 1] doubles on the device, two per-channel sums and then the
   * number of values per channel; summed over ranks they describe the global
   * batch. save_* are [c] and feed the backward. */
  /* stats = [sum x, sum x^2, n * hw] (overwritten) */
  dnl_status (*bn_stats)(int n, int c, int hw, const float *x, double *stats);
  /* y = (x - mean) * invstd * gamma + beta with mean and (biased) variance from
   * stats; running statistics updated with the unbiased variance */
  dnl_status (*bn_forward_apply)(int n, int c, int hw, float eps, float momentum,
                                 const double *stats, const float *x, const float *gamma,
                                 const float *beta, float *running_mean, float *running_var,
                                 float *y, float *save_mean, float *save_invstd);
  dnl_status (*bn_forward_eval)(int n, int c, int hw, float eps, const float *x,
                                const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var,
                                float *y); /* x == y allowed */
  /* stats = [sum dy, sum dy * xhat, n * hw] with xhat = (x - mean) * invstd
   * (overwritten); the same sums accumulate into dbeta and dgamma (NULL: skipped) */
  dnl_status (*bn_backward_stats)(int n, int c, int hw, const float *x, const float *dy,
                                  const float *mean, const float *invstd, double *stats,
                                  float *dgamma, float *dbeta);
  /* dx += gamma * invstd * (dy - sum dy / count - xhat * sum(dy xhat) / count) from
   * the backward stats */
  dnl_status (*bn_backward_apply)(int n, int c, int hw, const float *x, const float *gamma,
                                  const float *dy, const float *mean, const float *invstd,
                                  const double *stats, float *dx);

  /* activations and element-wise */
  dnl_status (*relu_forward)(size_t n, const float *x, float *y); /* x == y allowed */
  dnl_status (*relu_backward)(size_t n, const float *y, const float *dy, float *dx);
  /* y[n, c, :] = x[n, c, :] * scale[n * C + c]  (Dropout2d) */
  dnl_status (*channel_scale_forward)(int n, int c, int hw, const float *x,
                                      const float *scale, float *y);
  dnl_status (*channel_scale_backward)(int n, int c, int hw, const float *dy,
                                       const float *scale, float *dx);
  /* dst[:, dst_off + i, :] (+)= src[:, src_off + i, :] for i < count  (concat) */
  dnl_status (*copy_channels)(int n, int hw, const float *src, int src_c, int src_off,
                              float *dst, int dst_c, int dst_off, int count,
                              bool accumulate);

  /* pooling and resizing */
  dnl_status (*maxpool_forward)(const pool_shape *s, const float *x, float *y,
                                int32_t *argmax);
  dnl_status (*maxpool_backward)(const pool_shape *s, const float *dy,
                                 const int32_t *argmax, float *dx);
  dnl_status (*resize_forward)(const resize_shape *s, const float *x, float *y);
  dnl_status (*resize_backward)(const resize_shape *s, const float *dy, float *dx);

  /* softmax over the middle axis of [outer, len, inner] */
  dnl_status (*softmax_forward)(int outer, int len, int inner, const float *x, float *y);
  dnl_status (*softmax_backward)(int outer, int len, int inner, const float *y,
                                 const float *dy, float *dx);

  /* losses. p_gt[n * hw] = softmax probability of the true class, 2.0 at ignored
   * pixels; *n_valid counts the others. */
  dnl_status (*ce_prob_gt)(const ce_shape *s, const float *logits, const int32_t *labels,
                           float *p_gt, size_t *n_valid);
  /* k-th smallest (0-based) of x[0..n) into *out (host); may reorder scratch (n floats). */
  dnl_status (*select_kth)(size_t n, const float *x, size_t k, float *scratch, float *out);
  /* Weighted mean CE over valid pixels (and, when p_gt is given, only those with
   * p_gt < threshold): loss = sum(w_y * l) / sum(w_y), or sum(w_y * l) / count
   * with s->plain_mean; 0 when none. Writes the loss to *loss (host) and
   * accumulates loss_weight * d loss / d logits into dlogits (skipped when NULL).
   * weights [c] or NULL. Labels other than 0..c-1 and ignore_label: DNL_ERR_ARG. */
  dnl_status (*ce_forward_backward)(const ce_shape *s, const float *logits,
                                    const int32_t *labels, const float *weights,
                                    const float *p_gt, float threshold, float loss_weight,
                                    float *loss, float *dlogits);

  /* optimiser: PyTorch SGD (no Nesterov, dampening 0) on a contiguous range */
  dnl_status (*sgd_update)(size_t n, float *w, const float *g, float *momentum_buf,
                           float lr, float momentum, float weight_decay);

  /* context block attention (shape above). Workspace bytes of each kernel's
   * forward or backward (ws may be NULL when 0). reference: materialises the
   * softmax rows attn [n, p, p], kept from the forward for the backward. fused:
   * never stores p x p; lse [n, p] = each row's log-sum-exp of the scaled logits. */
  size_t (*attention_workspace)(const attention_shape *s, bool fused, bool backward);
  dnl_status (*attention_reference_forward)(const attention_shape *s, const float *q,
                                            const float *k, const float *v, float *out,
                                            float *attn);
  dnl_status (*attention_reference_backward)(const attention_shape *s, const float *q,
                                             const float *k, const float *v,
                                             const float *attn, const float *dout, float *dq,
                                             float *dk, float *dv, void *ws);
  dnl_status (*attention_fused_forward)(const attention_shape *s, const float *q,
                                        const float *k, const float *v, float *out,
                                        float *lse, void *ws);
  dnl_status (*attention_fused_backward)(const attention_shape *s, const float *q,
                                         const float *k, const float *v, const float *out,
                                         const float *lse, const float *dout, float *dq,
                                         float *dk, float *dv, void *ws);
  /* y[r, :] = x[r, :] - mean(x[r, :]) over [rows, len] (x == y allowed): the
   * whitening. It is its own adjoint: the backward of y = center(x) is center(dy). */
  dnl_status (*center_rows)(int rows, int len, const float *x, float *y);
  /* z[b, c, :] = gamma[0] * pair[b, c, :] + unary[b * c + c] over [n, c, p] (pair or
   * unary NULL: that term is absent); gamma is a device scalar. */
  dnl_status (*attention_combine_forward)(int n, int c, int p, const float *gamma,
                                          const float *pair, const float *unary, float *z);
  /* dpair += gamma dz, dgamma[0] += sum(dz * pair), dunary[b * c + c] += sum_i dz */
  dnl_status (*attention_combine_backward)(int n, int c, int p, const float *gamma,
                                           const float *pair, const float *dz, float *dpair,
                                           float *dgamma, float *dunary);
  /* group norm over [n, c, hw]: statistics per sample and group of c / groups
   * channels (instance norm: groups = c, layer norm: groups = 1), affine per
   * channel; save_* [n * groups] feed the backward */
  dnl_status (*group_norm_forward)(int n, int c, int hw, int groups, float eps,
                                   const float *x, const float *gamma, const float *beta,
                                   float *y, float *save_mean, float *save_invstd);
  dnl_status (*group_norm_backward)(int n, int c, int hw, int groups, const float *x,
                                    const float *gamma, const float *dy,
                                    const float *save_mean, const float *save_invstd,
                                    float *dx, float *dgamma, float *dbeta);
} dnl_backend;

/* The backend of a device; DNL_ERR_UNSUPPORTED (with the reason) when the build
 * has no CUDA or no GPU is present. */
dnl_status backend_get(dnl_device device, const dnl_backend **out);

/* Allocates zeroed storage for t through the device's backend. */
dnl_status tensor_alloc(tensor *t, dnl_device device, int ndim, const int *shape);
/* Frees storage t owns (a view is left alone). */
void tensor_free(tensor *t);

/* DNL_ERR_UNSUPPORTED naming the first missing op. */
dnl_status backend_check(const dnl_backend *be);

const dnl_backend *cpu_backend(void);
/* Defined in lib/cuda when built with CUDA=1. */
dnl_status cuda_backend_open(const dnl_backend **out);
/* Which visible GPU cuda_backend_open opens: index modulo their count (default
 * 0; data-parallel ranks pass their local rank, lib/dist/dist.c). Call it before the
 * backend opens; a build without CUDA ignores it. */
dnl_status cuda_backend_select_device(int index);

#endif
