/* 2-D convolution through cuDNN's convolution API (NCHW float, weights
 * [cout, cin, kh, kw], cross-correlation as in PyTorch).
 *
 * Each distinct conv2d_shape gets a plan, made once and kept for the life of
 * the process in a small hash table: its tensor, filter and convolution
 * descriptors and one algorithm for each of forward, backward data and
 * backward filter. The algorithms come from cuDNN's heuristics
 * (cudnnGet*Algorithm_v7), the first in its order of expected speed that is
 * supported and needs at most WORKSPACE_LIMIT bytes; no trial runs, so making a
 * plan needs no device memory and picks the same algorithms run after run.
 * conv2d_workspace() is the largest of the three workspaces.
 *
 * Math: TF32 tensor cores by default (as PyTorch's allow_tf32 for cuDNN);
 * DNL_CUDA_TF32=0 in the environment restricts cuDNN to FP32 FMA kernels. The
 * variable is read once, when the first plan is made.
 *
 * Backward accumulates (beta = 1) into dx, dw and dbias and skips NULL ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

#define WORKSPACE_LIMIT ((size_t)1 << 30) /* bytes per algorithm */

typedef struct conv_plan {
  conv2d_shape shape;
  cudnnTensorDescriptor_t x, y, bias; /* [n,cin,h,w], [n,cout,oh,ow], [1,cout,1,1] */
  cudnnFilterDescriptor_t w;          /* [cout, cin, kh, kw] */
  /* one convolution descriptor per direction: each carries the math type of
   * its algorithm */
  cudnnConvolutionDescriptor_t fwd, bwd_data, bwd_filter;
  cudnnConvolutionFwdAlgo_t fwd_algo;
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo;
  size_t fwd_bytes, bwd_data_bytes, bwd_filter_bytes;
} conv_plan;

/* ---- math type ---- */

static bool tf32_read, tf32_on;

static dnl_status read_tf32_setting(void) {
  if (tf32_read)
    return DNL_OK;
  const char *v = getenv("DNL_CUDA_TF32");
  if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
    return dnl_error(DNL_ERR_ARG,
                     "DNL_CUDA_TF32=%s: expected 0 (exact FP32 convolutions) or 1 "
                     "(TF32 tensor cores, the default)",
                     v);
  tf32_on = !(v && strcmp(v, "0") == 0);
  tf32_read = true;
  return DNL_OK;
}

/* The math type to run a heuristic result with, or false when the setting
 * rules it out: TF32 runs each result under its own math type, but never one
 * that converts FP32 data to FP16; without TF32 only results that use no
 * tensor cores qualify, and they run under FMA math. */
static bool usable_math(cudnnMathType_t result, cudnnMathType_t *run_as) {
  if (result == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
    return false;
  if (tf32_on) {
    *run_as = result;
    return true;
  }
  *run_as = CUDNN_FMA_MATH;
  return result != CUDNN_TENSOR_OP_MATH;
}

/* ---- the plan table: open addressing on the shape, grown at half load ---- */

static conv_plan **table;
static size_t table_cap; /* power of two, or 0 */
static size_t table_used;

static bool same_shape(const conv2d_shape *a, const conv2d_shape *b) {
  return a->n == b->n && a->cin == b->cin && a->h == b->h && a->w == b->w && a->cout == b->cout &&
         a->kh == b->kh && a->kw == b->kw && a->stride == b->stride && a->pad == b->pad &&
         a->dilation == b->dilation;
}

static size_t shape_hash(const conv2d_shape *s) {
  const int f[10] = {s->n,  s->cin, s->h,      s->w,   s->cout,
                     s->kh, s->kw,  s->stride, s->pad, s->dilation};
  uint64_t h = 1469598103934665603ull; /* FNV-1a over the fields */
  for (int i = 0; i < 10; i++) {
    h ^= (uint32_t)f[i];
    h *= 1099511628211ull;
  }
  return (size_t)h;
}

static conv_plan *table_find(const conv2d_shape *s) {
  if (table_cap == 0)
    return NULL;
  for (size_t i = shape_hash(s) & (table_cap - 1);; i = (i + 1) & (table_cap - 1)) {
    if (!table[i])
      return NULL;
    if (same_shape(&table[i]->shape, s))
      return table[i];
  }
}

static void table_place(conv_plan **slots, size_t cap, conv_plan *p) {
  size_t i = shape_hash(&p->shape) & (cap - 1);
  while (slots[i])
    i = (i + 1) & (cap - 1);
  slots[i] = p;
}

static dnl_status table_insert(conv_plan *p) {
  if (2 * (table_used + 1) > table_cap) {
    const size_t cap = table_cap ? 2 * table_cap : 64;
    conv_plan **slots = (conv_plan **)calloc(cap, sizeof *slots);
    if (!slots)
      return dnl_error(DNL_ERR_NOMEM, "cuda conv2d: no memory for %zu plan slots", cap);
    for (size_t i = 0; i < table_cap; i++)
      if (table[i])
        table_place(slots, cap, table[i]);
    free(table);
    table = slots;
    table_cap = cap;
  }
  table_place(table, table_cap, p);
  table_used++;
  return DNL_OK;
}

/* ---- making a plan ---- */

static void describe(const conv2d_shape *s, char *buf, size_t len) {
  snprintf(buf, len,
           "input [%d, %d, %d, %d], %d output channels, kernel %dx%d, stride %d, pad %d, "
           "dilation %d",
           s->n, s->cin, s->h, s->w, s->cout, s->kh, s->kw, s->stride, s->pad, s->dilation);
}

static dnl_status no_algorithm(const conv2d_shape *s, const char *direction, const char *why) {
  char d[256];
  describe(s, d, sizeof d);
  return dnl_error(DNL_ERR_UNSUPPORTED,
                   "cuDNN has no supported algorithm for conv shape %s (%s, %s math: %s)", d,
                   direction, tf32_on ? "TF32" : "FP32 (DNL_CUDA_TF32=0)", why);
}

static void plan_destroy(conv_plan *p) {
  if (!p)
    return;
  /* the destroy calls accept NULL descriptors; failures here leave nothing to undo */
  cudnnDestroyTensorDescriptor(p->x);
  cudnnDestroyTensorDescriptor(p->y);
  cudnnDestroyTensorDescriptor(p->bias);
  cudnnDestroyFilterDescriptor(p->w);
  cudnnDestroyConvolutionDescriptor(p->fwd);
  cudnnDestroyConvolutionDescriptor(p->bwd_data);
  cudnnDestroyConvolutionDescriptor(p->bwd_filter);
  free(p);
}

static dnl_status set_descriptors(conv_plan *p) {
  const conv2d_shape *s = &p->shape;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->bias));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->cin,
                                         s->h, s->w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->cout,
                                         s->oh, s->ow));
  CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s->cout, 1, 1));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->cout, s->cin,
                                         s->kh, s->kw));
  cudnnConvolutionDescriptor_t *convs[3] = {&p->fwd, &p->bwd_data, &p->bwd_filter};
  for (int i = 0; i < 3; i++) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(convs[i]));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(*convs[i], s->pad, s->pad, s->stride, s->stride,
                                                s->dilation, s->dilation, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    CUDNN_CHECK(
        cudnnSetConvolutionMathType(*convs[i], tf32_on ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  /* cuDNN must agree with conv2d_shape_init on the output size */
  int on, oc, oh, ow;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->fwd, p->x, p->w, &on, &oc, &oh, &ow));
  if (on != s->n || oc != s->cout || oh != s->oh || ow != s->ow)
    return dnl_error(DNL_ERR_INTERNAL,
                     "cuda conv2d: cuDNN computes output [%d, %d, %d, %d], the shape says "
                     "[%d, %d, %d, %d]",
                     on, oc, oh, ow, s->n, s->cout, s->oh, s->ow);
  return DNL_OK;
}

/* The three searches share their shape: ask the heuristics (get_algos), walk
 * the results in order and keep the first that is supported, allowed by the
 * math setting and within the workspace limit (get_ws), its math type set on
 * conv. Perf is cuDNN's result struct of the direction, N its algorithm count. */
template <typename Perf, int N, typename Algo, typename GetAlgos, typename GetWs>
static dnl_status choose(const conv_plan *p, cudnnConvolutionDescriptor_t conv, GetAlgos get_algos,
                         GetWs get_ws, const char *direction, Algo *algo, size_t *bytes) {
  Perf perf[N];
  int returned = 0;
  const cudnnStatus_t st = get_algos(N, &returned, perf);
  if (st != CUDNN_STATUS_SUCCESS)
    return no_algorithm(&p->shape, direction, cudnnGetErrorString(st));
  for (int i = 0; i < returned; i++) {
    cudnnMathType_t math;
    if (perf[i].status != CUDNN_STATUS_SUCCESS || !usable_math(perf[i].mathType, &math))
      continue;
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv, math));
    size_t need = 0;
    if (get_ws(perf[i].algo, &need) != CUDNN_STATUS_SUCCESS || need > WORKSPACE_LIMIT)
      continue;
    *algo = perf[i].algo;
    *bytes = need;
    return DNL_OK;
  }
  char why[128];
  snprintf(why, sizeof why,
           "none of its %d candidates is supported, allowed by the math setting and within "
           "%zu MiB of workspace",
           returned, WORKSPACE_LIMIT >> 20);
  return no_algorithm(&p->shape, direction, why);
}

static dnl_status choose_algorithms(conv_plan *p) {
  cudnnHandle_t h = cuda_cudnn_handle();
  DNL_TRY((choose<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
      p, p->fwd,
      [&](int n, int *returned, cudnnConvolutionFwdAlgoPerf_t *perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, p->x, p->w, p->fwd, p->y, n, returned,
                                                      perf);
      },
      [&](cudnnConvolutionFwdAlgo_t algo, size_t *need) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->fwd, p->y, algo, need);
      },
      "forward", &p->fwd_algo, &p->fwd_bytes)));
  DNL_TRY((choose<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
      p, p->bwd_data,
      [&](int n, int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->w, p->y, p->bwd_data, p->x, n,
                                                           returned, perf);
      },
      [&](cudnnConvolutionBwdDataAlgo_t algo, size_t *need) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->bwd_data, p->x, algo,
                                                            need);
      },
      "backward data", &p->bwd_data_algo, &p->bwd_data_bytes)));
  DNL_TRY((choose<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
      p, p->bwd_filter,
      [&](int n, int *returned, cudnnConvolutionBwdFilterAlgoPerf_t *perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->x, p->y, p->bwd_filter, p->w, n,
                                                             returned, perf);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t *need) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->bwd_filter, p->w,
                                                              algo, need);
      },
      "backward filter", &p->bwd_filter_algo, &p->bwd_filter_bytes)));
  return DNL_OK;
}

static dnl_status plan_make(const conv2d_shape *s, conv_plan **out) {
  DNL_TRY(read_tf32_setting());
  conv_plan *p = (conv_plan *)calloc(1, sizeof *p);
  if (!p)
    return dnl_error(DNL_ERR_NOMEM, "cuda conv2d: no memory for a plan");
  p->shape = *s;
  dnl_status st = set_descriptors(p);
  if (st == DNL_OK)
    st = choose_algorithms(p);
  if (st == DNL_OK)
    st = table_insert(p);
  if (st != DNL_OK) {
    plan_destroy(p);
    if (st == DNL_ERR_UNSUPPORTED) /* no_algorithm() already names the shape */
      return st;
    char d[256];
    describe(s, d, sizeof d);
    return dnl_error_context(st, "cuda conv2d, %s", d);
  }
  *out = p;
  return DNL_OK;
}

/* The plan of a shape, made on first use. Failures are not kept: the next
 * call with the shape tries again and reports again. */
static dnl_status plan_get(const conv2d_shape *s, const conv_plan **out) {
  conv_plan *p = table_find(s);
  if (!p)
    DNL_TRY(plan_make(s, &p));
  *out = p;
  return DNL_OK;
}

/* ---- the ops ---- */

static size_t max3(size_t a, size_t b, size_t c) {
  const size_t ab = a > b ? a : b;
  return ab > c ? ab : c;
}

size_t cuda_conv2d_workspace(const conv2d_shape *s) {
  const conv_plan *p;
  /* no way to fail here: a shape without a plan reports its error from the op,
   * which tries again */
  if (plan_get(s, &p) != DNL_OK)
    return 0;
  return max3(p->fwd_bytes, p->bwd_data_bytes, p->bwd_filter_bytes);
}

/* A cuDNN call of an op that failed on plan p, in one line naming the shape,
 * the direction and its algorithm: out of device memory (with the free
 * memory), a shape cuDNN does not support after all, or another failure. */
static dnl_status run_failed(const conv_plan *p, const char *direction, int algo,
                             cudnnStatus_t st) {
  char d[256], what[400];
  describe(&p->shape, d, sizeof d);
  snprintf(what, sizeof what, "cuDNN conv2d %s (algorithm %d) for %s", direction, algo, d);
  if (st == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    return cuda_oom_error(what, 0, cudnnGetErrorString(st));
  const bool unsupported = st >= CUDNN_STATUS_NOT_SUPPORTED && st < CUDNN_STATUS_INTERNAL_ERROR;
  return dnl_error(unsupported ? DNL_ERR_UNSUPPORTED : DNL_ERR_INTERNAL, "%s failed (%s math): %s",
                   what, tf32_on ? "TF32" : "FP32 (DNL_CUDA_TF32=0)", cudnnGetErrorString(st));
}

dnl_status cuda_conv2d_forward(const conv2d_shape *s, const float *x, const float *w,
                               const float *bias, float *y, void *ws) {
  const conv_plan *p;
  DNL_TRY(plan_get(s, &p));
  cudnnHandle_t h = cuda_cudnn_handle();
  const float one = 1.0f, zero = 0.0f;
  cudnnStatus_t st = cudnnConvolutionForward(h, &one, p->x, x, p->w, w, p->fwd, p->fwd_algo, ws,
                                             p->fwd_bytes, &zero, p->y, y);
  if (st != CUDNN_STATUS_SUCCESS)
    return run_failed(p, "forward", (int)p->fwd_algo, st);
  if (bias)
    CUDNN_CHECK(cudnnAddTensor(h, &one, p->bias, bias, &one, p->y, y));
  return DNL_OK;
}

dnl_status cuda_conv2d_backward(const conv2d_shape *s, const float *x, const float *w,
                                const float *dy, float *dx, float *dw, float *dbias, void *ws) {
  const conv_plan *p;
  DNL_TRY(plan_get(s, &p));
  cudnnHandle_t h = cuda_cudnn_handle();
  const float one = 1.0f;
  cudnnStatus_t st;
  if (dx) {
    st = cudnnConvolutionBackwardData(h, &one, p->w, w, p->y, dy, p->bwd_data, p->bwd_data_algo, ws,
                                      p->bwd_data_bytes, &one, p->x, dx);
    if (st != CUDNN_STATUS_SUCCESS)
      return run_failed(p, "backward data", (int)p->bwd_data_algo, st);
  }
  if (dw) {
    st =
        cudnnConvolutionBackwardFilter(h, &one, p->x, x, p->y, dy, p->bwd_filter,
                                       p->bwd_filter_algo, ws, p->bwd_filter_bytes, &one, p->w, dw);
    if (st != CUDNN_STATUS_SUCCESS)
      return run_failed(p, "backward filter", (int)p->bwd_filter_algo, st);
  }
  if (dbias)
    CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, p->y, dy, &one, p->bias, dbias));
  return DNL_OK;
}
