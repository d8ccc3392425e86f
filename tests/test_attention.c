/* Attention kernels: the fused kernel against the materialised reference,
 * finite-difference gradients of both, whitening and the combination op. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/layers/attention.h"
#include "tests/test_util.h"

typedef struct att_case {
  int n, h, w, d, dv;
  float scale, qk_scale; /* logit scale; size of the q, k values */
} att_case;

/* P not a multiple of the tile sizes (128 or 256 queries, 256 keys) */
static const att_case cases[] = {
    {2, 13, 23, 24, 40, 0.2f, 1.0f}, /* P = 299 */
    {1, 1, 257, 7, 5, 1.0f, 1.0f},   /* one key past a tile */
    {3, 9, 17, 16, 9, 0.25f, 6.0f},  /* P = 153, large logits (|S| ~ 100) */
    {1, 2, 3, 4, 3, 0.5f, 1.0f},     /* P = 6, a single partial tile */
    {8, 19, 27, 8, 6, 0.3f, 1.0f},   /* P = 513, 24 tiles: 256-query tiles up to 6 threads */
};

static double max_abs(const float *x, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)x[i]));
  return m;
}

/* a and b agree within 1e-5 relative to the largest |b| */
static void assert_rel_close(const float *a, const float *b, size_t n, const char *what) {
  const double tol = 1e-5 * fmax(max_abs(b, n), 1e-30);
  ASSERT_CLOSE(a, b, n, tol, 1e-5, what);
}

typedef struct att_run {
  tensor out, dq, dk, dv;
} att_run;

static void run_kernel(const att_case *c, bool fused, const tensor *q, const tensor *k,
                       const tensor *v, const tensor *dout, const tensor *grad_init,
                       att_run *r) {
  test_env env;
  test_env_init(&env, 1);
  pairwise_attention a = {.fused = fused, .scale = c->scale};
  tensor out;
  TRY_OK(pairwise_attention_forward(&a, &env.ctx, q, k, v, &out));
  TRY_OK(tensor_alloc(&r->out, DEVICE_CPU, 4, out.shape));
  memcpy(r->out.data, out.data, tensor_numel(&out) * sizeof(float));
  TRY_OK(tensor_alloc(&r->dq, DEVICE_CPU, 4, q->shape));
  TRY_OK(tensor_alloc(&r->dk, DEVICE_CPU, 4, k->shape));
  TRY_OK(tensor_alloc(&r->dv, DEVICE_CPU, 4, v->shape));
  /* the backward accumulates: start every gradient from the same values */
  memcpy(r->dq.data, grad_init->data, tensor_numel(q) * sizeof(float));
  memcpy(r->dk.data, grad_init->data, tensor_numel(k) * sizeof(float));
  memcpy(r->dv.data, grad_init->data, tensor_numel(v) * sizeof(float));
  TRY_OK(pairwise_attention_backward(&a, &env.ctx, q, k, v, &out, dout, &r->dq, &r->dk,
                                     &r->dv));
  test_env_free(&env);
}

static void free_run(att_run *r) {
  tensor_free(&r->out), tensor_free(&r->dq), tensor_free(&r->dk), tensor_free(&r->dv);
}

Test(attention, fused_matches_reference) {
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const att_case *c = &cases[ci];
    rng r;
    rng_seed(&r, 40 + ci);
    tensor q = test_randn4(&r, c->n, c->d, c->h, c->w, c->qk_scale);
    tensor k = test_randn4(&r, c->n, c->d, c->h, c->w, c->qk_scale);
    tensor v = test_randn4(&r, c->n, c->dv, c->h, c->w, 1.0f);
    tensor dout = test_randn4(&r, c->n, c->dv, c->h, c->w, 1.0f);
    const int big = c->d > c->dv ? c->d : c->dv;
    tensor init = test_randn4(&r, c->n, big, c->h, c->w, 0.1f);
    att_run ref, fus;
    run_kernel(c, false, &q, &k, &v, &dout, &init, &ref);
    run_kernel(c, true, &q, &k, &v, &dout, &init, &fus);
    char what[64];
#define CMP(field)                                                           \
  snprintf(what, sizeof what, "case %zu: %s", ci, #field);                    \
  assert_rel_close(fus.field.data, ref.field.data, tensor_numel(&ref.field), what)
    CMP(out);
    CMP(dq);
    CMP(dk);
    CMP(dv);
#undef CMP
    free_run(&ref), free_run(&fus);
    tensor_free(&q), tensor_free(&k), tensor_free(&v), tensor_free(&dout), tensor_free(&init);
  }
}

/* Rows of the reference's attention sum to 1 and equal pairwise_attention_rows. */
Test(attention, rows_match_reference_softmax) {
  const att_case *c = &cases[0];
  test_env env;
  test_env_init(&env, 3);
  tensor q = test_randn4(&env.r, c->n, c->d, c->h, c->w, 1.0f);
  tensor k = test_randn4(&env.r, c->n, c->d, c->h, c->w, 1.0f);
  tensor v = test_randn4(&env.r, c->n, c->dv, c->h, c->w, 1.0f);
  pairwise_attention a = {.fused = false, .scale = c->scale};
  tensor out;
  TRY_OK(pairwise_attention_forward(&a, &env.ctx, &q, &k, &v, &out));
  const int p = c->h * c->w, queries[3] = {0, 150, p - 1};
  float rows[3 * 299];
  TRY_OK(pairwise_attention_rows(&env.ctx, &q, &k, c->scale, 1, queries, 3, rows));
  for (int r = 0; r < 3; r++) {
    const float *ref = a.saved.data + ((size_t)p + queries[r]) * p;
    ASSERT_CLOSE(rows + (size_t)r * p, ref, (size_t)p, 1e-7, 1e-5, "attention row");
    double s = 0.0;
    for (int j = 0; j < p; j++)
      s += rows[(size_t)r * p + j];
    cr_assert(fabs(s - 1.0) < 1e-5, "row %d sums to %g", r, s);
  }
  const int bad[1] = {p};
  cr_assert_eq(pairwise_attention_rows(&env.ctx, &q, &k, c->scale, 0, bad, 1, rows),
               DNL_ERR_ARG);
  tensor_free(&q), tensor_free(&k), tensor_free(&v);
  test_env_free(&env);
}

typedef struct att_problem {
  test_env *env;
  pairwise_attention *a;
  tensor *q, *k, *v, *dq, *dk, *dv;
  tensor out;
} att_problem;

static dnl_status att_fwd(void *user, tensor *y) {
  att_problem *p = user;
  arena_reset(&p->env->act);
  DNL_TRY(pairwise_attention_forward(p->a, &p->env->ctx, p->q, p->k, p->v, &p->out));
  *y = p->out;
  return DNL_OK;
}

static dnl_status att_bwd(void *user, const tensor *dy) {
  att_problem *p = user;
  return pairwise_attention_backward(p->a, &p->env->ctx, p->q, p->k, p->v, &p->out, dy, p->dq,
                                     p->dk, p->dv);
}

static void gradcheck_kernel(bool fused, int h, int w, int max_elems) {
  test_env env;
  test_env_init(&env, fused ? 7 : 8);
  const int n = 2, d = 3, dv = 4;
  tensor q = test_randn4(&env.r, n, d, h, w, 1.0f), k = test_randn4(&env.r, n, d, h, w, 1.0f);
  tensor v = test_randn4(&env.r, n, dv, h, w, 1.0f);
  tensor dq, dk, dv_;
  TRY_OK(tensor_alloc(&dq, DEVICE_CPU, 4, q.shape));
  TRY_OK(tensor_alloc(&dk, DEVICE_CPU, 4, k.shape));
  TRY_OK(tensor_alloc(&dv_, DEVICE_CPU, 4, v.shape));
  pairwise_attention a = {.fused = fused, .scale = 0.7f};
  att_problem p = {&env, &a, &q, &k, &v, &dq, &dk, &dv_, {0}};
  gradcheck_problem gp = {&p, att_fwd, att_bwd};
  gradcheck_var vars[3] = {{"q", &q, &dq}, {"k", &k, &dk}, {"v", &v, &dv_}};
  gradcheck(fused ? "fused attention" : "reference attention", &gp, vars, 3,
            (gradcheck_opts){.seed = 5, .max_elems = max_elems});
  tensor_free(&q), tensor_free(&k), tensor_free(&v);
  tensor_free(&dq), tensor_free(&dk), tensor_free(&dv_);
  test_env_free(&env);
}

Test(attention, reference_gradients) { gradcheck_kernel(false, 3, 4, 0); }
Test(attention, fused_gradients_one_tile) { gradcheck_kernel(true, 3, 4, 0); }
/* P = 273: two query tiles and two key tiles, the last ones partial */
Test(attention, fused_gradients_many_tiles) { gradcheck_kernel(true, 13, 21, 40); }

Test(attention, whitening_centers_and_is_self_adjoint) {
  test_env env;
  test_env_init(&env, 11);
  const int n = 2, c = 3, h = 4, w = 5, p = h * w;
  for (int mode = WHITEN_NONE; mode <= WHITEN_SAMPLE; mode++) {
    /* a, b: random with an offset; wa, wb: their whitened copies */
    tensor a = test_randn4(&env.r, n, c, h, w, 1.0f), b = test_randn4(&env.r, n, c, h, w, 1.0f);
    tensor wa = test_randn4(&env.r, n, c, h, w, 0.0f), wb = test_randn4(&env.r, n, c, h, w, 0.0f);
    const size_t numel = tensor_numel(&a);
    for (size_t i = 0; i < numel; i++) {
      a.data[i] += 3.0f, b.data[i] += 3.0f;
      wa.data[i] = a.data[i], wb.data[i] = b.data[i];
    }
    TRY_OK(whiten_apply(&env.ctx, (whiten_mode)mode, &wa));
    TRY_OK(whiten_apply(&env.ctx, (whiten_mode)mode, &wb));
    double lhs = 0.0, rhs = 0.0; /* <W a, b> == <a, W b> */
    for (size_t i = 0; i < numel; i++)
      lhs += (double)wa.data[i] * b.data[i], rhs += (double)a.data[i] * wb.data[i];
    cr_assert(fabs(lhs - rhs) < 1e-4 * (1.0 + fabs(lhs)), "mode %d: not self-adjoint", mode);
    bool channel_offsets = false; /* ln keeps each channel's own offset from the mean */
    for (int s = 0; s < n; s++) {
      double sample_sum = 0.0;
      for (int ch = 0; ch < c; ch++) {
        double sum = 0.0;
        for (int i = 0; i < p; i++)
          sum += wb.data[((size_t)s * c + ch) * p + i];
        sample_sum += sum;
        channel_offsets = channel_offsets || fabs(sum) > 1e-2;
        if (mode == WHITEN_CHANNEL)
          cr_assert(fabs(sum) < 1e-4, "in: channel mean %g", sum / p);
        if (mode == WHITEN_NONE)
          cr_assert(fabs(sum) > 1.0, "none must not center");
      }
      if (mode != WHITEN_NONE)
        cr_assert(fabs(sample_sum) < 1e-4, "mode %d: sample mean %g", mode, sample_sum);
    }
    if (mode == WHITEN_SAMPLE)
      cr_assert(channel_offsets, "ln must not center each channel");
    tensor_free(&a), tensor_free(&b), tensor_free(&wa), tensor_free(&wb);
  }
  test_env_free(&env);
}

typedef struct combine_problem {
  test_env *env;
  tensor *gamma, *pair, *unary, *dgamma, *dpair, *dunary;
} combine_problem;

static dnl_status combine_fwd(void *user, tensor *y) {
  combine_problem *p = user;
  arena_reset(&p->env->act);
  DNL_TRY(arena_tensor(p->env->ctx.act, y, 4, p->pair->shape));
  return p->env->ctx.be->attention_combine_forward(p->pair->shape[0], p->pair->shape[1],
                                                   p->pair->shape[2] * p->pair->shape[3],
                                                   p->gamma->data, p->pair->data,
                                                   p->unary->data, y->data);
}

static dnl_status combine_bwd(void *user, const tensor *dy) {
  combine_problem *p = user;
  return p->env->ctx.be->attention_combine_backward(
      p->pair->shape[0], p->pair->shape[1], p->pair->shape[2] * p->pair->shape[3],
      p->gamma->data, p->pair->data, dy->data, p->dpair->data, p->dgamma->data,
      p->dunary->data);
}

Test(attention, combine_gradients) {
  test_env env;
  test_env_init(&env, 12);
  const int one[1] = {1}, ushape[2] = {2, 3};
  tensor gamma = test_randn(&env.r, 1, one, 1.0f), pair = test_randn4(&env.r, 2, 3, 2, 5, 1.0f);
  tensor unary = test_randn(&env.r, 2, ushape, 1.0f);
  tensor dgamma, dpair, dunary;
  TRY_OK(tensor_alloc(&dgamma, DEVICE_CPU, 1, one));
  TRY_OK(tensor_alloc(&dpair, DEVICE_CPU, 4, pair.shape));
  TRY_OK(tensor_alloc(&dunary, DEVICE_CPU, 2, ushape));
  combine_problem p = {&env, &gamma, &pair, &unary, &dgamma, &dpair, &dunary};
  gradcheck_problem gp = {&p, combine_fwd, combine_bwd};
  gradcheck_var vars[3] = {
      {"gamma", &gamma, &dgamma}, {"pair", &pair, &dpair}, {"unary", &unary, &dunary}};
  gradcheck("combine", &gp, vars, 3, (gradcheck_opts){.seed = 3});
  tensor_free(&gamma), tensor_free(&pair), tensor_free(&unary);
  tensor_free(&dgamma), tensor_free(&dpair), tensor_free(&dunary);
  test_env_free(&env);
}

Test(attention, rejects_mismatched_shapes) {
  test_env env;
  test_env_init(&env, 13);
  tensor q = test_randn4(&env.r, 1, 4, 3, 3, 1.0f), k = test_randn4(&env.r, 1, 5, 3, 3, 1.0f);
  tensor v = test_randn4(&env.r, 1, 2, 3, 3, 1.0f), out;
  pairwise_attention a = {.fused = true, .scale = 1.0f};
  cr_assert_eq(pairwise_attention_forward(&a, &env.ctx, &q, &k, &v, &out), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "attention key"), "message: %s", dnl_last_error());
  tensor_free(&q), tensor_free(&k), tensor_free(&v);
  test_env_free(&env);
}

/* A NaN in the input reaches the output of both kernels (training stops on it). */
Test(attention, nan_propagates) {
  for (int fused = 0; fused < 2; fused++) {
    test_env env;
    test_env_init(&env, 14);
    tensor q = test_randn4(&env.r, 1, 4, 17, 19, 1.0f);
    tensor k = test_randn4(&env.r, 1, 4, 17, 19, 1.0f);
    tensor v = test_randn4(&env.r, 1, 3, 17, 19, 1.0f), out;
    q.data[5] = NAN;
    pairwise_attention a = {.fused = fused, .scale = 0.5f};
    TRY_OK(pairwise_attention_forward(&a, &env.ctx, &q, &k, &v, &out));
    cr_assert(isnan(out.data[5]), "kernel %d: query 5 gives %g", fused, (double)out.data[5]);
    tensor_free(&q), tensor_free(&k), tensor_free(&v);
    test_env_free(&env);
  }
}
