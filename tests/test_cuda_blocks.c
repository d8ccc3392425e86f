/* Whole context blocks on the CUDA backend against the CPU backend, with the
 * same parameters and inputs: the initial values (params_init_values), forward,
 * backward (input and parameter gradients), attention maps, term sizes and an
 * SGD step with the block's lr_mult. dnl_shared runs entirely on the backend's
 * generic ops (batched GEMM, fill, softmax), so this is its CUDA check. Skipped
 * without a GPU (tests/test_device.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/block.h"
#include "tests/test_device.h"
#include "tests/test_util.h"

enum { N = 2, C = 16, H = 7, W = 9, P = H * W, NX = N * C * P, NQ = 3 };

typedef struct side {
  const dnl_backend *be;
  param_store ps;
  arena act;
  layer_ctx ctx;
  const block_ops *ops;
  block *b;
} side;

static void side_open(side *s, const dnl_backend *be, const block_config *cfg) {
  memset(s, 0, sizeof *s);
  s->be = be;
  params_init(&s->ps);
  TRY_OK(arena_init(&s->act, be, 1 << 20));
  layer_ctx_init(&s->ctx, be, &s->act, NULL);
  s->ctx.training = true;
  s->ops = block_find(cfg->variant);
  cr_assert(s->ops, "variant %s", cfg->variant);
  TRY_OK(s->ops->create(cfg, &s->ps, "blk", &s->b));
  TRY_OK(params_finalize(&s->ps, be));
  TRY_OK(params_init_values(&s->ps, 7));
}

static void side_close(side *s) {
  s->ops->destroy(s->b);
  layer_ctx_free(&s->ctx);
  arena_free(&s->act);
  params_free(&s->ps);
}

static double max_abs(const float *x, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)x[i]));
  return m;
}

/* Per parameter: within 1e-3 of the larger of its own largest CPU value and
 * 1e-3 of the largest over all (gradients that are 0 up to rounding on both
 * sides differ by rounding only). */
static void expect_params(const param_store *ps, const float *gpu, const float *cpu,
                          const char *what, const char *config) {
  const double all = max_abs(cpu, ps->total);
  for (int i = 0; i < ps->count; i++) {
    const param_entry *e = &ps->entries[i];
    const double scale = fmax(max_abs(cpu + e->offset, e->numel), 1e-3 * all);
    char label[160];
    snprintf(label, sizeof label, "%s: %s %s", config, what, e->name);
    ASSERT_CLOSE(gpu + e->offset, cpu + e->offset, e->numel, 1e-3 * scale, 1e-3, label);
  }
}

static void check_config(const dnl_backend *g, const char *options) {
  block_config cfg = block_config_defaults();
  cfg.channels = C;
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", options);
  for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(tok, '=');
    *eq = '\0';
    TRY_OK(block_config_set(&cfg, tok, eq + 1));
  }
  side cpu, gpu;
  side_open(&cpu, cpu_backend(), &cfg);
  side_open(&gpu, g, &cfg);
  const size_t bytes = cpu.ps.total * sizeof(float);
  float *host = test_download_new(g, gpu.ps.values, bytes);
  cr_assert(memcmp(host, cpu.ps.values, bytes) == 0, "%s: initial values differ", options);
  free(host);

  /* random parameters (gamma nonzero, norm weights near 1) on both sides */
  rng r;
  rng_seed(&r, 3);
  test_fill_randn(&r, cpu.ps.values, cpu.ps.total, 0.4f);
  for (int i = 0; i < cpu.ps.count; i++) {
    param_entry *e = &cpu.ps.entries[i];
    if (strstr(e->name, ".gamma"))
      e->value->data[0] = 0.8f;
    if (strstr(e->name, "out_norm.weight") || strstr(e->name, "out_norm.running_var"))
      for (size_t j = 0; j < e->numel; j++)
        e->value->data[j] = 1.0f + fabsf(e->value->data[j]);
  }
  TRY_OK(g->memcpy(gpu.ps.values, g->device, cpu.ps.values, DEVICE_CPU, bytes));

  float *hx = malloc(NX * sizeof(float)), *hdy = malloc(NX * sizeof(float));
  cr_assert(hx && hdy);
  test_fill_randn(&r, hx, NX, 1.0f);
  test_fill_randn(&r, hdy, NX, 1.0f);
  tensor x[2], dy[2], dx[2], y[2];
  side *sides[2] = {&cpu, &gpu};
  for (int k = 0; k < 2; k++) {
    const dnl_backend *be = sides[k]->be;
    float *dxd = k ? test_device_zeros(be, NX * sizeof(float)) : calloc(NX, sizeof(float));
    x[k] = tensor_view4(k ? test_upload(be, hx, NX * sizeof(float)) : hx, be->device, N, C, H, W);
    dy[k] =
        tensor_view4(k ? test_upload(be, hdy, NX * sizeof(float)) : hdy, be->device, N, C, H, W);
    dx[k] = tensor_view4(dxd, be->device, N, C, H, W);
    TRY_OK(sides[k]->ops->forward(sides[k]->b, &sides[k]->ctx, &x[k], &y[k]));
    TRY_OK(params_zero_grad(&sides[k]->ps));
    TRY_OK(sides[k]->ops->backward(sides[k]->b, &sides[k]->ctx, &x[k], &dy[k], &dx[k]));
  }
  char what[320];
  float *got = test_download_new(g, y[1].data, NX * sizeof(float));
  snprintf(what, sizeof what, "%s: y", options);
  ASSERT_CLOSE(got, y[0].data, NX, 1e-4 * max_abs(y[0].data, NX), 1e-4, what);
  free(got);
  got = test_download_new(g, dx[1].data, NX * sizeof(float));
  snprintf(what, sizeof what, "%s: dx", options);
  ASSERT_CLOSE(got, dx[0].data, NX, 1e-3 * max_abs(dx[0].data, NX), 1e-3, what);
  free(got);
  got = test_download_new(g, gpu.ps.grads, bytes);
  expect_params(&cpu.ps, got, cpu.ps.grads, "gradient", options);
  free(got);

  const int queries[NQ] = {0, 31, 62};
  float pair[2][NQ * P], un[2][P];
  block_term_sizes t[2][N];
  for (int k = 0; k < 2; k++) {
    const block_ops *ops = sides[k]->ops;
    TRY_OK(ops->attention(sides[k]->b, &sides[k]->ctx, &x[k], 1, queries, NQ,
                          ops->has_pairwise ? pair[k] : NULL, ops->has_unary ? un[k] : NULL));
    TRY_OK(ops->term_sizes(sides[k]->b, &sides[k]->ctx, &x[k], t[k]));
  }
  snprintf(what, sizeof what, "%s: attention maps", options);
  if (cpu.ops->has_pairwise)
    ASSERT_CLOSE(pair[1], pair[0], NQ * P, 1e-5, 1e-3, what);
  if (cpu.ops->has_unary)
    ASSERT_CLOSE(un[1], un[0], P, 1e-5, 1e-3, what);
  for (int i = 0; i < N; i++) {
    const float a[3] = {t[0][i].gamma, t[0][i].pairwise, t[0][i].unary};
    const float b[3] = {t[1][i].gamma, t[1][i].pairwise, t[1][i].unary};
    for (int j = 0; j < 3; j++)
      cr_assert(isnan(a[j]) ? isnan(b[j]) : fabsf(a[j] - b[j]) <= 1e-4f * fabsf(a[j]) + 1e-7f,
                "%s: term size %d of sample %d: CUDA %g, CPU %g", options, j, i, (double)b[j],
                (double)a[j]);
  }

  /* one step with the block's lr_mult on both sides */
  for (int k = 0; k < 2; k++)
    TRY_OK(params_sgd_step(&sides[k]->ps, 0.1f, 0.9f, 1e-3f));
  got = test_download_new(g, gpu.ps.values, bytes);
  expect_params(&cpu.ps, got, cpu.ps.values, "value after a step", options);
  free(got);

  g->free(x[1].data), g->free(dy[1].data), g->free(dx[1].data);
  free(hx), free(hdy), free(dx[0].data);
  side_close(&cpu);
  side_close(&gpu);
}

Test(cuda_blocks, every_variant_matches_cpu) {
  const dnl_backend *g = test_cuda_or_skip();
  static const char *const configs[] = {
      "variant=nl fused=false",
      "variant=pairwise whiten=ln",
      "variant=unary out_conv=true",
      "variant=dnl",
      "variant=dnl_shared",
      "variant=dnl_shared whiten=ln scale=off out_conv=true out_norm=bn",
      "variant=dnl_shared fused=false lr_mult=3 qk_tied=true v_init_kaiming=true",
  };
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
    check_config(g, configs[i]);
}
