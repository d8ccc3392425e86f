#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/layers/loss.h"
#include "tests/test_util.h"

typedef struct loss_problem {
  test_env *env;
  loss_config cfg;
  bool ohem;
  tensor *logits, *dlogits;
  const int32_t *labels;
} loss_problem;

static dnl_status run_loss(loss_problem *p, float loss_weight, float *loss, tensor *dlogits) {
  layer_ctx *ctx = &p->env->ctx;
  if (p->ohem)
    return ohem_ce_loss(ctx, &p->cfg, p->logits, p->labels, loss_weight, loss, dlogits);
  return ce_loss(ctx, &p->cfg, p->logits, p->labels, loss_weight, loss, dlogits);
}

/* The loss as a one-element output, so that gradcheck's random dy becomes the
 * loss weight of the backward. */
static dnl_status loss_fwd(void *user, tensor *y) {
  loss_problem *p = user;
  arena_reset(&p->env->act);
  DNL_TRY(arena_tensor(&p->env->act, y, 1, (const int[1]){1}));
  return run_loss(p, 1.0f, y->data, NULL);
}

static dnl_status loss_bwd(void *user, const tensor *dy) {
  loss_problem *p = user;
  float loss;
  return run_loss(p, dy->data[0], &loss, p->dlogits);
}

static void random_labels(rng *r, int32_t *labels, size_t n, int classes, double p_ignore) {
  for (size_t i = 0; i < n; i++)
    labels[i] = rng_uniform(r) < p_ignore ? LOSS_IGNORE_LABEL
                                          : (int32_t)rng_int(r, 0, classes - 1);
}

Test(ce_loss, gradients_weights_and_ignore) {
  for (int weighted = 0; weighted < 2; weighted++) {
    test_env env;
    test_env_init(&env, 20 + weighted);
    const int n = 2, c = 5, h = 3, w = 4;
    tensor logits = test_randn4(&env.r, n, c, h, w, 2.0f), dlogits;
    TRY_OK(tensor_alloc(&dlogits, DEVICE_CPU, 4, logits.shape));
    int32_t labels[2 * 3 * 4];
    random_labels(&env.r, labels, 24, c, weighted ? 0.25 : 0.0);
    float weights[5] = {0.8373f, 1.2f, 0.5f, 1.0345f, 1.5f};
    loss_problem p = {.env = &env,
                      .cfg = {.class_weights = weighted ? weights : NULL,
                              .ignore_label = LOSS_IGNORE_LABEL},
                      .logits = &logits,
                      .dlogits = &dlogits,
                      .labels = labels};
    gradcheck_problem gp = {&p, loss_fwd, loss_bwd};
    gradcheck_var vars[1] = {{"logits", &logits, &dlogits}};
    gradcheck(weighted ? "ce weighted with ignore" : "ce plain", &gp, vars, 1,
              (gradcheck_opts){.seed = 4});
    tensor_free(&logits), tensor_free(&dlogits);
    test_env_free(&env);
  }
}

/* ---- OHEM with designed probabilities ----
 * Every valid pixel gets a chosen probability of its label, 0.02 + 0.03 j for a
 * distinct j, so that ranks and the 0.7 floor are 0.01 or more away from any
 * p_gt: a finite-difference step (|dp| <= 0.25 * eps = 0.0025) cannot change
 * the selection, which the check thus sees fixed at the unperturbed point. */
typedef struct ohem_design {
  int n, c, h, w;
  int32_t labels[64];
  float p_gt[64]; /* designed probability of the label, 0 at ignored pixels */
  int valid;
} ohem_design;

static void design_logits(rng *r, ohem_design *d, tensor *logits) {
  const int hw = d->h * d->w, total = d->n * hw;
  cr_assert(total <= 64);
  *logits = test_randn4(r, d->n, d->c, d->h, d->w, 0.5f);
  d->valid = 0;
  int order[64];
  for (int i = 0; i < total; i++) {
    d->labels[i] = i % 7 == 3 ? LOSS_IGNORE_LABEL : (int32_t)rng_int(r, 0, d->c - 1);
    order[i] = d->labels[i] == LOSS_IGNORE_LABEL ? -1 : d->valid++;
  }
  for (int i = total - 1; i > 0; i--) { /* shuffle the ranks among valid pixels */
    if (order[i] < 0)
      continue;
    int j = (int)rng_int(r, 0, i);
    while (order[j] < 0)
      j++;
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int i = 0; i < total; i++) {
    d->p_gt[i] = 0.0f;
    if (order[i] < 0)
      continue;
    const float p = 0.02f + 0.03f * (float)order[i];
    cr_assert(p < 0.99f);
    float *lp = logits->data + (size_t)(i / hw) * d->c * hw + i % hw;
    double others = 0.0;
    for (int k = 0; k < d->c; k++)
      if (k != d->labels[i])
        others += exp(lp[(size_t)k * hw]);
    lp[(size_t)d->labels[i] * hw] = (float)(log(p / (1.0 - p)) + log(others));
    d->p_gt[i] = p;
  }
}

/* SPEC 3 on the designed probabilities, written out directly. */
static double ohem_expected(const ohem_design *d, const float *weights, long min_kept) {
  float sorted[64];
  int m = 0;
  for (int i = 0; i < d->n * d->h * d->w; i++)
    if (d->labels[i] != LOSS_IGNORE_LABEL)
      sorted[m++] = d->p_gt[i];
  for (int i = 1; i < m; i++) /* insertion sort */
    for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
      float t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  long rank = min_kept * d->n < m - 1 ? min_kept * d->n : m - 1;
  double thr = fmax(sorted[rank], 0.7);
  double sum = 0.0;
  int count = 0;
  for (int i = 0; i < d->n * d->h * d->w; i++) {
    if (d->labels[i] == LOSS_IGNORE_LABEL || d->p_gt[i] >= thr)
      continue;
    sum += (weights ? weights[d->labels[i]] : 1.0) * -log((double)d->p_gt[i]);
    count++;
  }
  return count ? sum / count : 0.0;
}

Test(ohem_loss, gradients_with_fixed_selection) {
  /* min_kept per image: 1 -> threshold 0.7; 12 -> rank 24 (p 0.74) raises it;
   * 1000 -> rank n_valid - 1, every pixel but the most confident one */
  static const long min_kept[] = {1, 12, 1000};
  for (size_t c = 0; c < 3; c++) {
    test_env env;
    test_env_init(&env, 30 + c);
    ohem_design d = {.n = 2, .c = 4, .h = 3, .w = 5};
    tensor logits, dlogits;
    design_logits(&env.r, &d, &logits);
    TRY_OK(tensor_alloc(&dlogits, DEVICE_CPU, 4, logits.shape));
    float weights[4] = {0.9f, 1.3f, 0.6f, 1.1f};
    const float *wp = c == 0 ? NULL : weights;
    loss_problem p = {.env = &env,
                      .cfg = {.class_weights = wp, .ignore_label = LOSS_IGNORE_LABEL,
                              .ohem_thresh = 0.7f, .ohem_min_kept = min_kept[c]},
                      .ohem = true,
                      .logits = &logits,
                      .dlogits = &dlogits,
                      .labels = d.labels};
    float loss;
    TRY_OK(run_loss(&p, 1.0f, &loss, NULL));
    const double want = ohem_expected(&d, wp, min_kept[c]);
    cr_assert(fabs(loss - want) < 1e-5 * (1 + fabs(want)),
              "case %zu: OHEM loss %.7g, SPEC 3 on the design %.7g", c, (double)loss, want);
    gradcheck_problem gp = {&p, loss_fwd, loss_bwd};
    gradcheck_var vars[1] = {{"logits", &logits, &dlogits}};
    char what[64];
    snprintf(what, sizeof what, "ohem min_kept %ld", min_kept[c]);
    gradcheck(what, &gp, vars, 1, (gradcheck_opts){.seed = c + 9});
    tensor_free(&logits), tensor_free(&dlogits);
    test_env_free(&env);
  }
}

static h5io_array load(const char *group, const char *leaf, size_t n) {
  char ds[128];
  snprintf(ds, sizeof ds, "%s/%s", group, leaf);
  return fixture_floats("layers.h5", ds, n);
}

/* Loss and 0.4 * gradient (accumulated onto 1.0) against PyTorch. */
static void check_fixture(const char *name, bool ohem, bool weighted, int n, int c, int h,
                          int w) {
  const size_t nl = (size_t)n * c * h * w, np = (size_t)n * h * w;
  test_env env;
  test_env_init(&env, 1);
  h5io_array fl = load(name, "logits", nl), fdl = load(name, "dlogits", nl);
  h5io_array floss = load(name, "loss", 1), fw = {0}, fk = {0}, flab;
  char ds[128];
  snprintf(ds, sizeof ds, "%s/labels", name);
  TRY_OK(h5io_read_int(fixture_path("layers.h5"), ds, &flab));
  cr_assert_eq(flab.numel, np);
  loss_config cfg = {.ignore_label = LOSS_IGNORE_LABEL, .ohem_thresh = 0.7f};
  if (weighted) {
    fw = load(name, "weight", (size_t)c);
    cfg.class_weights = fw.data;
  }
  if (ohem) {
    snprintf(ds, sizeof ds, "%s/min_kept", name);
    TRY_OK(h5io_read_int(fixture_path("layers.h5"), ds, &fk));
    cfg.ohem_min_kept = ((int32_t *)fk.data)[0];
  }
  tensor logits = tensor_view4(fl.data, DEVICE_CPU, n, c, h, w), dlogits;
  TRY_OK(tensor_alloc(&dlogits, DEVICE_CPU, 4, logits.shape));
  for (size_t i = 0; i < nl; i++)
    dlogits.data[i] = 1.0f;
  float loss;
  if (ohem)
    TRY_OK(ohem_ce_loss(&env.ctx, &cfg, &logits, flab.data, 0.4f, &loss, &dlogits));
  else
    TRY_OK(ce_loss(&env.ctx, &cfg, &logits, flab.data, 0.4f, &loss, &dlogits));
  ASSERT_CLOSE(&loss, (float *)floss.data, 1, 1e-6, 1e-5, name);
  for (size_t i = 0; i < nl; i++)
    dlogits.data[i] = (dlogits.data[i] - 1.0f) / 0.4f;
  ASSERT_CLOSE(dlogits.data, (float *)fdl.data, nl, 1e-5, 1e-3, name);
  tensor_free(&dlogits);
  h5io_array *all[] = {&fl, &fdl, &floss, &fw, &fk, &flab};
  for (size_t i = 0; i < 6; i++)
    h5io_array_free(all[i]);
  test_env_free(&env);
}

Test(ce_loss, matches_pytorch_cross_entropy) {
  check_fixture("ce_plain", false, false, 2, 5, 4, 6);
  check_fixture("ce_weighted", false, true, 2, 5, 4, 6);
}

Test(ohem_loss, matches_independent_pytorch_ohem) {
  check_fixture("ohem_thresh_floor", true, true, 2, 4, 5, 6);
  check_fixture("ohem_thresh_raised", true, true, 2, 4, 5, 6);
}

Test(ohem_loss, all_ignored_gives_zero) {
  test_env env;
  test_env_init(&env, 1);
  tensor logits = test_randn4(&env.r, 1, 3, 2, 2, 1.0f), dlogits;
  TRY_OK(tensor_alloc(&dlogits, DEVICE_CPU, 4, logits.shape));
  int32_t labels[4] = {255, 255, 255, 255};
  loss_config cfg = {.ignore_label = 255, .ohem_thresh = 0.7f, .ohem_min_kept = 100000};
  float loss = -1.0f;
  TRY_OK(ohem_ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, &dlogits));
  cr_assert_eq(loss, 0.0f);
  loss = -1.0f;
  TRY_OK(ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, &dlogits));
  cr_assert_eq(loss, 0.0f);
  for (int i = 0; i < 12; i++)
    cr_assert_eq(dlogits.data[i], 0.0f);
  /* every pixel confident: none below the 0.7 floor */
  for (int i = 0; i < 4; i++) {
    labels[i] = 1;
    logits.data[4 + i] = 30.0f;
  }
  TRY_OK(ohem_ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, &dlogits));
  cr_assert_eq(loss, 0.0f);
  tensor_free(&logits), tensor_free(&dlogits);
  test_env_free(&env);
}

/* Pixels that get no gradient leave dlogits as it is even where their logits
 * are not finite: ignore-label pixels and pixels of a class of weight 0 (where
 * g * (softmax - onehot) would be 0 * NaN). Their logits +inf, -inf and NaN:
 * the gradient is finite, and equals the one with finite logits there (each
 * pixel's gradient depends on its own logits only). The loss stays finite
 * while only ignored pixels are spoiled; a weight-0 pixel's term is 0 * NaN,
 * NaN as in PyTorch. */
Test(ce_loss, nonfinite_logits_where_the_gradient_is_zero) {
  const dnl_backend *be = cpu_backend();
  rng r;
  rng_seed(&r, 31);
  const int n = 2, c = 4, hw = 150; /* three pixel blocks per image, the last partial */
  const size_t np = (size_t)n * hw, nl = np * c;
  const ce_shape s = {.n = n, .c = c, .hw = hw, .ignore_label = LOSS_IGNORE_LABEL};
  const float weights[4] = {0.0f, 1.2f, 0.5f, 1.5f};
  const float bad[3] = {INFINITY, -INFINITY, NAN};
  float *logits = malloc(nl * sizeof *logits), *spoilt = malloc(nl * sizeof *spoilt);
  float *d0 = malloc(nl * sizeof *d0), *want = malloc(nl * sizeof *want),
        *got = malloc(nl * sizeof *got);
  int32_t *labels = malloc(np * sizeof *labels);
  cr_assert(logits && spoilt && d0 && want && got && labels, "out of host memory");
  test_fill_randn(&r, logits, nl, 2.0f);
  test_fill_randn(&r, d0, nl, 0.1f);
  random_labels(&r, labels, np, c, 0.2);
  for (int zero_weight = 0; zero_weight < 2; zero_weight++) {
    memcpy(spoilt, logits, nl * sizeof *spoilt);
    int spoiled = 0, zero_weight_pixels = 0;
    for (size_t pix = 0; pix < np; pix++) {
      const bool ignored = labels[pix] == LOSS_IGNORE_LABEL;
      zero_weight_pixels += labels[pix] == 0;
      if (!ignored && !(zero_weight && labels[pix] == 0))
        continue;
      const size_t b = pix / hw, i = pix % hw;
      for (int k = 0; k < c; k++)
        if ((pix + (size_t)k) % 2 == 0)
          spoilt[(b * c + k) * hw + i] = bad[(pix + (size_t)k) % 3];
      spoiled++;
    }
    cr_assert(spoiled > 0 && zero_weight_pixels > 0);
    float loss_want = -1.0f, loss_got = -2.0f;
    memcpy(want, d0, nl * sizeof *want);
    memcpy(got, d0, nl * sizeof *got);
    TRY_OK(
        be->ce_forward_backward(&s, logits, labels, weights, NULL, 0.0f, 0.4f, &loss_want, want));
    TRY_OK(be->ce_forward_backward(&s, spoilt, labels, weights, NULL, 0.0f, 0.4f, &loss_got, got));
    for (size_t i = 0; i < nl; i++)
      cr_assert(got[i] == want[i], "zero_weight %d: dlogits[%zu] %g, with finite logits %g",
                zero_weight, i, (double)got[i], (double)want[i]);
    if (zero_weight)
      cr_assert(isnan(loss_got), "a weight-0 pixel's 0 * NaN: loss %g", (double)loss_got);
    else
      cr_assert(isfinite(loss_got) && fabsf(loss_got - loss_want) <= 1e-6f * loss_want,
                "loss %g, with finite logits %g", (double)loss_got, (double)loss_want);
  }
  free(logits), free(spoilt), free(d0), free(want), free(got), free(labels);
}

Test(loss, rejects_bad_input) {
  test_env env;
  test_env_init(&env, 1);
  tensor logits = test_randn4(&env.r, 1, 4, 2, 3, 1.0f);
  tensor wrong = test_randn4(&env.r, 1, 4, 3, 2, 1.0f);
  int32_t labels[6] = {0, 1, 2, 3, 255, 7};
  loss_config cfg = {.ignore_label = 255, .ohem_thresh = 0.7f, .ohem_min_kept = 10};
  float loss;
  cr_assert_eq(ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, NULL), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "label 7"), "message: %s", dnl_last_error());
  cr_assert_eq(ohem_ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, NULL),
               DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "ohem_ce_loss") && strstr(dnl_last_error(), "label 7"),
            "message: %s", dnl_last_error());
  labels[5] = -1;
  cr_assert_eq(ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, NULL), DNL_ERR_ARG);
  labels[5] = 0;
  cr_assert_eq(ce_loss(&env.ctx, &cfg, &logits, NULL, 1.0f, &loss, NULL), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "labels"), "message: %s", dnl_last_error());
  cr_assert_eq(ce_loss(&env.ctx, &cfg, NULL, labels, 1.0f, &loss, NULL), DNL_ERR_ARG);
  cr_assert_eq(ce_loss(&env.ctx, NULL, &logits, labels, 1.0f, &loss, NULL), DNL_ERR_ARG);
  cr_assert_eq(ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, &wrong), DNL_ERR_SHAPE);
  const char *msg = dnl_last_error();
  cr_assert(strstr(msg, "ce_loss") && strstr(msg, "[1, 4, 3, 2]") &&
                strstr(msg, "[1, 4, 2, 3]"),
            "message: %s", msg);
  tensor flat = test_randn(&env.r, 2, (const int[2]){4, 6}, 1.0f);
  cr_assert_eq(ohem_ce_loss(&env.ctx, &cfg, &flat, labels, 1.0f, &loss, NULL), DNL_ERR_SHAPE);
  cfg.ohem_min_kept = -1;
  cr_assert_eq(ohem_ce_loss(&env.ctx, &cfg, &logits, labels, 1.0f, &loss, NULL), DNL_ERR_ARG);
  tensor_free(&logits), tensor_free(&wrong), tensor_free(&flat);
  test_env_free(&env);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The OHEM threshold's selection against a full sort, duplicates included. */
Test(select_kth, matches_sorting) {
  const dnl_backend *be = cpu_backend();
  rng r;
  rng_seed(&r, 77);
  float x[300], sorted[300], scratch[300];
  for (int trial = 0; trial < 200; trial++) {
    const size_t n = (size_t)rng_int(&r, 1, 300);
    const int distinct = trial % 3 == 0 ? 3 : 1000; /* many ties in a third of the trials */
    for (size_t i = 0; i < n; i++)
      x[i] = (float)rng_int(&r, 0, distinct - 1) / (float)distinct;
    if (trial % 10 == 1) /* already sorted, and reversed */
      qsort(x, n, sizeof(float), cmp_float);
    if (trial % 10 == 2)
      for (size_t i = 0; i < n / 2; i++) {
        float t = x[i];
        x[i] = x[n - 1 - i];
        x[n - 1 - i] = t;
      }
    memcpy(sorted, x, n * sizeof(float));
    qsort(sorted, n, sizeof(float), cmp_float);
    for (size_t k = 0; k < n; k++) {
      float got = -1.0f;
      TRY_OK(be->select_kth(n, x, k, scratch, &got));
      cr_assert_eq(got, sorted[k], "trial %d n %zu k %zu: %g, want %g", trial, n, k,
                   (double)got, (double)sorted[k]);
    }
  }
  float got;
  cr_assert_eq(be->select_kth(3, x, 3, scratch, &got), DNL_ERR_ARG);
  cr_assert_eq(be->select_kth(0, x, 0, scratch, &got), DNL_ERR_ARG);
}
