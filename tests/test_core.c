#include <math.h>
#include <string.h>

#include "lib/core/arena.h"
#include "lib/core/backend.h"
#include "lib/core/params.h"
#include "lib/core/tensor.h"
#include "tests/test_util.h"

/* ---- arena ---- */

/* The CPU backend with its allocations counted. */
static int alloc_calls, free_calls;
static dnl_status counting_alloc(size_t bytes, void **out) {
  alloc_calls++;
  return cpu_backend()->alloc(bytes, out);
}

static void counting_free(void *p) {
  free_calls++;
  cpu_backend()->free(p);
}

static dnl_backend counting_backend(void) {
  dnl_backend be = *cpu_backend();
  be.alloc = counting_alloc;
  be.free = counting_free;
  return be;
}

/* One "training step" of allocations: sizes chosen to overflow a 1 KiB block. */
static void step_allocs(arena *a, char **p) {
  static const size_t sizes[4] = {700, 900, 3000, 10};
  for (int i = 0; i < 4; i++)
    TRY_OK(arena_alloc(a, sizes[i], (void **)&p[i]));
  for (int i = 0; i < 4; i++) {
    cr_assert((uintptr_t)p[i] % 256 == 0, "allocation %d not 256-aligned", i);
    memset(p[i], i + 1, sizes[i]); /* writable end to end (asan checks) */
  }
}

Test(arena, grows_then_one_block_after_reset) {
  dnl_backend be = counting_backend();
  arena a;
  alloc_calls = 0;
  TRY_OK(arena_init(&a, &be, 1024));
  cr_assert_eq(alloc_calls, 1);
  char *p[4], *q[4];
  step_allocs(&a, p);
  cr_assert(alloc_calls > 1, "the step overflowed the first block");
  const size_t peak = 768 + 1024 + 3072 + 256; /* each rounded up to 256 */
  cr_assert_eq(a.used, peak);
  cr_assert_eq(a.peak, peak);

  arena_reset(&a);
  cr_assert_eq(a.used, 0u);
  const int after_reset = alloc_calls;
  step_allocs(&a, q);
  cr_assert_eq(alloc_calls, after_reset, "the second step allocated %d more blocks",
               alloc_calls - after_reset);
  for (int i = 1; i < 4; i++) /* one block: consecutive, aligned offsets */
    cr_assert_eq(q[i] - q[i - 1], (ptrdiff_t)(i == 1 ? 768 : i == 2 ? 1024 : 3072));
  cr_assert_eq(a.peak, peak);

  arena_reset(&a);
  TRY_OK(arena_alloc(&a, 100, (void **)&q[0]));
  cr_assert_eq(a.peak, peak, "peak keeps the largest step");
  cr_assert_eq(a.used, 256u);
  arena_free(&a);
}

/* A step that releases as the backward pass does: a kept allocation, then
 * temporaries released back to a mark, twice; the second round reuses the
 * first's memory. */
static void release_step(arena *a, char **kept, char **tmp) {
  TRY_OK(arena_alloc(a, 500, (void **)&kept[0]));
  memset(kept[0], 0x5a, 500);
  for (int round = 0; round < 2; round++) {
    const arena_mark m = arena_get_mark(a);
    TRY_OK(arena_alloc(a, 2000, (void **)&tmp[round]));
    memset(tmp[round], round + 1, 2000);
    arena_release(a, m);
  }
  TRY_OK(arena_alloc(a, 300, (void **)&kept[1]));
  memset(kept[1], 0x6b, 300);
}

Test(arena, release_frees_back_to_the_mark) {
  dnl_backend be = counting_backend();
  arena a;
  alloc_calls = 0;
  TRY_OK(arena_init(&a, &be, 1024));
  char *kept[2], *tmp[2];
  release_step(&a, kept, tmp); /* the temporaries overflow the first block */
  cr_assert_eq(tmp[1], tmp[0], "released memory is reused");
  cr_assert_eq(a.used, 512u + 512u, "after the step: the two kept allocations");
  cr_assert_eq(a.peak, 512u + 2048u, "peak: the kept one and one temporary");
  for (int i = 0; i < 500; i++)
    cr_assert_eq(kept[0][i], 0x5a, "the allocation before the mark stays intact");

  arena_reset(&a);
  const int after_reset = alloc_calls;
  release_step(&a, kept, tmp);
  cr_assert_eq(alloc_calls, after_reset, "the second step fits in one block of the peak");
  cr_assert_eq(tmp[0] - kept[0], 512, "one block: the temporary right after the kept one");
  cr_assert_eq(kept[1], tmp[0], "the last allocation takes the released place");
  cr_assert_eq(a.peak, 512u + 2048u);
  arena_free(&a);
}

/* A first pass that releases as it goes keeps only the newest (largest) of the
 * blocks it outgrew: inference over units of growing temporaries does not keep
 * every block it ever needed. */
Test(arena, release_frees_outgrown_blocks) {
  dnl_backend be = counting_backend();
  arena a;
  alloc_calls = free_calls = 0;
  TRY_OK(arena_init(&a, &be, 1024));
  void *kept, *t;
  TRY_OK(arena_alloc(&a, 256, &kept));
  const arena_mark m = arena_get_mark(&a);
  TRY_OK(arena_alloc(&a, 2048, &t)); /* block 2 */
  TRY_OK(arena_alloc(&a, 4096, &t)); /* block 3 */
  TRY_OK(arena_alloc(&a, 8192, &t)); /* block 4 */
  cr_assert_eq(alloc_calls, 4);
  arena_release(&a, m);
  cr_assert_eq(free_calls, 2, "blocks 2 and 3 freed, the newest kept");
  void *again;
  TRY_OK(arena_alloc(&a, 8000, &again));
  cr_assert_eq(again, t, "the kept block is reused");
  cr_assert_eq(alloc_calls, 4);
  arena_free(&a);
}

Test(arena, tensors) {
  arena a;
  TRY_OK(arena_init(&a, cpu_backend(), 0));
  tensor t;
  TRY_OK(arena_tensor4(&a, &t, 2, 3, 4, 5));
  cr_assert_eq(t.ndim, 4);
  cr_assert_eq(tensor_numel(&t), 120u);
  cr_assert_eq(t.device, DEVICE_CPU);
  cr_assert(!t.owner, "arena tensors are freed with the arena");
  cr_assert_eq(arena_tensor(&a, &t, 5, (const int[5]){1, 1, 1, 1, 1}), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "rank 5"), "message: %s", dnl_last_error());
  arena_free(&a);
}

/* ---- parameter store ---- */

static const param_init zero_init = {PARAM_INIT_CONST, 0.0f, 0.0f};

Test(params, names_offsets_and_lookup) {
  param_store ps;
  params_init(&ps);
  tensor v[3], g[3];
  TRY_OK(params_add(&ps, "backbone.prefix.conv1.weight", 4, (const int[4]){64, 3, 3, 3},
                    PARAM_TRAINABLE, zero_init, &v[0], &g[0]));
  TRY_OK(params_add(&ps, "head.block.gamma", 1, (const int[1]){1}, PARAM_TRAINABLE, zero_init,
                    &v[1], &g[1]));
  TRY_OK(params_add(&ps, "backbone.prefix.bn1.running_mean", 1, (const int[1]){64}, PARAM_BUFFER,
                    zero_init, &v[2], NULL));
  tensor dv, dg;
  cr_assert_eq(params_add(&ps, "head.block.gamma", 1, (const int[1]){1}, PARAM_TRAINABLE, zero_init,
                          &dv, &dg),
               DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "duplicate") && strstr(dnl_last_error(), "head.block.gamma"),
            "message: %s", dnl_last_error());
  cr_assert_eq(params_add(&ps, "head.cls.weight", 1, (const int[1]){4}, PARAM_TRAINABLE, zero_init,
                          &dv, NULL),
               DNL_ERR_ARG, "a trainable parameter needs a gradient");
  cr_assert_eq(ps.count, 3);
  cr_assert_null(params_find(&ps, "head.block.gama"));
  cr_assert_null(params_find(&ps, "head.block"));
  cr_assert_eq(params_count_trainable(&ps), 64u * 27 + 1);

  TRY_OK(params_finalize(&ps, cpu_backend()));
  /* offsets follow registration order, each entry padded to 16 floats */
  size_t expect = 0;
  for (int i = 0; i < ps.count; i++) {
    param_entry *e = &ps.entries[i];
    cr_assert_eq(e->offset, expect, "%s offset %zu, want %zu", e->name, e->offset, expect);
    cr_assert_eq(e->value->data, ps.values + e->offset);
    cr_assert_eq(params_find(&ps, e->name), e);
    expect += (e->numel + 15) / 16 * 16;
  }
  cr_assert_eq(ps.total, expect);
  cr_assert_eq(g[0].data, ps.grads);
  cr_assert_eq(g[1].data, ps.grads + ps.entries[1].offset);
  cr_assert_null(ps.entries[2].grad, "buffers have no gradient");
  cr_assert_eq(v[0].ndim, 4);
  cr_assert_eq(v[0].shape[0], 64);
  cr_assert_eq(params_add(&ps, "late", 1, (const int[1]){1}, PARAM_TRAINABLE, zero_init, &dv, &dg),
               DNL_ERR_ARG, "no additions after finalize");
  cr_assert_eq(params_finalize(&ps, cpu_backend()), DNL_ERR_ARG);
  params_free(&ps);
}

/* Constant, normal and uniform rules with their statistics; the same seed
 * gives the same values. */
Test(params, init_rules) {
  float first[3] = {0};
  for (int run = 0; run < 2; run++) {
    param_store ps;
    params_init(&ps);
    tensor c, cg, nrm, ng, uni, ug;
    const int big[1] = {20000};
    TRY_OK(params_add(&ps, "c", 1, (const int[1]){7}, PARAM_TRAINABLE,
                      (param_init){PARAM_INIT_CONST, 0.25f, 0}, &c, &cg));
    TRY_OK(params_add(&ps, "n", 1, big, PARAM_TRAINABLE,
                      (param_init){PARAM_INIT_NORMAL, 0.5f, 0.01f}, &nrm, &ng));
    TRY_OK(params_add(&ps, "u", 1, big, PARAM_TRAINABLE,
                      (param_init){PARAM_INIT_UNIFORM, -0.2f, 0.3f}, &uni, &ug));
    TRY_OK(params_finalize(&ps, cpu_backend()));
    TRY_OK(params_init_values(&ps, 42));
    for (int i = 0; i < 7; i++)
      cr_assert_eq(c.data[i], 0.25f);
    double sn = 0, snn = 0, su = 0;
    float lo = 1, hi = -1;
    for (int i = 0; i < big[0]; i++) {
      sn += nrm.data[i];
      snn += (double)nrm.data[i] * nrm.data[i];
      su += uni.data[i];
      lo = fminf(lo, uni.data[i]);
      hi = fmaxf(hi, uni.data[i]);
    }
    const double mean = sn / big[0], sd = sqrt(snn / big[0] - mean * mean);
    cr_assert(fabs(mean - 0.5) < 0.0005, "normal mean %g", mean);
    cr_assert(fabs(sd - 0.01) < 0.0005, "normal std %g", sd);
    cr_assert(lo >= -0.2f && hi < 0.3f && lo < -0.19f && hi > 0.29f, "uniform range %g..%g",
              (double)lo, (double)hi);
    cr_assert(fabs(su / big[0] - 0.05) < 0.005, "uniform mean %g", su / big[0]);
    if (run == 0) {
      first[0] = nrm.data[0], first[1] = nrm.data[19999], first[2] = uni.data[123];
    } else {
      cr_assert(first[0] == nrm.data[0] && first[1] == nrm.data[19999] && first[2] == uni.data[123],
                "same seed, same values");
    }
    params_free(&ps);
  }
}

/* Each parameter draws from its own stream keyed by (seed, name): its values do
 * not depend on what else is registered, nor in which order. */
Test(params, init_values_keyed_by_name) {
  float a_vals[2][50], b_vals[2][50];
  for (int run = 0; run < 2; run++) {
    param_store ps;
    params_init(&ps);
    tensor v[3], g[3];
    const param_init rule = {PARAM_INIT_NORMAL, 0.0f, 1.0f};
    /* run 0: a, b; run 1: extra, b, a */
    const char *order[2][3] = {{"a", "b", NULL}, {"extra", "b", "a"}};
    for (int i = 0; i < 3 && order[run][i]; i++)
      TRY_OK(params_add(&ps, order[run][i], 1, (const int[1]){50}, PARAM_TRAINABLE, rule, &v[i],
                        &g[i]));
    TRY_OK(params_finalize(&ps, cpu_backend()));
    TRY_OK(params_init_values(&ps, 7));
    memcpy(a_vals[run], params_find(&ps, "a")->value->data, sizeof a_vals[run]);
    memcpy(b_vals[run], params_find(&ps, "b")->value->data, sizeof b_vals[run]);
    if (run == 0) { /* another seed gives other values */
      TRY_OK(params_init_values(&ps, 8));
      cr_assert(memcmp(a_vals[0], params_find(&ps, "a")->value->data, sizeof a_vals[0]));
    }
    params_free(&ps);
  }
  cr_assert(memcmp(a_vals[0], a_vals[1], sizeof a_vals[0]) == 0, "a depends on the others");
  cr_assert(memcmp(b_vals[0], b_vals[1], sizeof b_vals[0]) == 0, "b depends on the others");
  cr_assert(memcmp(a_vals[0], b_vals[0], sizeof a_vals[0]), "a and b share a stream");
}

/* params_tie_init needs both names, equal shapes and equal init rules;
 * params_set_lr_mult matches whole name components and refuses factors <= 0. */
Test(params, tie_init_and_lr_mult_checks) {
  param_store ps;
  params_init(&ps);
  tensor v[4], g[4];
  const param_init rule = {PARAM_INIT_NORMAL, 0.0f, 1.0f};
  TRY_OK(params_add(&ps, "b.q", 1, (const int[1]){4}, PARAM_TRAINABLE, rule, &v[0], &g[0]));
  TRY_OK(params_add(&ps, "b.k", 1, (const int[1]){4}, PARAM_TRAINABLE, rule, &v[1], &g[1]));
  TRY_OK(params_add(&ps, "b.wide", 1, (const int[1]){5}, PARAM_TRAINABLE, rule, &v[2], &g[2]));
  TRY_OK(params_add(&ps, "bx.w", 1, (const int[1]){4}, PARAM_TRAINABLE,
                    (param_init){PARAM_INIT_NORMAL, 0.0f, 2.0f}, &v[3], &g[3]));
  cr_assert_eq(params_tie_init(&ps, "b.wide", "b.q"), DNL_ERR_ARG, "shapes differ");
  cr_assert(strstr(dnl_last_error(), "b.wide"), "%s", dnl_last_error());
  cr_assert_eq(params_tie_init(&ps, "bx.w", "b.q"), DNL_ERR_ARG, "init rules differ");
  cr_assert_eq(params_tie_init(&ps, "b.k", "b.missing"), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "b.missing"), "%s", dnl_last_error());
  TRY_OK(params_tie_init(&ps, "b.k", "b.q"));
  int n = -1;
  cr_assert_eq(params_set_lr_mult(&ps, "b", 0.0f, &n), DNL_ERR_ARG);
  cr_assert_eq(params_set_lr_mult(&ps, "b", NAN, &n), DNL_ERR_ARG);
  TRY_OK(params_set_lr_mult(&ps, "b", 2.5f, &n));
  cr_assert_eq(n, 3);
  cr_assert_eq(params_find(&ps, "bx.w")->lr_mult, 1.0f);
  cr_assert_eq(params_find(&ps, "b.q")->lr_mult, 2.5f);
  TRY_OK(params_finalize(&ps, cpu_backend()));
  cr_assert_eq(params_tie_init(&ps, "b.wide", "b.q"), DNL_ERR_ARG, "tie after finalize");
  TRY_OK(params_init_values(&ps, 3));
  cr_assert(memcmp(v[0].data, v[1].data, 4 * sizeof(float)) == 0, "tied values differ");
  params_free(&ps);
}

/* PARAM_NO_DECAY steps without weight decay, PARAM_BUFFER is not touched. */
Test(params, sgd_step_honours_kinds) {
  param_store ps;
  params_init(&ps);
  tensor v[3], g[3];
  static const param_kind kinds[3] = {PARAM_TRAINABLE, PARAM_NO_DECAY, PARAM_BUFFER};
  static const char *names[3] = {"w", "nowd", "buf"};
  for (int i = 0; i < 3; i++)
    TRY_OK(params_add(&ps, names[i], 1, (const int[1]){3}, kinds[i],
                      (param_init){PARAM_INIT_CONST, 2.0f, 0}, &v[i], &g[i]));
  TRY_OK(params_finalize(&ps, cpu_backend()));
  TRY_OK(params_init_values(&ps, 1));
  for (size_t i = 0; i < ps.total; i++) /* gradient 1 everywhere, buffers included */
    ps.grads[i] = 1.0f;
  const float lr = 0.1f, mom = 0.9f, wd = 0.5f;
  TRY_OK(params_sgd_step(&ps, lr, mom, wd));
  TRY_OK(params_sgd_step(&ps, lr, mom, wd));
  /* step 1: buf = 1 + wd*2; step 2: buf = mom*buf + 1 + wd*w1 */
  const float w1 = 2.0f - lr * (1.0f + wd * 2.0f);
  const float w2 = w1 - lr * (mom * (1.0f + wd * 2.0f) + 1.0f + wd * w1);
  const float n2 = 2.0f - lr * 1.0f - lr * (mom * 1.0f + 1.0f);
  for (int j = 0; j < 3; j++) {
    cr_assert_float_eq(v[0].data[j], w2, 1e-6, "decayed %g, want %g", (double)v[0].data[j],
                       (double)w2);
    cr_assert_float_eq(v[1].data[j], n2, 1e-6, "no decay %g, want %g", (double)v[1].data[j],
                       (double)n2);
    cr_assert_eq(v[2].data[j], 2.0f, "buffer moved");
  }
  TRY_OK(params_zero_grad(&ps));
  for (size_t i = 0; i < ps.total; i++)
    cr_assert_eq(ps.grads[i], 0.0f);
  params_free(&ps);

  param_store empty;
  params_init(&empty);
  cr_assert_eq(params_sgd_step(&empty, lr, mom, wd), DNL_ERR_ARG, "step before finalize");
  params_free(&empty);
}

/* ---- tensors and status ---- */

Test(tensor, expect_messages_name_tensor_and_shapes) {
  float data[24] = {0};
  tensor t = tensor_view4(data, DEVICE_CPU, 2, 3, 2, 2);
  TRY_OK(tensor_expect(&t, "x", 4, 2, -1, 2, 2));
  cr_assert_eq(tensor_expect(&t, "head.conva input", 4, 2, 5, -1, -1), DNL_ERR_SHAPE);
  const char *msg = dnl_last_error();
  cr_assert(strstr(msg, "head.conva input") && strstr(msg, "[2, 3, 2, 2]") &&
                strstr(msg, "[2, 5, *, *]"),
            "message: %s", msg);
  cr_assert_eq(tensor_expect(&t, "logits", 3, -1, -1, -1, -1), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "[*, *, *]"), "message: %s", dnl_last_error());
  cr_assert_eq(tensor_expect(NULL, "labels", 4, -1, -1, -1, -1), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "labels") && strstr(dnl_last_error(), "NULL"), "message: %s",
            dnl_last_error());
  tensor empty = tensor_view4(NULL, DEVICE_CPU, 1, 1, 1, 1);
  cr_assert_eq(tensor_expect(&empty, "w", 4, -1, -1, -1, -1), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "no data"), "message: %s", dnl_last_error());

  tensor u = tensor_view4(data, DEVICE_CPU, 2, 3, 4, 1);
  cr_assert_eq(tensor_expect_same(&t, "a", &u, "b"), DNL_ERR_SHAPE);
  msg = dnl_last_error();
  cr_assert(strstr(msg, "[2, 3, 2, 2]") && strstr(msg, "[2, 3, 4, 1]"), "message: %s", msg);
  tensor on_gpu = tensor_view4(data, DEVICE_CUDA, 2, 3, 2, 2);
  cr_assert_eq(tensor_expect_same(&t, "a", &on_gpu, "b"), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "cuda"), "message: %s", dnl_last_error());
}

Test(status, context_prepends) {
  dnl_error(DNL_ERR_IO, "cannot open %s", "x.h5");
  cr_assert_eq(dnl_error_context(DNL_ERR_IO, "checkpoint %d", 3), DNL_ERR_IO);
  cr_assert_str_eq(dnl_last_error(), "checkpoint 3: cannot open x.h5");
  dnl_clear_error();
  cr_assert_str_eq(dnl_last_error(), "");
}

/* ---- backends ---- */

Test(backend, cpu_has_every_op) {
  TRY_OK(backend_check(cpu_backend()));
  const dnl_backend *be = NULL;
  TRY_OK(backend_get(DEVICE_CPU, &be));
  cr_assert_eq(be, cpu_backend());
  dnl_backend partial = *cpu_backend();
  partial.select_kth = NULL;
  cr_assert_eq(backend_check(&partial), DNL_ERR_UNSUPPORTED);
  cr_assert(strstr(dnl_last_error(), "select_kth") && strstr(dnl_last_error(), "cpu"),
            "message: %s", dnl_last_error());
  cr_assert_eq(backend_check(NULL), DNL_ERR_ARG);
}

#ifndef DNL_WITH_CUDA
Test(backend, cuda_unsupported_in_cpu_build) {
  const dnl_backend *be = cpu_backend();
  dnl_clear_error();
  cr_assert_eq(backend_get(DEVICE_CUDA, &be), DNL_ERR_UNSUPPORTED);
  cr_assert_null(be);
  cr_assert(strstr(dnl_last_error(), "cuda") && strstr(dnl_last_error(), "CUDA=1"), "message: %s",
            dnl_last_error());
  tensor t;
  cr_assert_eq(tensor_alloc(&t, DEVICE_CUDA, 1, (const int[1]){4}), DNL_ERR_UNSUPPORTED);
}
#endif
