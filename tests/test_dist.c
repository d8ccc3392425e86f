/* Data-parallel pieces in one process: the communicator's single-process
 * behaviour, and synchronised batch norm and dropout on ranks simulated by
 * threads sharing a fake communicator (lib/dist/dist.h's ops). The multi-process
 * runs through mpirun are in test_dist_mpi.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dist/dist.h"
#include "lib/dist/dist_device.h"
#include "lib/dist/dist_mpi.h"
#include "lib/dist/dist_nccl.h"
#include "lib/layers/batchnorm.h"
#include "lib/layers/dropout.h"
#include "tests/test_util.h"

/* ---- ranks as threads ---- */

#define FAKE_MAX 4

typedef struct fake_world {
  int size;
  pthread_barrier_t bar;
  const void *in[FAKE_MAX];
} fake_world;

/* Every rank publishes its buffer, reads all of them in rank order, and
 * writes its result only after every rank has read. */
static dnl_status fake_allreduce(dist *d, void *buf, size_t count, dist_type type,
                                 const char *what) {
  (void)what;
  fake_world *w = d->impl;
  const size_t elem = type == DIST_F32 ? sizeof(float) : 8;
  void *sum = calloc(count, elem);
  cr_assert_not_null(sum);
  w->in[d->rank] = buf;
  pthread_barrier_wait(&w->bar);
  for (int r = 0; r < w->size; r++)
    for (size_t i = 0; i < count; i++) {
      if (type == DIST_F32)
        ((float *)sum)[i] += ((const float *)w->in[r])[i];
      else if (type == DIST_F64)
        ((double *)sum)[i] += ((const double *)w->in[r])[i];
      else
        ((int64_t *)sum)[i] += ((const int64_t *)w->in[r])[i];
    }
  pthread_barrier_wait(&w->bar);
  memcpy(buf, sum, count * elem);
  free(sum);
  return DNL_OK;
}

static dnl_status fake_allgather(dist *d, const void *mine, size_t bytes, void *all,
                                 const char *what) {
  (void)what;
  fake_world *w = d->impl;
  w->in[d->rank] = mine;
  pthread_barrier_wait(&w->bar);
  for (int r = 0; r < w->size; r++)
    memcpy((char *)all + (size_t)r * bytes, w->in[r], bytes);
  pthread_barrier_wait(&w->bar);
  return DNL_OK;
}

static const dist_ops fake_ops = {.allreduce_sum = fake_allreduce,
                                  .allgather = fake_allgather};

static void fake_world_init(fake_world *w, dist *ranks, int size) {
  cr_assert(size <= FAKE_MAX);
  memset(w, 0, sizeof *w);
  w->size = size;
  pthread_barrier_init(&w->bar, NULL, (unsigned)size);
  for (int r = 0; r < size; r++)
    ranks[r] = (dist){.name = "threads", .rank = r, .size = size, .local_rank = r,
                      .local_size = size, .timeout = 10, .ops = &fake_ops, .impl = w};
}

/* Runs fn(arg[r]) on one thread per rank; returns after all finished. */
static void run_ranks(int size, void *(*fn)(void *), void *args, size_t arg_size) {
  pthread_t t[FAKE_MAX];
  for (int r = 0; r < size; r++)
    cr_assert_eq(pthread_create(&t[r], NULL, fn, (char *)args + (size_t)r * arg_size), 0);
  for (int r = 0; r < size; r++)
    pthread_join(t[r], NULL);
}

/* ---- the communicator alone ---- */

Test(dist, single_process_collectives_are_local) {
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMI_SIZE");
  dist *d;
  TRY_OK(dist_open(&d));
  cr_assert_eq(d->size, 1);
  cr_assert_eq(d->rank, 0);
  cr_assert_str_eq(d->name, "single");
  float x[3] = {1, 2, 3};
  TRY_OK(dist_allreduce_sum(d, x, 3, DIST_F32, "x"));
  cr_assert(x[0] == 1 && x[1] == 2 && x[2] == 3);
  int64_t mine = 42, all = 0;
  TRY_OK(dist_allgather(d, &mine, sizeof mine, &all, "value"));
  cr_assert_eq(all, 42);
  TRY_OK(dist_barrier(d, "barrier"));
  TRY_OK(dist_check_same(d, 7, "value"));
  dist_abort(d, 1); /* returns with one process */
  dist_close(d);
  cr_assert_eq(dist_size(NULL), 1);
  cr_assert_eq(dist_rank(NULL), 0);
}

Test(dist, launcher_size_and_timeout_from_the_environment) {
  unsetenv("PMI_SIZE");
  setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  cr_assert_eq(dist_launcher_size(), 3);
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("PMI_SIZE", "2", 1);
  cr_assert_eq(dist_launcher_size(), 2);
  setenv("PMI_SIZE", "two", 1);
  cr_assert_eq(dist_launcher_size(), 0);
  unsetenv("PMI_SIZE");
  cr_assert_eq(dist_launcher_size(), 0);
  setenv("DNL_DIST_TIMEOUT", "-1", 1);
  dist *d = NULL;
  cr_assert_neq(dist_open(&d), DNL_OK);
  cr_assert(strstr(dnl_last_error(), "DNL_DIST_TIMEOUT=-1"), "%s", dnl_last_error());
  setenv("DNL_DIST_TIMEOUT", "2.5", 1);
  TRY_OK(dist_open(&d));
  cr_assert_eq(d->timeout, 2.5);
  dist_close(d);
}

Test(dist, build_without_mpi_refuses_to_be_one_of_several_ranks) {
  if (dist_mpi_built())
    cr_skip("this build has MPI (make MPI=0 builds the one this test is for)");
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  dist *d = NULL;
  cr_assert_eq(dist_open(&d), DNL_ERR_UNSUPPORTED);
  cr_assert(strstr(dnl_last_error(), "no MPI") && strstr(dnl_last_error(), "2 ranks"), "%s",
            dnl_last_error());
}

typedef struct same_arg {
  dist *d;
  uint64_t value;
  dnl_status st;
  char msg[256];
} same_arg;

static void *check_same_rank(void *p) {
  same_arg *a = p;
  a->st = dist_check_same(a->d, a->value, "the resolved config");
  snprintf(a->msg, sizeof a->msg, "%s", dnl_last_error());
  return NULL;
}

Test(dist, check_same_names_the_differing_ranks_on_every_rank) {
  fake_world w;
  dist d[4];
  fake_world_init(&w, d, 4);
  same_arg a[4] = {{.d = &d[0], .value = 5}, {.d = &d[1], .value = 5},
                   {.d = &d[2], .value = 9}, {.d = &d[3], .value = 8}};
  run_ranks(4, check_same_rank, a, sizeof a[0]);
  for (int r = 0; r < 4; r++) {
    cr_assert_eq(a[r].st, DNL_ERR_ARG, "rank %d", r);
    cr_assert(strstr(a[r].msg, "the resolved config: ranks 2, 3 of 4 differ from rank 0"),
              "rank %d: %s", r, a[r].msg);
  }
  a[2].value = a[3].value = 5;
  run_ranks(4, check_same_rank, a, sizeof a[0]);
  for (int r = 0; r < 4; r++)
    cr_assert_eq(a[r].st, DNL_OK, "rank %d: %s", r, a[r].msg);
  pthread_barrier_destroy(&w.bar);
}

/* ---- buffers in device memory ---- */

/* A "GPU" whose memory is host memory, counting its copies and syncs: the
 * host-copies path of dist_allreduce_sum_on without a GPU. */
static atomic_int fake_gpu_copies, fake_gpu_syncs;

static dnl_status fake_gpu_memcpy(void *dst, dnl_device dst_dev, const void *src,
                                  dnl_device src_dev, size_t bytes) {
  cr_assert_neq(dst_dev, src_dev, "want copies between the host and the device");
  atomic_fetch_add(&fake_gpu_copies, 1);
  memmove(dst, src, bytes);
  return DNL_OK;
}

static dnl_status fake_gpu_synchronize(void) {
  atomic_fetch_add(&fake_gpu_syncs, 1);
  return DNL_OK;
}

static const dnl_backend *fake_gpu(void) {
  static dnl_backend be;
  be = *cpu_backend();
  be.name = "fake-gpu";
  be.device = DEVICE_CUDA;
  be.memcpy = fake_gpu_memcpy;
  be.synchronize = fake_gpu_synchronize;
  return &be;
}

typedef struct device_arg {
  dist *d;
  const dnl_backend *be;
  double stats[5];
  float grads[3];
  dnl_status st;
  char msg[256];
} device_arg;

static void *device_rank(void *p) {
  device_arg *a = p;
  a->st = dist_use_device(a->d, a->be);
  if (a->st == DNL_OK)
    a->st = dist_allreduce_sum_on(a->d, a->be, a->stats, 5, DIST_F64, "bn");
  if (a->st == DNL_OK)
    a->st = dist_allreduce_sum_on(a->d, a->be, a->grads, 3, DIST_F32, "gradients");
  snprintf(a->msg, sizeof a->msg, "%s", dnl_last_error());
  return NULL;
}

Test(dist, device_buffers_go_through_host_copies_without_nccl) {
  if (dist_nccl_built())
    cr_skip("this build has NCCL, which wants a real GPU (tests/test_cuda_dist.c)");
  unsetenv("DNL_DIST_NCCL");
  const dnl_backend *gpu = fake_gpu();
  fake_world w;
  dist d[3];
  fake_world_init(&w, d, 3);
  device_arg a[3];
  for (int r = 0; r < 3; r++) {
    a[r] = (device_arg){.d = &d[r], .be = gpu};
    for (int i = 0; i < 5; i++)
      a[r].stats[i] = 10.0 * r + i;
    for (int i = 0; i < 3; i++)
      a[r].grads[i] = (float)((r + 1) * (i + 1));
  }
  atomic_store(&fake_gpu_copies, 0);
  atomic_store(&fake_gpu_syncs, 0);
  run_ranks(3, device_rank, a, sizeof a[0]);
  for (int r = 0; r < 3; r++) {
    cr_assert_eq(a[r].st, DNL_OK, "rank %d: %s", r, a[r].msg);
    for (int i = 0; i < 5; i++)
      cr_assert_eq(a[r].stats[i], 30.0 + 3 * i, "rank %d stats[%d] = %g", r, i, a[r].stats[i]);
    for (int i = 0; i < 3; i++)
      cr_assert_eq(a[r].grads[i], (float)(6 * (i + 1)), "rank %d grads[%d] = %g", r, i,
                   (double)a[r].grads[i]);
    cr_assert_str_eq(d[r].device_comm, "host copies (this build has no NCCL)");
    cr_assert_eq(d[r].comm_calls, 2);
    d[r].device_ops->close(&d[r]);
  }
  /* per rank and call: the device's work finished, one copy down, one back up */
  cr_assert_eq(atomic_load(&fake_gpu_syncs), 6);
  cr_assert_eq(atomic_load(&fake_gpu_copies), 12);
  pthread_barrier_destroy(&w.bar);
}

Test(dist, device_buffers_need_dist_use_device) {
  dist d = {.name = "two", .rank = 0, .size = 2, .local_size = 2, .timeout = 1};
  float x[2] = {1, 2};
  cr_assert_eq(dist_allreduce_sum_on(&d, fake_gpu(), x, 2, DIST_F32, "gradients"),
               DNL_ERR_INTERNAL);
  cr_assert(strstr(dnl_last_error(), "all-reduce of gradients") &&
                strstr(dnl_last_error(), "dist_use_device"),
            "%s", dnl_last_error());
  setenv("DNL_DIST_NCCL", "yes", 1);
  cr_assert_eq(dist_use_device(&d, fake_gpu()), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "DNL_DIST_NCCL=yes: expected 0"), "%s", dnl_last_error());
  unsetenv("DNL_DIST_NCCL");
  /* the CPU backend's buffers are host memory: nothing to set up */
  TRY_OK(dist_use_device(&d, cpu_backend()));
  cr_assert_null(d.device_be);
  TRY_OK(dist_allreduce_sum_on(NULL, fake_gpu(), x, 2, DIST_F32, "gradients"));
  cr_assert(x[0] == 1 && x[1] == 2);
}

/* ---- synchronised batch norm ---- */

/* One rank of a BN layer: its own parameters (copies of the shared ones),
 * arena and context, and its slice of the global batch. */
typedef struct bn_rank {
  test_env env;
  batchnorm_layer l;
  dist d;
  tensor x, dy, dx; /* views into the global tensors */
  tensor y;         /* from the rank's arena */
  dnl_status st;
} bn_rank;

static void bn_rank_init(bn_rank *r, int c) {
  test_env_init(&r->env, 1);
  TRY_OK(batchnorm_init(&r->l, &r->env.ps, "bn", c));
  test_env_finalize(&r->env, 0);
  r->env.ctx.dist = &r->d;
}

/* rank r holds samples first .. first + n - 1 of the global [N, c, h, w] */
static tensor sample_view(const tensor *t, int first, int n) {
  const size_t per = tensor_numel(t) / (size_t)t->shape[0];
  return tensor_view4(t->data + (size_t)first * per, DEVICE_CPU, n, t->shape[1], t->shape[2],
                      t->shape[3]);
}

static void *bn_rank_forward(void *p) {
  bn_rank *r = p;
  arena_reset(&r->env.act);
  r->st = batchnorm_forward(&r->l, &r->env.ctx, &r->x, &r->y);
  return NULL;
}

static void *bn_rank_backward(void *p) {
  bn_rank *r = p;
  memset(r->l.weight_grad.data, 0, tensor_numel(&r->l.weight_grad) * sizeof(float));
  memset(r->l.bias_grad.data, 0, tensor_numel(&r->l.bias_grad) * sizeof(float));
  r->st = batchnorm_backward(&r->l, &r->env.ctx, &r->x, &r->dy, &r->dx);
  return NULL;
}

/* A global batch split unevenly over three ranks gives what one layer gives on
 * the whole batch: outputs, running statistics, input gradients, and parameter
 * gradients once summed over the ranks (the gradient all-reduce). */
Test(dist, synchronised_batchnorm_equals_one_layer_on_the_global_batch) {
  enum { N = 5, C = 3, H = 4, W = 3, RANKS = 3 };
  static const int counts[RANKS] = {2, 1, 2};
  test_env env;
  test_env_init(&env, 31);
  batchnorm_layer whole;
  TRY_OK(batchnorm_init(&whole, &env.ps, "bn", C));
  test_env_finalize(&env, 0);
  test_fill_randn(&env.r, whole.weight.data, C, 1.0f);
  test_fill_randn(&env.r, whole.bias.data, C, 1.0f);
  tensor x = test_randn4(&env.r, N, C, H, W, 2.0f), dy = test_randn4(&env.r, N, C, H, W, 1.0f);
  for (size_t i = 0; i < tensor_numel(&x); i++)
    x.data[i] += 3.0f; /* a mean away from 0 */
  tensor y_whole, dx_whole, dx_ranks;
  TRY_OK(batchnorm_forward(&whole, &env.ctx, &x, &y_whole));
  TRY_OK(layer_ctx_zeros_like(&env.ctx, &dx_whole, &x));
  TRY_OK(layer_ctx_zeros_like(&env.ctx, &dx_ranks, &x));
  TRY_OK(batchnorm_backward(&whole, &env.ctx, &x, &dy, &dx_whole));

  fake_world w;
  dist d[RANKS];
  fake_world_init(&w, d, RANKS);
  bn_rank *ranks = calloc(RANKS, sizeof *ranks);
  for (int r = 0, first = 0; r < RANKS; first += counts[r], r++) {
    bn_rank_init(&ranks[r], C);
    ranks[r].d = d[r];
    memcpy(ranks[r].l.weight.data, whole.weight.data, C * sizeof(float));
    memcpy(ranks[r].l.bias.data, whole.bias.data, C * sizeof(float));
    ranks[r].x = sample_view(&x, first, counts[r]);
    ranks[r].dy = sample_view(&dy, first, counts[r]);
    ranks[r].dx = sample_view(&dx_ranks, first, counts[r]);
  }
  run_ranks(RANKS, bn_rank_forward, ranks, sizeof ranks[0]);
  run_ranks(RANKS, bn_rank_backward, ranks, sizeof ranks[0]);
  float dgamma[C] = {0}, dbeta[C] = {0};
  for (int r = 0, first = 0; r < RANKS; first += counts[r], r++) {
    bn_rank *k = &ranks[r];
    cr_assert_eq(k->st, DNL_OK, "rank %d: %s", r, dnl_last_error());
    tensor want = sample_view(&y_whole, first, counts[r]);
    ASSERT_CLOSE(k->y.data, want.data, tensor_numel(&want), 1e-6, 1e-5, "rank output");
    ASSERT_CLOSE(k->l.running_mean.data, whole.running_mean.data, C, 1e-7, 1e-6,
                 "running_mean");
    ASSERT_CLOSE(k->l.running_var.data, whole.running_var.data, C, 1e-7, 1e-6, "running_var");
    for (int ch = 0; ch < C; ch++) {
      dgamma[ch] += k->l.weight_grad.data[ch];
      dbeta[ch] += k->l.bias_grad.data[ch];
    }
  }
  ASSERT_CLOSE(dx_ranks.data, dx_whole.data, tensor_numel(&x), 1e-6, 1e-5, "input gradient");
  ASSERT_CLOSE(dgamma, whole.weight_grad.data, C, 1e-5, 1e-5, "weight gradient");
  ASSERT_CLOSE(dbeta, whole.bias_grad.data, C, 1e-5, 1e-5, "bias gradient");
  for (int r = 0; r < RANKS; r++)
    test_env_free(&ranks[r].env);
  free(ranks);
  pthread_barrier_destroy(&w.bar);
  tensor_free(&x);
  tensor_free(&dy);
  test_env_free(&env);
}

/* Finite differences through two synchronised ranks: the global batch's input
 * and the shared weight and bias (each rank holds a copy; their gradients are
 * the ranks' sum). */
typedef struct sync_problem {
  test_env *env;
  batchnorm_layer *shared;
  bn_rank *ranks;
  tensor *x, *dx;
} sync_problem;

enum { SYNC_RANKS = 2 };

static dnl_status sync_forward(void *user, tensor *y) {
  sync_problem *p = user;
  arena_reset(&p->env->act);
  const int n = p->x->shape[0] / SYNC_RANKS, c = p->shared->channels;
  for (int r = 0; r < SYNC_RANKS; r++) {
    memcpy(p->ranks[r].l.weight.data, p->shared->weight.data, (size_t)c * sizeof(float));
    memcpy(p->ranks[r].l.bias.data, p->shared->bias.data, (size_t)c * sizeof(float));
    p->ranks[r].x = sample_view(p->x, r * n, n);
  }
  run_ranks(SYNC_RANKS, bn_rank_forward, p->ranks, sizeof p->ranks[0]);
  DNL_TRY(arena_tensor(&p->env->act, y, 4, p->x->shape));
  for (int r = 0; r < SYNC_RANKS; r++) {
    DNL_TRY(p->ranks[r].st);
    tensor part = sample_view(y, r * n, n);
    memcpy(part.data, p->ranks[r].y.data, tensor_numel(&part) * sizeof(float));
  }
  return DNL_OK;
}

static dnl_status sync_backward(void *user, const tensor *dy) {
  sync_problem *p = user;
  const int n = p->x->shape[0] / SYNC_RANKS, c = p->shared->channels;
  for (int r = 0; r < SYNC_RANKS; r++) {
    p->ranks[r].dy = sample_view(dy, r * n, n);
    p->ranks[r].dx = sample_view(p->dx, r * n, n);
  }
  run_ranks(SYNC_RANKS, bn_rank_backward, p->ranks, sizeof p->ranks[0]);
  for (int r = 0; r < SYNC_RANKS; r++) {
    DNL_TRY(p->ranks[r].st);
    for (int ch = 0; ch < c; ch++) {
      p->shared->weight_grad.data[ch] += p->ranks[r].l.weight_grad.data[ch];
      p->shared->bias_grad.data[ch] += p->ranks[r].l.bias_grad.data[ch];
    }
  }
  return DNL_OK;
}

Test(dist, synchronised_batchnorm_gradients) {
  enum { C = 3 };
  test_env env;
  test_env_init(&env, 47);
  batchnorm_layer shared;
  TRY_OK(batchnorm_init(&shared, &env.ps, "bn", C));
  test_env_finalize(&env, 0.8f);
  tensor x = test_randn4(&env.r, 2 * SYNC_RANKS, C, 3, 2, 1.5f), dx;
  for (size_t i = 0; i < tensor_numel(&x); i++)
    x.data[i] -= 0.6f;
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  fake_world w;
  dist d[SYNC_RANKS];
  fake_world_init(&w, d, SYNC_RANKS);
  bn_rank ranks[SYNC_RANKS];
  for (int r = 0; r < SYNC_RANKS; r++) {
    bn_rank_init(&ranks[r], C);
    ranks[r].d = d[r];
  }
  sync_problem p = {&env, &shared, ranks, &x, &dx};
  gradcheck_problem gp = {&p, sync_forward, sync_backward};
  gradcheck_var vars[3] = {{"x", &x, &dx}, {"weight", &shared.weight, &shared.weight_grad},
                           {"bias", &shared.bias, &shared.bias_grad}};
  gradcheck("synchronised batchnorm over 2 ranks", &gp, vars, 3,
            (gradcheck_opts){.eps = 5e-3, .seed = 5});
  for (int r = 0; r < SYNC_RANKS; r++)
    test_env_free(&ranks[r].env);
  pthread_barrier_destroy(&w.bar);
  tensor_free(&x);
  tensor_free(&dx);
  test_env_free(&env);
}

/* ---- dropout ---- */

/* Each rank draws the masks of the global batch and keeps its samples' part,
 * so two ranks of two samples drop what one process of four drops, and their
 * random streams stay together. */
Test(dist, dropout_ranks_draw_the_global_mask) {
  enum { N = 4, C = 6, RANKS = 2 };
  test_env whole;
  test_env_init(&whole, 8);
  dropout2d_layer l;
  TRY_OK(dropout2d_init(&l, 0.5f));
  tensor x = test_randn4(&whole.r, N, C, 2, 2, 1.0f), y_whole;
  rng_seed(&whole.r, 77);
  TRY_OK(dropout2d_forward(&l, &whole.ctx, &x, &y_whole));
  TRY_OK(dropout2d_forward(&l, &whole.ctx, &x, &y_whole)); /* the second step's masks */
  fake_world w;
  dist d[RANKS];
  fake_world_init(&w, d, RANKS);
  for (int r = 0; r < RANKS; r++) {
    test_env env;
    test_env_init(&env, 8);
    env.ctx.dist = &d[r];
    rng_seed(&env.r, 77);
    tensor part = sample_view(&x, r * N / RANKS, N / RANKS), y;
    TRY_OK(dropout2d_forward(&l, &env.ctx, &part, &y));
    TRY_OK(dropout2d_forward(&l, &env.ctx, &part, &y));
    tensor want = sample_view(&y_whole, r * N / RANKS, N / RANKS);
    cr_assert(memcmp(y.data, want.data, tensor_numel(&y) * sizeof(float)) == 0,
              "rank %d: other channels dropped than one process drops", r);
    cr_assert(memcmp(env.r.s, whole.r.s, sizeof env.r.s) == 0, "rank %d: rng state differs", r);
    test_env_free(&env);
  }
  pthread_barrier_destroy(&w.bar);
  tensor_free(&x);
  test_env_free(&whole);
}
