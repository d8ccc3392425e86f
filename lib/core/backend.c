#include "lib/core/backend.h"

#include <stdio.h>
#include <string.h>

#define CHECK_OP(op)                                                                  \
  if (!be->op)                                                                        \
    return dnl_error(DNL_ERR_UNSUPPORTED, "backend %s lacks op %s", be->name, #op);

dnl_status backend_check(const dnl_backend *be) {
  if (!be)
    return dnl_error(DNL_ERR_ARG, "backend is NULL");
  CHECK_OP(alloc) CHECK_OP(free) CHECK_OP(memcpy) CHECK_OP(fill) CHECK_OP(synchronize)
  CHECK_OP(host_alloc_pinned) CHECK_OP(host_free_pinned) CHECK_OP(upload_async)
  CHECK_OP(upload_wait) CHECK_OP(memory_usage)
  CHECK_OP(sgemm) CHECK_OP(sgemm_batched) CHECK_OP(axpy) CHECK_OP(scale) CHECK_OP(add)
  CHECK_OP(sum) CHECK_OP(count_nonfinite)
  CHECK_OP(conv2d_workspace) CHECK_OP(conv2d_forward) CHECK_OP(conv2d_backward)
  CHECK_OP(bn_stats) CHECK_OP(bn_forward_apply) CHECK_OP(bn_forward_eval)
  CHECK_OP(bn_backward_stats) CHECK_OP(bn_backward_apply)
  CHECK_OP(relu_forward) CHECK_OP(relu_backward)
  CHECK_OP(channel_scale_forward) CHECK_OP(channel_scale_backward) CHECK_OP(copy_channels)
  CHECK_OP(maxpool_forward) CHECK_OP(maxpool_backward)
  CHECK_OP(resize_forward) CHECK_OP(resize_backward)
  CHECK_OP(softmax_forward) CHECK_OP(softmax_backward)
  CHECK_OP(ce_prob_gt) CHECK_OP(select_kth) CHECK_OP(ce_forward_backward)
  CHECK_OP(sgd_update)
  CHECK_OP(attention_workspace) CHECK_OP(attention_reference_forward)
  CHECK_OP(attention_reference_backward) CHECK_OP(attention_fused_forward)
  CHECK_OP(attention_fused_backward) CHECK_OP(center_rows)
  CHECK_OP(attention_combine_forward) CHECK_OP(attention_combine_backward)
  CHECK_OP(group_norm_forward) CHECK_OP(group_norm_backward)
  return DNL_OK;
}

#ifndef DNL_WITH_CUDA
dnl_status cuda_backend_open(const dnl_backend **out) {
  *out = NULL;
  return dnl_error(DNL_ERR_UNSUPPORTED,
                   "device cuda requested, but this build has no CUDA backend "
                   "(rebuild with make CUDA=1)");
}

dnl_status cuda_backend_select_device(int index) {
  (void)index;
  return DNL_OK;
}
#endif

dnl_status backend_get(dnl_device device, const dnl_backend **out) {
  if (device == DEVICE_CPU) {
    *out = cpu_backend();
    return DNL_OK;
  }
  if (device == DEVICE_CUDA)
    return cuda_backend_open(out);
  return dnl_error(DNL_ERR_ARG, "unknown device %d", (int)device);
}

dnl_status conv2d_shape_init(conv2d_shape *s, int n, int cin, int h, int w, int cout,
                             int k, int stride, int pad, int dilation) {
  if (n < 1 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
      dilation < 1)
    return dnl_error(DNL_ERR_ARG,
                     "conv2d: invalid geometry n=%d cin=%d h=%d w=%d cout=%d k=%d stride=%d "
                     "pad=%d dilation=%d",
                     n, cin, h, w, cout, k, stride, pad, dilation);
  int span = dilation * (k - 1) + 1;
  int oh = (h + 2 * pad - span) / stride + 1;
  int ow = (w + 2 * pad - span) / stride + 1;
  if (h + 2 * pad < span || w + 2 * pad < span)
    return dnl_error(DNL_ERR_SHAPE,
                     "conv2d: input %dx%d with pad %d is smaller than the kernel span %d", h,
                     w, pad, span);
  *s = (conv2d_shape){.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                      .stride = stride, .pad = pad, .dilation = dilation, .oh = oh, .ow = ow};
  return DNL_OK;
}

static int pool_out(int len, int k, int stride, int pad, bool ceil_mode) {
  int num = len + 2 * pad - k + (ceil_mode ? stride - 1 : 0);
  int out = num / stride + 1;
  /* PyTorch: the last window must start inside the input or left padding */
  if (ceil_mode && (out - 1) * stride >= len + pad)
    out--;
  return out;
}

dnl_status pool_shape_init(pool_shape *s, int n, int c, int h, int w, int k, int stride,
                           int pad, bool ceil_mode) {
  if (n < 1 || c < 1 || h < 1 || w < 1 || k < 1 || stride < 1 || pad < 0 || 2 * pad > k)
    return dnl_error(DNL_ERR_ARG,
                     "maxpool: invalid geometry n=%d c=%d h=%d w=%d k=%d stride=%d pad=%d", n,
                     c, h, w, k, stride, pad);
  if (h + 2 * pad < k || w + 2 * pad < k)
    return dnl_error(DNL_ERR_SHAPE, "maxpool: input %dx%d smaller than kernel %d", h, w, k);
  *s = (pool_shape){.n = n, .c = c, .h = h, .w = w, .k = k, .stride = stride, .pad = pad,
                    .ceil_mode = ceil_mode};
  s->oh = pool_out(h, k, stride, pad, ceil_mode);
  s->ow = pool_out(w, k, stride, pad, ceil_mode);
  return DNL_OK;
}

dnl_status tensor_alloc(tensor *t, dnl_device device, int ndim, const int *shape) {
  memset(t, 0, sizeof *t);
  DNL_TRY(tensor_set_shape(t, ndim, shape));
  const dnl_backend *be;
  DNL_TRY(backend_get(device, &be));
  size_t bytes = tensor_numel(t) * sizeof(float);
  void *p = NULL;
  DNL_TRY(be->alloc(bytes ? bytes : sizeof(float), &p));
  DNL_TRY(be->fill(p, tensor_numel(t), 0.0f));
  t->data = p;
  t->device = device;
  t->owner = true;
  return DNL_OK;
}

void tensor_free(tensor *t) {
  if (t->owner && t->data) {
    const dnl_backend *be;
    if (backend_get(t->device, &be) == DNL_OK)
      be->free(t->data);
  }
  t->data = NULL;
  t->owner = false;
}
