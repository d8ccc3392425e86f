/* Context blocks: finite-difference gradients of every variant and option,
 * fused == reference, PyTorch values of every preset (tests/fixtures/blocks.h5
 * from tests/reference/make_block_fixtures.py), parameters and weight decay
 * flags, option validation, presets, attention maps. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "blocks/block.h"
#include "tests/test_util.h"

/* A config from "key=value key=value" on top of the defaults. */
static block_config config_of(const char *options, int channels) {
  block_config c = block_config_defaults();
  c.channels = channels;
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", options);
  for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(tok, '=');
    cr_assert(eq, "bad option text %s", tok);
    *eq = '\0';
    TRY_OK(block_config_set(&c, tok, eq + 1));
  }
  return c;
}

typedef struct blk {
  test_env env;
  const block_ops *ops;
  block *b;
} blk;

static void blk_create(blk *k, const block_config *cfg, uint64_t seed) {
  test_env_init(&k->env, seed);
  k->ops = block_find(cfg->variant);
  cr_assert(k->ops, "variant %s", cfg->variant);
  TRY_OK(k->ops->validate(cfg));
  TRY_OK(k->ops->create(cfg, &k->env.ps, "blk", &k->b));
}

static void blk_free(blk *k) {
  k->ops->destroy(k->b);
  test_env_free(&k->env);
}

/* Random parameters, gamma set by hand to a nonzero value, norm weights near 1. */
static void blk_random_params(blk *k) {
  test_env_finalize(&k->env, 0.4f);
  for (int i = 0; i < k->env.ps.count; i++) {
    param_entry *e = &k->env.ps.entries[i];
    if (strstr(e->name, ".gamma"))
      e->value->data[0] = 0.8f;
    if (strstr(e->name, "out_norm.weight"))
      for (size_t j = 0; j < e->numel; j++)
        e->value->data[j] += 1.0f;
  }
}

typedef struct blk_problem {
  blk *k;
  tensor *x, *dx;
} blk_problem;

static dnl_status blk_fwd(void *user, tensor *y) {
  blk_problem *p = user;
  arena_reset(&p->k->env.act);
  return p->k->ops->forward(p->k->b, &p->k->env.ctx, p->x, y);
}

static dnl_status blk_bwd(void *user, const tensor *dy) {
  blk_problem *p = user;
  return p->k->ops->backward(p->k->b, &p->k->env.ctx, p->x, dy, p->dx);
}

static const char *const grad_configs[] = {
    "variant=nl",
    "variant=nl scale=off",
    "variant=nl temperature=0.5 out_conv=true fused=false",
    "variant=pairwise",
    "variant=pairwise whiten=ln",
    "variant=pairwise whiten=ln fused=false nowd=true",
    "variant=unary",
    "variant=unary out_conv=true",
    "variant=unary out_norm=in",
    "variant=dnl",
    "variant=dnl whiten=ln",
    "variant=dnl whiten=none scale=off nowd=true",
    "variant=dnl fused=false",
    "variant=dnl temperature=0.3",
    "variant=dnl out_conv=true out_norm=bn",
    "variant=dnl out_norm=ln",
    "variant=dnl whiten=ln out_norm=in",
    "variant=dnl out_conv=true out_norm=ln fused=false",
    "variant=dnl out_norm=bn fused=false",
    "variant=dnl_shared",
    "variant=dnl_shared whiten=ln",
    "variant=dnl_shared temperature=0.3 fused=false nowd=true",
    "variant=dnl_shared scale=off out_conv=true out_norm=bn",
    "variant=dnl_shared whiten=ln scale=off out_norm=in",
};

Test(blocks, gradients_every_variant_and_option) {
  for (size_t c = 0; c < sizeof grad_configs / sizeof grad_configs[0]; c++) {
    const block_config cfg = config_of(grad_configs[c], 6);
    blk k;
    blk_create(&k, &cfg, 60 + c);
    blk_random_params(&k);
    tensor x = test_randn4(&k.env.r, 2, 6, 3, 5, 1.0f), dx;
    TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
    gradcheck_var vars[16] = {{"x", &x, &dx}};
    int nv = 1;
    for (int i = 0; i < k.env.ps.count; i++) {
      param_entry *e = &k.env.ps.entries[i];
      if (e->kind != PARAM_BUFFER)
        vars[nv++] = (gradcheck_var){e->name, e->value, e->grad};
    }
    blk_problem p = {&k, &x, &dx};
    gradcheck_problem gp = {&p, blk_fwd, blk_bwd};
    /* eps 5e-3: at the default 1e-2 the truncation error of the central
     * difference through out_norm = bn exceeds the tolerance on some draws */
    gradcheck(grad_configs[c], &gp, vars, nv, (gradcheck_opts){.seed = c + 1, .eps = 5e-3});
    tensor_free(&x), tensor_free(&dx);
    blk_free(&k);
  }
}

static double max_abs(const float *x, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)x[i]));
  return m;
}

/* The whole block with either kernel: P = 143 spans two query tiles. */
Test(blocks, fused_block_matches_reference_block) {
  float *saved[2][20];
  size_t sizes[20];
  int count = 0;
  rng r;
  for (int fused = 0; fused < 2; fused++) {
    /* whitening ln: with in, the query bias gradient is 0 up to rounding too */
    block_config cfg = config_of("variant=dnl whiten=ln out_conv=true out_norm=ln", 8);
    cfg.fused = fused;
    blk k;
    blk_create(&k, &cfg, 5);
    blk_random_params(&k);
    rng_seed(&r, 77);
    tensor x = test_randn4(&r, 2, 8, 11, 13, 1.0f), dx, y;
    tensor dy = test_randn4(&r, 2, 8, 11, 13, 1.0f);
    TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
    TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
    TRY_OK(k.ops->backward(k.b, &k.env.ctx, &x, &dy, &dx));
    int n = 0;
    const tensor *outs[2] = {&y, &dx};
    for (int i = 0; i < 2 + k.env.ps.count; i++) {
      const tensor *t = i < 2 ? outs[i] : k.env.ps.entries[i - 2].grad;
      if (!t)
        continue;
      sizes[n] = tensor_numel(t);
      saved[fused][n] = malloc(sizes[n] * sizeof(float));
      memcpy(saved[fused][n], t->data, sizes[n] * sizeof(float));
      n++;
    }
    count = n;
    tensor_free(&x), tensor_free(&dx), tensor_free(&dy);
    blk_free(&k);
  }
  double largest = 0.0;
  for (int i = 0; i < count; i++)
    largest = fmax(largest, max_abs(saved[0][i], sizes[i]));
  for (int i = 0; i < count; i++) {
    /* the second term covers the key bias gradient, 0 up to rounding (softmax
     * over keys ignores a constant per query): its rounding noise scales with
     * the other gradients (1.4e-5 seen when they reach 90) */
    const double tol = 1e-5 * fmax(max_abs(saved[0][i], sizes[i]), 1.0) + 5e-7 * largest;
    char what[48];
    snprintf(what, sizeof what, "output %d (y, dx, grads)", i);
    ASSERT_CLOSE(saved[1][i], saved[0][i], sizes[i], tol, 1e-5, what);
    free(saved[0][i]), free(saved[1][i]);
  }
}

typedef struct fixture_case {
  const char *group;
  const char *preset; /* NULL: options */
  const char *dataset;
  const char *options;
} fixture_case;

/* keep in step with CASES in tests/reference/make_block_fixtures.py */
static const fixture_case fixture_cases[] = {
    {"preset_dnl_nowd_in", "dnl_nowd_in", "cityscapes", NULL},
    {"preset_dnl_nowd_in_published", "dnl_nowd_in_published", "cityscapes", NULL},
    {"preset_dnl_nowd_ln", "dnl_nowd_ln", "pascal_context", NULL},
    {"preset_dnl_temp_in_cityscapes", "dnl_temp_in", "cityscapes", NULL},
    {"preset_dnl_temp_in_ade20k", "dnl_temp_in", "ade20k", NULL},
    {"preset_nl_published", "nl_published", NULL, NULL},
    {"pairwise_ln", NULL, NULL, "variant=pairwise whiten=ln"},
    {"unary_out_conv_ln", NULL, NULL, "variant=unary out_conv=true out_norm=ln"},
    {"dnl_out_conv_bn", NULL, NULL, "variant=dnl out_conv=true out_norm=bn"},
    {"dnl_out_norm_in", NULL, NULL, "variant=dnl whiten=ln scale=off out_norm=in"},
    {"dnl_shared_in", NULL, NULL, "variant=dnl_shared"},
    {"dnl_shared_temp", NULL, NULL, "variant=dnl_shared temperature=0.06"},
    {"dnl_shared_ln_out_conv_bn", NULL, NULL,
     "variant=dnl_shared whiten=ln scale=off out_conv=true out_norm=bn"},
};

enum { FN = 2, FC = 8, FH = 5, FW = 7, FP = FH * FW, FX = FN * FC * FP };

static void assert_fixture(const char *group, const char *leaf, const float *got, size_t n) {
  char ds[128];
  snprintf(ds, sizeof ds, "%s/%s", group, leaf);
  h5io_array a = fixture_floats("blocks.h5", ds, n);
  const double atol = 2e-5 * fmax(1.0, max_abs(a.data, n));
  char what[160];
  snprintf(what, sizeof what, "%s: %s", group, leaf);
  ASSERT_CLOSE(got, (const float *)a.data, n, atol, 1e-4, what);
  h5io_array_free(&a);
}

static void check_fixture_case(const fixture_case *fc, bool fused) {
  block_config cfg;
  if (fc->preset) {
    TRY_OK(block_preset(fc->preset, fc->dataset, &cfg));
    cfg.channels = FC;
  } else {
    cfg = config_of(fc->options, FC);
  }
  cfg.fused = fused || !block_find(cfg.variant)->has_pairwise;
  blk k;
  blk_create(&k, &cfg, 1);
  test_env_finalize(&k.env, 0);
  char ds[128];
  for (int i = 0; i < k.env.ps.count; i++) {
    param_entry *e = &k.env.ps.entries[i];
    if (e->kind == PARAM_BUFFER)
      continue;
    snprintf(ds, sizeof ds, "%s/params/%s", fc->group, e->name + strlen("blk."));
    h5io_array a = fixture_floats("blocks.h5", ds, e->numel);
    memcpy(e->value->data, a.data, e->numel * sizeof(float));
    h5io_array_free(&a);
  }
  snprintf(ds, sizeof ds, "%s/x", fc->group);
  h5io_array fx = fixture_floats("blocks.h5", ds, FX);
  snprintf(ds, sizeof ds, "%s/dy", fc->group);
  h5io_array fdy = fixture_floats("blocks.h5", ds, FX);
  tensor x = tensor_view4(fx.data, DEVICE_CPU, FN, FC, FH, FW), y, dx;
  tensor dy = tensor_view4(fdy.data, DEVICE_CPU, FN, FC, FH, FW);
  TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
  assert_fixture(fc->group, "y", y.data, FX);
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  TRY_OK(params_zero_grad(&k.env.ps));
  TRY_OK(k.ops->backward(k.b, &k.env.ctx, &x, &dy, &dx));
  assert_fixture(fc->group, "dx", dx.data, FX);
  for (int i = 0; i < k.env.ps.count; i++) {
    param_entry *e = &k.env.ps.entries[i];
    if (e->kind == PARAM_BUFFER)
      continue;
    snprintf(ds, sizeof ds, "grads/%s", e->name + strlen("blk."));
    assert_fixture(fc->group, ds, e->grad->data, e->numel);
  }
  h5io_array q;
  snprintf(ds, sizeof ds, "%s/queries", fc->group);
  TRY_OK(h5io_read_int(fixture_path("blocks.h5"), ds, &q));
  float pair[3 * FP], unary[FP];
  TRY_OK(k.ops->attention(k.b, &k.env.ctx, &x, 1, q.data, (int)q.numel,
                          k.ops->has_pairwise ? pair : NULL, k.ops->has_unary ? unary : NULL));
  if (k.ops->has_pairwise)
    assert_fixture(fc->group, "pair_maps", pair, q.numel * FP);
  if (k.ops->has_unary)
    assert_fixture(fc->group, "unary_map", unary, FP);
  h5io_array_free(&q), h5io_array_free(&fx), h5io_array_free(&fdy);
  tensor_free(&dx);
  blk_free(&k);
}

Test(blocks, presets_and_options_match_pytorch) {
  for (size_t c = 0; c < sizeof fixture_cases / sizeof fixture_cases[0]; c++) {
    check_fixture_case(&fixture_cases[c], true);
    check_fixture_case(&fixture_cases[c], false);
  }
}

Test(blocks, none_is_the_identity) {
  blk k;
  const block_config cfg = config_of("variant=none", 5);
  blk_create(&k, &cfg, 2);
  cr_assert_eq(k.env.ps.count, 0, "none registers no parameters");
  test_env_finalize(&k.env, 0);
  tensor x = test_randn4(&k.env.r, 2, 5, 3, 4, 1.0f), y, dx;
  tensor dy = test_randn4(&k.env.r, 2, 5, 3, 4, 1.0f);
  TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
  cr_assert(y.data != x.data, "the output comes from the arena");
  cr_assert(memcmp(y.data, x.data, tensor_numel(&x) * sizeof(float)) == 0);
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  TRY_OK(k.ops->backward(k.b, &k.env.ctx, &x, &dy, &dx));
  TRY_OK(k.ops->backward(k.b, &k.env.ctx, &x, &dy, &dx)); /* accumulates */
  for (size_t i = 0; i < tensor_numel(&x); i++)
    cr_assert_eq(dx.data[i], 2.0f * dy.data[i]);
  const int q = 0;
  float map[12];
  cr_assert_eq(k.ops->attention(k.b, &k.env.ctx, &x, 0, &q, 1, map, NULL), DNL_ERR_ARG);
  TRY_OK(k.ops->attention(k.b, &k.env.ctx, &x, 0, &q, 1, NULL, NULL));
  tensor_free(&x), tensor_free(&dy), tensor_free(&dx);
  blk_free(&k);
}

typedef struct expected_param {
  const char *name;
  int shape[4];
  param_kind kind;
} expected_param;

static void expect_params(const char *options, const expected_param *want, int count) {
  const block_config cfg = config_of(options, 6);
  blk k;
  blk_create(&k, &cfg, 3);
  cr_assert_eq(k.env.ps.count, count, "%s: %d parameters, expected %d", options, k.env.ps.count,
               count);
  for (int i = 0; i < count; i++) {
    const param_entry *e = params_find(&k.env.ps, want[i].name);
    cr_assert(e, "%s: no parameter %s", options, want[i].name);
    cr_assert_eq(e->kind, want[i].kind, "%s: %s has kind %d, expected %d", options, e->name,
                 e->kind, want[i].kind);
    for (int d = 0; d < e->ndim; d++)
      cr_assert_eq(e->shape[d], want[i].shape[d], "%s: %s dim %d", options, e->name, d);
  }
  blk_free(&k);
}

#define T PARAM_TRAINABLE
#define ND PARAM_NO_DECAY
#define BUF PARAM_BUFFER

Test(blocks, parameters_and_weight_decay_flags) {
  const expected_param dnl_nowd[] = {{"blk.query.weight", {3, 6, 1, 1}, ND},
                                     {"blk.query.bias", {3}, ND},
                                     {"blk.key.weight", {3, 6, 1, 1}, ND},
                                     {"blk.key.bias", {3}, ND},
                                     {"blk.value.weight", {3, 6, 1, 1}, T},
                                     {"blk.mask.weight", {1, 6, 1, 1}, T},
                                     {"blk.mask.bias", {1}, T},
                                     {"blk.gamma", {1}, T},
                                     {"blk.out.weight", {6, 3, 1, 1}, T},
                                     {"blk.out_norm.weight", {6}, T},
                                     {"blk.out_norm.bias", {6}, T},
                                     {"blk.out_norm.running_mean", {6}, BUF},
                                     {"blk.out_norm.running_var", {6}, BUF}};
  expect_params("variant=dnl nowd=true out_conv=true out_norm=bn", dnl_nowd, 13);
  const expected_param dnl[] = {{"blk.query.weight", {3, 6, 1, 1}, T},
                                {"blk.query.bias", {3}, T},
                                {"blk.key.weight", {3, 6, 1, 1}, T},
                                {"blk.key.bias", {3}, T},
                                {"blk.value.weight", {6, 6, 1, 1}, T},
                                {"blk.mask.weight", {1, 6, 1, 1}, T},
                                {"blk.mask.bias", {1}, T},
                                {"blk.gamma", {1}, T}};
  expect_params("variant=dnl", dnl, 8);
  const expected_param nl[] = {
      {"blk.query.weight", {3, 6, 1, 1}, ND}, {"blk.query.bias", {3}, ND},
      {"blk.key.weight", {3, 6, 1, 1}, ND},   {"blk.key.bias", {3}, ND},
      {"blk.value.weight", {6, 6, 1, 1}, T},  {"blk.gamma", {1}, T},
      {"blk.out_norm.weight", {6}, T},        {"blk.out_norm.bias", {6}, T}};
  expect_params("variant=nl nowd=true out_norm=in", nl, 8);
  const expected_param unary[] = {{"blk.value.weight", {3, 6, 1, 1}, T},
                                  {"blk.mask.weight", {1, 6, 1, 1}, T},
                                  {"blk.mask.bias", {1}, T},
                                  {"blk.out.weight", {6, 3, 1, 1}, T}};
  expect_params("variant=unary out_conv=true", unary, 4);
  const expected_param shared[] = {
      {"blk.query.weight", {3, 6, 1, 1}, T}, {"blk.query.bias", {3}, T},
      {"blk.key.weight", {3, 6, 1, 1}, T},   {"blk.key.bias", {3}, T},
      {"blk.value.weight", {6, 6, 1, 1}, T}, {"blk.gamma", {1}, T}};
  expect_params("variant=dnl_shared", shared, 6);
}

/* SPEC 1: 1x1 convs N(0, 0.01^2), biases 0, gamma 0. */
Test(blocks, initialisation) {
  const block_config cfg = config_of("variant=dnl out_conv=true", 64);
  blk k;
  blk_create(&k, &cfg, 4);
  test_env_finalize(&k.env, 0);
  for (int i = 0; i < k.env.ps.count; i++) {
    const param_entry *e = &k.env.ps.entries[i];
    const bool weight = strstr(e->name, ".weight") != NULL;
    double s = 0.0, ss = 0.0;
    for (size_t j = 0; j < e->numel; j++)
      s += e->value->data[j], ss += (double)e->value->data[j] * e->value->data[j];
    if (weight) {
      const double sd = sqrt(ss / e->numel - (s / e->numel) * (s / e->numel));
      cr_assert(fabs(sd - 0.01) < 0.002 && e->init.kind == PARAM_INIT_NORMAL,
                "%s: std %g, expected 0.01", e->name, sd);
    } else {
      cr_assert_eq(ss, 0.0, "%s must start at 0", e->name);
    }
  }
  blk_free(&k);
}

/* Standard deviation of a parameter's values (about zero mean). */
static double value_std(const param_entry *e) {
  double s = 0.0, ss = 0.0;
  for (size_t j = 0; j < e->numel; j++)
    s += e->value->data[j], ss += (double)e->value->data[j] * e->value->data[j];
  return sqrt(ss / e->numel - (s / e->numel) * (s / e->numel));
}

/* A block of C = 64 (C' = 32) with the options, values initialised from seed 11. */
static void blk_init(blk *k, const char *options) {
  const block_config cfg = config_of(options, 64);
  blk_create(k, &cfg, 11);
  test_env_finalize(&k->env, 0);
}

/* Each init option changes the parameters it names and nothing else: every other
 * parameter keeps the default init's values bit for bit (same seed). */
Test(blocks, init_options_change_only_their_parameters) {
  static const struct {
    const char *options;
    const char *changed[2]; /* parameter leaves that differ from the default init */
  } cases[] = {
      {"variant=dnl qk_init_std=0.2", {"query.weight", "key.weight"}},
      {"variant=dnl qk_tied=true", {"key.weight", NULL}},
      {"variant=dnl v_init_std=0.3", {"value.weight", NULL}},
      {"variant=dnl v_init_kaiming=true", {"value.weight", NULL}},
      {"variant=dnl gamma_init=0.7", {"gamma", NULL}},
      {"variant=dnl mask_init_std=0.5", {"mask.weight", NULL}},
      {"variant=dnl lr_mult=4", {NULL, NULL}},
  };
  blk def;
  blk_init(&def, "variant=dnl");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    blk k;
    blk_init(&k, cases[c].options);
    cr_assert_eq(k.env.ps.count, def.env.ps.count);
    for (int i = 0; i < k.env.ps.count; i++) {
      const param_entry *e = &k.env.ps.entries[i], *d = &def.env.ps.entries[i];
      bool changed = false;
      for (int j = 0; j < 2; j++)
        changed = changed || (cases[c].changed[j] && !strcmp(e->name + 4, cases[c].changed[j]));
      const bool equal = memcmp(e->value->data, d->value->data, e->numel * sizeof(float)) == 0;
      cr_assert(equal != changed, "%s: %s %s", cases[c].options, e->name,
                changed ? "kept the default init" : "changed");
    }
    blk_free(&k);
  }
  blk_free(&def);
}

Test(blocks, init_options_values) {
  blk k;
  blk_init(&k, "variant=dnl");
  /* the published init: SPEC 1 (Test initialisation checks every parameter) */
  cr_assert_float_eq(value_std(params_find(&k.env.ps, "blk.value.weight")), 0.01, 0.001);
  cr_assert(memcmp(params_find(&k.env.ps, "blk.key.weight")->value->data,
                   params_find(&k.env.ps, "blk.query.weight")->value->data,
                   64 * 32 * sizeof(float)),
            "untied query and key start equal");
  blk_free(&k);

  blk_init(&k, "variant=nl qk_init_std=0.2 qk_tied=true v_init_kaiming=true v_init_std=0.5 "
               "gamma_init=-0.25");
  const param_entry *q = params_find(&k.env.ps, "blk.query.weight");
  const param_entry *kw = params_find(&k.env.ps, "blk.key.weight");
  cr_assert(memcmp(q->value->data, kw->value->data, q->numel * sizeof(float)) == 0,
            "tied key differs from the query");
  cr_assert(q->value->data != kw->value->data, "tied weights share storage");
  cr_assert_float_eq(value_std(q), 0.2, 0.2 * 0.05);
  /* 4096 draws: the sample std is within 3 % of sqrt(2 / 64) = 0.177 */
  const double kaiming = sqrt(2.0 / 64);
  const double v_sd = value_std(params_find(&k.env.ps, "blk.value.weight"));
  cr_assert(fabs(v_sd - kaiming) < 0.03 * kaiming, "value std %g, expected %g", v_sd, kaiming);
  cr_assert_eq(params_find(&k.env.ps, "blk.gamma")->value->data[0], -0.25f);
  for (const char *const *b = (const char *const[]){"blk.query.bias", "blk.key.bias", NULL}; *b;
       b++) {
    const param_entry *e = params_find(&k.env.ps, *b);
    for (size_t j = 0; j < e->numel; j++)
      cr_assert_eq(e->value->data[j], 0.0f, "%s must start at 0", *b);
  }
  blk_free(&k);

  blk_init(&k, "variant=unary mask_init_std=0.5 v_init_std=0");
  /* 64 draws: within 25 % */
  cr_assert_float_eq(value_std(params_find(&k.env.ps, "blk.mask.weight")), 0.5, 0.125);
  cr_assert_eq(value_std(params_find(&k.env.ps, "blk.value.weight")), 0.0);
  blk_free(&k);
}

/* One SGD step moves every block parameter lr_mult times as far as without the
 * multiplier and leaves a parameter outside the block where it was. */
Test(blocks, lr_mult_scales_the_block_step) {
  float *before = NULL, *delta[2] = {NULL, NULL};
  size_t total = 0;
  for (int run = 0; run < 2; run++) {
    blk k;
    block_config cfg =
        config_of(run ? "variant=dnl lr_mult=4 nowd=true" : "variant=dnl nowd=true", 8);
    test_env_init(&k.env, 5);
    k.ops = block_find("dnl");
    tensor ov, og;
    TRY_OK(params_add(&k.env.ps, "head.conva.weight", 1, (const int[1]){10}, PARAM_TRAINABLE,
                      (param_init){PARAM_INIT_NORMAL, 0.0f, 1.0f}, &ov, &og));
    TRY_OK(k.ops->create(&cfg, &k.env.ps, "head.block", &k.b));
    test_env_finalize(&k.env, 0.5f);
    total = k.env.ps.total;
    rng r;
    rng_seed(&r, 3);
    test_fill_randn(&r, k.env.ps.grads, total, 1.0f);
    if (!before) {
      before = malloc(total * sizeof(float));
      memcpy(before, k.env.ps.values, total * sizeof(float));
    }
    cr_assert(memcmp(before, k.env.ps.values, total * sizeof(float)) == 0);
    TRY_OK(params_sgd_step(&k.env.ps, 0.1f, 0.9f, 0.01f));
    delta[run] = malloc(total * sizeof(float));
    for (size_t i = 0; i < total; i++)
      delta[run][i] = k.env.ps.values[i] - before[i];
    for (int i = 0; i < k.env.ps.count; i++) {
      const param_entry *e = &k.env.ps.entries[i];
      const bool in_block = !strncmp(e->name, "head.block.", 11);
      cr_assert_eq(e->lr_mult, run && in_block ? 4.0f : 1.0f, "%s: lr_mult %g", e->name,
                   (double)e->lr_mult);
      if (run == 0)
        continue;
      for (size_t j = 0; j < e->numel; j++) {
        const float d0 = delta[0][e->offset + j], d1 = delta[1][e->offset + j];
        if (in_block)
          cr_assert(fabsf(d1 - 4.0f * d0) <= 1e-5f * fabsf(d1) + 1e-7f,
                    "%s[%zu]: step %g, without lr_mult %g", e->name, j, (double)d1, (double)d0);
        else
          cr_assert_eq(d1, d0, "%s moved differently", e->name);
      }
    }
    blk_free(&k);
  }
  free(before), free(delta[0]), free(delta[1]);
}

typedef struct bad_option {
  const char *options;
  const char *key;
} bad_option;

Test(blocks, rejects_options_that_do_not_apply) {
  static const bad_option bad[] = {
      {"variant=unary whiten=in", "whiten"},
      {"variant=unary scale=on", "scale"},
      {"variant=unary temperature=0.5", "temperature"},
      {"variant=unary nowd=true", "nowd"},
      {"variant=unary fused=false", "fused"},
      {"variant=unary inner=3", "inner"},
      {"variant=none whiten=none", "whiten"},
      {"variant=none out_conv=true", "out_conv"},
      {"variant=none out_norm=bn", "out_norm"},
      {"variant=none fused=false", "fused"},
      {"variant=none scale=off", "scale"},
      {"variant=nl whiten=in", "whiten"},
      {"variant=pairwise whiten=none", "whiten"},
      {"variant=dnl scale=off temperature=0.5", "temperature"},
      {"variant=dnl inner=7", "inner"},
      {"variant=unary qk_tied=true", "qk_tied"},
      {"variant=unary qk_init_std=0.1", "qk_init_std"},
      {"variant=unary gamma_init=1", "gamma_init"},
      {"variant=nl mask_init_std=0.1", "mask_init_std"},
      {"variant=pairwise mask_init_std=0", "mask_init_std"},
      {"variant=none lr_mult=2", "lr_mult"},
      {"variant=none v_init_kaiming=true", "v_init_kaiming"},
      {"variant=none v_init_std=0.1", "v_init_std"},
      {"variant=dnl_shared whiten=none", "whiten"},
      {"variant=dnl_shared mask_init_std=0.1", "mask_init_std"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const block_config cfg = config_of(bad[i].options, 6);
    const block_ops *ops = block_find(cfg.variant);
    cr_assert_eq(ops->validate(&cfg), DNL_ERR_ARG, "%s accepted", bad[i].options);
    const char *msg = dnl_last_error();
    cr_assert(strstr(msg, bad[i].key) && strstr(msg, "allowed"), "%s: message '%s'", bad[i].options,
              msg);
    param_store ps;
    params_init(&ps);
    block *b = NULL;
    cr_assert_eq(ops->create(&cfg, &ps, "blk", &b), DNL_ERR_ARG, "%s created", bad[i].options);
    cr_assert_null(b);
    params_free(&ps);
  }
  /* values set in code, not parsed from text: validate refuses them too */
  static const struct {
    const char *key;
    size_t offset;
    float value;
  } bad_values[] = {
      {"lr_mult", offsetof(block_config, lr_mult), 0.0f},
      {"lr_mult", offsetof(block_config, lr_mult), NAN},
      {"qk_init_std", offsetof(block_config, qk_init_std), -0.5f},
      {"v_init_std", offsetof(block_config, v_init_std), INFINITY},
      {"mask_init_std", offsetof(block_config, mask_init_std), -1e-9f},
      {"gamma_init", offsetof(block_config, gamma_init), NAN},
  };
  for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
    block_config cfg = config_of("variant=dnl", 6);
    memcpy((char *)&cfg + bad_values[i].offset, &bad_values[i].value, sizeof(float));
    cr_assert_eq(block_find("dnl")->validate(&cfg), DNL_ERR_ARG, "%s = %g accepted",
                 bad_values[i].key, (double)bad_values[i].value);
    cr_assert(strstr(dnl_last_error(), bad_values[i].key), "message: %s", dnl_last_error());
  }
  const block_config odd = config_of("variant=dnl", 7);
  cr_assert_eq(block_find("dnl")->validate(&odd), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "channels = 7"), "message: %s", dnl_last_error());
  const block_config ok = config_of("variant=dnl inner=3", 7);
  TRY_OK(block_find("dnl")->validate(&ok));
}

Test(blocks, config_text_errors_name_the_key) {
  block_config c = block_config_defaults();
  static const char *const bad[][3] = {
      {"whitening", "in", "unknown key 'whitening'"},
      {"whiten", "channel", "whiten = 'channel'"},
      {"out_norm", "gn", "allowed: none, bn, in, ln"},
      {"variant", "gc", "allowed: none, nl, pairwise, unary, dnl_shared, dnl"},
      {"temperature", "-1", "temperature"},
      {"nowd", "maybe", "nowd"},
      {"channels", "12x", "channels"},
      {"lr_mult", "0", "lr_mult = '0'"},
      {"lr_mult", "-1", "lr_mult"},
      {"lr_mult", "inf", "a finite number > 0"},
      {"qk_init_std", "-0.01", "qk_init_std"},
      {"v_init_std", "nan", "v_init_std"},
      {"mask_init_std", "-1", "a finite number >= 0"},
      {"gamma_init", "inf", "gamma_init"},
      {"qk_tied", "yes", "qk_tied"},
      {"v_init_kaiming", "2", "v_init_kaiming"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(block_config_set(&c, bad[i][0], bad[i][1]), DNL_ERR_ARG);
    cr_assert(strstr(dnl_last_error(), bad[i][2]), "%s=%s: message '%s'", bad[i][0], bad[i][1],
              dnl_last_error());
  }
  block_config p;
  cr_assert_eq(block_preset("dnl_nowd", "cityscapes", &p), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "dnl_nowd_in_published"), "%s", dnl_last_error());
  const block_ops *ops;
  cr_assert_eq(block_lookup("gc", &ops), DNL_ERR_ARG);
  cr_assert_null(block_find("gc"));
}

Test(blocks, registry_and_resolution) {
  static const char *const names[] = {"none", "nl", "pairwise", "unary", "dnl_shared", "dnl"};
  cr_assert_eq(block_count(), 6);
  for (int i = 0; i < 6; i++) {
    cr_assert_str_eq(block_at(i)->name, names[i]);
    cr_assert_eq(block_find(names[i]), block_at(i));
  }
  block_config r;
  TRY_OK(block_config_resolve(&(block_config){0}, &r) == DNL_OK ? DNL_ERR_INTERNAL : DNL_OK);
  const block_config d = block_config_defaults();
  TRY_OK(block_config_resolve(&d, &r));
  cr_assert(!strcmp(r.variant, "dnl") && r.channels == 512 && r.inner == 256);
  cr_assert(r.whiten == BLOCK_WHITEN_IN && r.scale == BLOCK_SCALE_ON && r.temperature == 1.0f);
  cr_assert(!r.nowd && !r.out_conv && r.out_norm == BLOCK_NORM_NONE && r.fused);
  TRY_OK(block_config_resolve(&(block_config){.variant = "nl",
                                              .channels = 8,
                                              .whiten = BLOCK_WHITEN_AUTO,
                                              .temperature = 1,
                                              .scale = BLOCK_SCALE_AUTO,
                                              .fused = true,
                                              .mask_init_std = 0.01f,
                                              .lr_mult = 1},
                              &r));
  cr_assert(r.whiten == BLOCK_WHITEN_NONE && r.scale == BLOCK_SCALE_ON && r.inner == 4);
  const block_config u = config_of("variant=unary", 8);
  TRY_OK(block_config_resolve(&u, &r));
  cr_assert(r.whiten == BLOCK_WHITEN_NONE && r.scale == BLOCK_SCALE_OFF && r.inner == 0);
}

Test(blocks, presets_resolve_as_specified) {
  block_config c, r;
  TRY_OK(block_preset("dnl_temp_in", "ade20k", &c));
  cr_assert_eq(c.temperature, 0.1f);
  TRY_OK(block_preset("dnl_temp_in", "cityscapes", &c));
  TRY_OK(block_config_resolve(&c, &r));
  cr_assert(r.temperature == 0.05f && r.scale == BLOCK_SCALE_ON && r.whiten == BLOCK_WHITEN_IN &&
            !r.nowd && !strcmp(r.variant, "dnl"));
  TRY_OK(block_preset("dnl_nowd_in", NULL, &c));
  cr_assert(c.whiten == BLOCK_WHITEN_IN && c.scale == BLOCK_SCALE_OFF && c.nowd);
  TRY_OK(block_preset("dnl_nowd_in_published", NULL, &c));
  cr_assert(c.whiten == BLOCK_WHITEN_NONE && c.scale == BLOCK_SCALE_OFF && c.nowd);
  TRY_OK(block_preset("dnl_nowd_ln", "pascal_context", &c));
  cr_assert(c.whiten == BLOCK_WHITEN_LN && c.scale == BLOCK_SCALE_OFF && c.nowd);
  TRY_OK(block_preset("nl_published", NULL, &c));
  TRY_OK(block_config_resolve(&c, &r));
  cr_assert(!strcmp(r.variant, "nl") && r.whiten == BLOCK_WHITEN_NONE &&
            r.scale == BLOCK_SCALE_ON && r.temperature == 1.0f);
  cr_assert_eq(block_preset_count(), 5);
  char text[256];
  block_config_format(&r, text, sizeof text);
  cr_assert(strstr(text, "variant=nl channels=512 inner=256 whiten=none temperature=1 scale=on"),
            "%s", text);
}

Test(blocks, attention_maps) {
  const block_config cfg = config_of("variant=dnl", 6);
  blk k;
  blk_create(&k, &cfg, 9);
  blk_random_params(&k);
  tensor x = test_randn4(&k.env.r, 2, 6, 4, 5, 1.0f), y;
  const int queries[2] = {3, 19};
  float pair[2 * 20], unary[20];
  cr_assert_eq(k.ops->attention(k.b, &k.env.ctx, &x, 0, queries, 2, pair, unary), DNL_ERR_ARG);
  TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
  cr_assert_eq(k.ops->attention(k.b, &k.env.ctx, &x, 2, queries, 2, pair, unary), DNL_ERR_ARG);
  TRY_OK(k.ops->attention(k.b, &k.env.ctx, &x, 1, queries, 2, pair, unary));
  double s0 = 0, s1 = 0, su = 0;
  for (int j = 0; j < 20; j++)
    s0 += pair[j], s1 += pair[20 + j], su += unary[j];
  cr_assert(fabs(s0 - 1) < 1e-5 && fabs(s1 - 1) < 1e-5 && fabs(su - 1) < 1e-5);
  tensor_free(&x);
  blk_free(&k);
  const block_config ucfg = config_of("variant=unary", 6);
  blk_create(&k, &ucfg, 9);
  blk_random_params(&k);
  x = test_randn4(&k.env.r, 1, 6, 4, 5, 1.0f);
  TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
  cr_assert_eq(k.ops->attention(k.b, &k.env.ctx, &x, 0, queries, 2, pair, unary), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "no pairwise"), "%s", dnl_last_error());
  TRY_OK(k.ops->attention(k.b, &k.env.ctx, &x, 0, queries, 2, NULL, unary));
  tensor_free(&x);
  blk_free(&k);
}

Test(blocks, rejects_wrong_input_channels) {
  const block_config cfg = config_of("variant=dnl", 6);
  blk k;
  blk_create(&k, &cfg, 10);
  blk_random_params(&k);
  tensor x = test_randn4(&k.env.r, 1, 4, 3, 3, 1.0f), y;
  cr_assert_eq(k.ops->forward(k.b, &k.env.ctx, &x, &y), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "block dnl (blk)"), "%s", dnl_last_error());
  tensor_free(&x);
  blk_free(&k);
}

/* Per sample ||a - b|| / ||x||, a, b, x [n, c, h, w] host tensors. */
static double diff_ratio(const tensor *a, const tensor *b, const tensor *x, int sample) {
  const size_t len = tensor_numel(x) / (size_t)x->shape[0], off = (size_t)sample * len;
  double d = 0.0, xx = 0.0;
  for (size_t i = off; i < off + len; i++) {
    const double e = (double)a->data[i] - (b ? (double)b->data[i] : 0.0);
    d += e * e;
    xx += (double)x->data[i] * x->data[i];
  }
  return sqrt(d / xx);
}

/* term_sizes against the block's own output: without out conv and norm,
 * y - x = gamma Y_pair + Y_un, so the forward with gamma set to 0 gives the unary
 * term alone and the difference of two forwards the pairwise term. */
Test(blocks, term_sizes) {
  static const char *const variants[] = {"dnl", "dnl_shared", "pairwise", "nl", "unary"};
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    char options[64];
    snprintf(options, sizeof options, "variant=%s", variants[v]);
    const block_config cfg = config_of(options, 6);
    blk k;
    blk_create(&k, &cfg, 21);
    blk_random_params(&k);
    block_term_sizes t[3];
    tensor x = test_randn4(&k.env.r, 3, 6, 4, 5, 1.0f), y, y0 = {0};
    cr_assert_eq(k.ops->term_sizes(k.b, &k.env.ctx, &x, t), DNL_ERR_ARG, "before a forward");
    param_entry *g = params_find(&k.env.ps, "blk.gamma");
    if (g) { /* the forward without the pairwise term, kept */
      g->value->data[0] = 0.0f;
      TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
      TRY_OK(k.ops->term_sizes(k.b, &k.env.ctx, &x, t));
      for (int i = 0; i < 3; i++)
        cr_assert(t[i].gamma == 0.0f && t[i].pairwise == 0.0f, "%s: gamma 0 gives %g, %g",
                  variants[v], (double)t[i].gamma, (double)t[i].pairwise);
      TRY_OK(tensor_alloc(&y0, DEVICE_CPU, 4, x.shape));
      memcpy(y0.data, y.data, tensor_numel(&x) * sizeof(float));
      g->value->data[0] = -0.8f;
    }
    TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
    TRY_OK(k.ops->term_sizes(k.b, &k.env.ctx, &x, t));
    for (int i = 0; i < 3; i++) {
      const bool pair = k.ops->has_pairwise, un = k.ops->has_unary;
      cr_assert(pair ? t[i].gamma == -0.8f : isnan(t[i].gamma), "%s: gamma %g", variants[v],
                (double)t[i].gamma);
      if (pair) {
        const double want = diff_ratio(&y, &y0, &x, i);
        cr_assert(want > 1e-3 && fabs(t[i].pairwise - want) < 1e-4 * want + 1e-6,
                  "%s sample %d: pairwise %g, from the outputs %g", variants[v], i,
                  (double)t[i].pairwise, want);
      } else {
        cr_assert(isnan(t[i].pairwise), "%s: pairwise %g", variants[v], (double)t[i].pairwise);
      }
      if (un) {
        const double want = g ? diff_ratio(&y0, &x, &x, i) : diff_ratio(&y, &x, &x, i);
        cr_assert(want > 1e-3 && fabs(t[i].unary - want) < 1e-4 * want + 1e-6,
                  "%s sample %d: unary %g, from the outputs %g", variants[v], i, (double)t[i].unary,
                  want);
      } else {
        cr_assert(isnan(t[i].unary), "%s: unary %g", variants[v], (double)t[i].unary);
      }
    }
    tensor_free(&x), tensor_free(&y0);
    blk_free(&k);
  }
  /* none: every size NaN; the published init: gamma 0, so no pairwise contribution */
  blk k;
  const block_config none = config_of("variant=none", 6);
  blk_create(&k, &none, 2);
  test_env_finalize(&k.env, 0);
  tensor x = test_randn4(&k.env.r, 1, 6, 4, 5, 1.0f), y;
  block_term_sizes t;
  TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
  TRY_OK(k.ops->term_sizes(k.b, &k.env.ctx, &x, &t));
  cr_assert(isnan(t.gamma) && isnan(t.pairwise) && isnan(t.unary));
  tensor_free(&x);
  blk_free(&k);
  const block_config dnl = config_of("variant=dnl out_conv=true out_norm=bn", 6);
  blk_create(&k, &dnl, 2);
  test_env_finalize(&k.env, 0);
  x = test_randn4(&k.env.r, 2, 6, 4, 5, 1.0f);
  TRY_OK(k.ops->forward(k.b, &k.env.ctx, &x, &y));
  block_term_sizes t2[2];
  TRY_OK(k.ops->term_sizes(k.b, &k.env.ctx, &x, t2));
  for (int i = 0; i < 2; i++)
    cr_assert(t2[i].gamma == 0.0f && t2[i].pairwise == 0.0f && t2[i].unary > 0.0f &&
                  isfinite(t2[i].unary),
              "published init: %g %g %g", (double)t2[i].gamma, (double)t2[i].pairwise,
              (double)t2[i].unary);
  tensor_free(&x);
  blk_free(&k);
}
