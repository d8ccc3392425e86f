#include "lib/layers/batchnorm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dist/dist.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

dnl_status batchnorm_init(batchnorm_layer *l, param_store *ps, const char *name, int channels) {
  memset(l, 0, sizeof *l);
  if (!name || strlen(name) >= sizeof l->name)
    return dnl_error(DNL_ERR_ARG, "batchnorm: missing or too long name");
  if (channels < 1)
    return dnl_error(DNL_ERR_ARG, "batchnorm %s: channels %d < 1", name, channels);
  strcpy(l->name, name);
  l->channels = channels;
  l->eps = BN_EPS;
  l->momentum = BN_MOMENTUM;
  int shape[1] = {channels};
  struct {
    const char *leaf;
    param_kind kind;
    float init;
    tensor *value, *grad;
  } entries[4] = {
      {"weight", PARAM_TRAINABLE, 1.0f, &l->weight, &l->weight_grad},
      {"bias", PARAM_TRAINABLE, 0.0f, &l->bias, &l->bias_grad},
      {"running_mean", PARAM_BUFFER, 0.0f, &l->running_mean, NULL},
      {"running_var", PARAM_BUFFER, 1.0f, &l->running_var, NULL},
  };
  for (int i = 0; i < 4; i++) {
    char pname[PARAM_NAME_MAX];
    DNL_TRY(layer_param_name(pname, sizeof pname, name, entries[i].leaf));
    DNL_TRY(params_add(ps, pname, 1, shape, entries[i].kind,
                       (param_init){PARAM_INIT_CONST, entries[i].init, 0.0f},
                       entries[i].value, entries[i].grad));
  }
  return DNL_OK;
}

static dnl_status check_input(const batchnorm_layer *l, const tensor *x) {
  dnl_status st = tensor_expect(x, "input", 4, -1, l->channels, -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "batchnorm %s", l->name);
  return DNL_OK;
}

/* Statistics buffer of the backend's split ops: [2c + 1] doubles. */
static size_t stats_bytes(int c) { return (2 * (size_t)c + 1) * sizeof(double); }

/* Synchronised BN: with several data-parallel ranks, each rank's statistics
 * (forward: sums of x and x^2; backward: sums of dy and dy * xhat; and the
 * count) become those of the global batch before use. */
static dnl_status sum_over_ranks(const batchnorm_layer *l, layer_ctx *ctx, double *stats) {
  return dist_allreduce_sum_on(ctx->dist, ctx->be, stats, 2 * (size_t)l->channels + 1, DIST_F64,
                               l->name);
}

dnl_status batchnorm_forward_inplace(batchnorm_layer *l, layer_ctx *ctx, tensor *x) {
  DNL_TRY(check_input(l, x));
  if (ctx->training)
    return dnl_error(DNL_ERR_ARG, "batchnorm %s: in place only in eval mode", l->name);
  l->saved_training = false;
  return ctx->be->bn_forward_eval(x->shape[0], l->channels, x->shape[2] * x->shape[3], l->eps,
                                  x->data, l->weight.data, l->bias.data, l->running_mean.data,
                                  l->running_var.data, x->data);
}

dnl_status batchnorm_forward(batchnorm_layer *l, layer_ctx *ctx, const tensor *x, tensor *y) {
  DNL_TRY(check_input(l, x));
  const int n = x->shape[0], c = l->channels, hw = x->shape[2] * x->shape[3];
  DNL_TRY(arena_tensor(ctx->act, y, 4, x->shape));
  l->saved_training = ctx->training;
  if (!ctx->training)
    return ctx->be->bn_forward_eval(n, c, hw, l->eps, x->data, l->weight.data, l->bias.data,
                                    l->running_mean.data, l->running_var.data, y->data);
  /* PyTorch refuses this too: the variance of one value is 0 and the output constant */
  if ((size_t)n * hw < 2)
    return dnl_error(DNL_ERR_SHAPE,
                     "batchnorm %s: training needs more than one value per channel, input "
                     "[%d, %d, %d, %d]",
                     l->name, n, c, x->shape[2], x->shape[3]);
  int cshape[1] = {c};
  DNL_TRY(arena_tensor(ctx->act, &l->save_mean, 1, cshape));
  DNL_TRY(arena_tensor(ctx->act, &l->save_invstd, 1, cshape));
  double *stats;
  DNL_TRY(arena_alloc(ctx->act, stats_bytes(c), (void **)&stats));
  DNL_TRY(ctx->be->bn_stats(n, c, hw, x->data, stats));
  DNL_TRY(sum_over_ranks(l, ctx, stats));
  return ctx->be->bn_forward_apply(n, c, hw, l->eps, l->momentum, stats, x->data,
                                   l->weight.data, l->bias.data, l->running_mean.data,
                                   l->running_var.data, y->data, l->save_mean.data,
                                   l->save_invstd.data);
}

/* Eval mode is a per-channel affine map y = x * gamma * r + (beta - mean * gamma * r)
 * with r = 1 / sqrt(running_var + eps). The backend's backward statistics give
 * dgamma and dbeta when fed the running statistics; dx is dy * gamma * r. */
static dnl_status backward_eval(batchnorm_layer *l, layer_ctx *ctx, const tensor *x,
                                const tensor *dy, tensor *dx) {
  const dnl_backend *be = ctx->be;
  const int n = x->shape[0], c = l->channels, hw = x->shape[2] * x->shape[3];
  float *host = malloc((size_t)c * (size_t)(n + 3) * sizeof(float));
  if (!host)
    return dnl_error(DNL_ERR_NOMEM, "batchnorm %s: host staging for eval backward", l->name);
  float *gamma = host, *var = host + c, *invstd = host + 2 * c, *scale = host + 3 * c;
  dnl_status st = be->memcpy(gamma, DEVICE_CPU, l->weight.data, be->device, c * sizeof(float));
  if (st == DNL_OK)
    st = be->memcpy(var, DEVICE_CPU, l->running_var.data, be->device, c * sizeof(float));
  for (int ch = 0; st == DNL_OK && ch < c; ch++) {
    invstd[ch] = 1.0f / sqrtf(var[ch] + l->eps);
    for (int b = 0; b < n; b++)
      scale[(size_t)b * c + ch] = gamma[ch] * invstd[ch];
  }
  tensor invstd_dev, scale_dev;
  int cshape[1] = {c}, ncshape[1] = {n * c};
  if (st == DNL_OK)
    st = arena_tensor(ctx->act, &invstd_dev, 1, cshape);
  if (st == DNL_OK)
    st = arena_tensor(ctx->act, &scale_dev, 1, ncshape);
  if (st == DNL_OK)
    st = be->memcpy(invstd_dev.data, be->device, invstd, DEVICE_CPU, c * sizeof(float));
  if (st == DNL_OK)
    st = be->memcpy(scale_dev.data, be->device, scale, DEVICE_CPU,
                    (size_t)n * c * sizeof(float));
  free(host);
  DNL_TRY(st);
  double *stats;
  DNL_TRY(arena_alloc(ctx->act, stats_bytes(c), (void **)&stats));
  DNL_TRY(be->bn_backward_stats(n, c, hw, x->data, dy->data, l->running_mean.data,
                                invstd_dev.data, stats, l->weight_grad.data,
                                l->bias_grad.data));
  if (!dx)
    return DNL_OK;
  return be->channel_scale_backward(n, c, hw, dy->data, scale_dev.data, dx->data);
}

dnl_status batchnorm_backward(batchnorm_layer *l, layer_ctx *ctx, const tensor *x,
                              const tensor *dy, tensor *dx) {
  DNL_TRY(check_input(l, x));
  dnl_status st = tensor_expect_same(dy, "output gradient", x, "input");
  if (st == DNL_OK && dx)
    st = tensor_expect_same(dx, "input gradient", x, "input");
  if (st != DNL_OK)
    return dnl_error_context(st, "batchnorm %s", l->name);
  if (!l->saved_training)
    return backward_eval(l, ctx, x, dy, dx);
  if (!l->save_mean.data || l->save_mean.shape[0] != l->channels)
    return dnl_error(DNL_ERR_ARG, "batchnorm %s: backward without a training forward",
                     l->name);
  const dnl_backend *be = ctx->be;
  const int n = x->shape[0], c = l->channels, hw = x->shape[2] * x->shape[3];
  /* the parameter gradients take this rank's sums: the gradient all-reduce adds
   * the other ranks' */
  double *stats;
  DNL_TRY(arena_alloc(ctx->act, stats_bytes(c), (void **)&stats));
  DNL_TRY(be->bn_backward_stats(n, c, hw, x->data, dy->data, l->save_mean.data,
                                l->save_invstd.data, stats, l->weight_grad.data,
                                l->bias_grad.data));
  if (!dx)
    return DNL_OK;
  DNL_TRY(sum_over_ranks(l, ctx, stats));
  return be->bn_backward_apply(n, c, hw, x->data, l->weight.data, dy->data, l->save_mean.data,
                               l->save_invstd.data, stats, dx->data);
}
