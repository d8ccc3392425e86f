/* One full training iteration of the tiny model on the CUDA backend against the
 * CPU backend (same seed, same batch, same dropout masks): the losses and
 * every parameter and buffer after one SGD step agree to rtol 1e-4. TF32 is
 * off for the comparison (DNL_CUDA_TF32=0, read by the cuDNN convolutions when
 * the backend opens). And runner train --device cuda end to end. Skipped where
 * there is no GPU; until every op exists on CUDA, these fail at backend_check
 * naming the first missing op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/results_read.h"
#include "runner/train_step.h"
#include "tests/test_device.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

#define CLASSES 4
#define N 2
#define H 37
#define W 29

static char dir[64], cfg[128];

static void setup(void) {
  tmpdir_make(dir, sizeof dir, "cuda_train");
  tmpdir_path(cfg, sizeof cfg, dir, "tiny.cfg");
}
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(cuda_train, .init = setup, .fini = teardown, .timeout = 120);

/* The CUDA backend with TF32 off, or a skip. */
static const dnl_backend *cuda_fp32(void) {
  setenv("DNL_CUDA_TF32", "0", 1); /* before the backend opens (once per test process) */
  const dnl_backend *g = test_cuda_or_skip();
  TRY_OK(backend_check(g));
  return g;
}

/* The network of experiments/base/synth_tiny.cfg at a smaller width. */
static void write_config(const char *loss, bool fused) {
  char text[2048];
  snprintf(text, sizeof text,
           "name = \"tiny\";\nseed = 5;\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; width = 0.25;\n"
           "          planes = [8, 16, 16, 16]; head_width = 16; dropout = 0.1; aux = true; };\n"
           "block = { variant = \"dnl\"; fused = %s; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 4; crop = 64;\n"
           "         workers = 1; synth = { train = 8; val = 2; size = 64; }; };\n"
           "solver = { iterations = 4; lr = 0.04; momentum = 0.9; weight_decay = 5e-4; };\n"
           "loss = { %s aux_weight = 0.4; };\n"
           "eval = { every = 0; limit = 2; };\n"
           "output = { dir = \"%s/res\"; log_every = 1; checkpoint_every = 2;\n"
           "           attention_images = 1; };\n",
           fused ? "true" : "false", dir, loss, dir);
  file_write_text(cfg, text);
}

static void open_session(session *s, const char *device) {
  const char *sets[1] = {device};
  TRY_OK(session_open(s, cfg, sets, 1));
  TRY_OK(session_build_net(s, CLASSES));
}

/* A host copy of every value of the store. */
static float *values_of(const session *s) {
  return test_download_new(s->be, s->ps.values, s->ps.total * sizeof(float));
}

/* Both sessions train one step on the same batch; returns the losses [3]. */
static void step_both(session *cpu, session *gpu, train_step_out *rc, train_step_out *rg) {
  rng r;
  rng_seed(&r, 11);
  tensor images = test_randn4(&r, N, 3, H, W, 60.0f);
  int32_t labels[N * H * W];
  for (int i = 0; i < N * H * W; i++)
    labels[i] = rng_uniform(&r) < 0.1 ? 255 : (int32_t)(rng_u64(&r) % CLASSES);
  float *wdev = NULL;
  if (cpu->cfg.n_class_weights)
    wdev = test_upload(gpu->be, cpu->cfg.class_weights, CLASSES * sizeof(float));
  train_step_in in = {.images = &images, .labels = labels,
                      .class_weights = cpu->cfg.n_class_weights ? cpu->cfg.class_weights : NULL,
                      .share = 1.0, .lr = 0.04};
  TRY_OK(train_step(cpu, &in, rc));

  tensor gi = tensor_view(test_upload(gpu->be, images.data, tensor_numel(&images) * 4),
                          DEVICE_CUDA, 4, images.shape);
  int32_t *gl = test_upload(gpu->be, labels, sizeof labels);
  train_step_in gin = in;
  gin.images = &gi;
  gin.labels = gl;
  gin.class_weights = wdev;
  TRY_OK(train_step(gpu, &gin, rg));
  gpu->be->free(gi.data);
  gpu->be->free(gl);
  gpu->be->free(wdev);
  tensor_free(&images);
}

static void expect_same_iteration(const char *loss, bool fused) {
  const dnl_backend *g = cuda_fp32();
  write_config(loss, fused);
  session cpu, gpu;
  open_session(&cpu, "device=cpu");
  open_session(&gpu, "device=cuda");
  cr_assert_eq(gpu.be, g);
  cr_assert_eq(cpu.ps.total, gpu.ps.total);
  float *v0 = values_of(&gpu);
  cr_assert(!memcmp(v0, cpu.ps.values, cpu.ps.total * sizeof(float)),
            "the initial values differ: initialisation must happen on the host");
  free(v0);

  train_step_out rc, rg;
  step_both(&cpu, &gpu, &rc, &rg);
  const float lc[3] = {rc.loss, rc.loss_main, rc.loss_aux};
  const float lg[3] = {rg.loss, rg.loss_main, rg.loss_aux};
  ASSERT_CLOSE(lg, lc, 3, 1e-6, 1e-4, "losses (total, main, aux)");
  float *v = values_of(&gpu);
  for (int i = 0; i < cpu.ps.count; i++) {
    const param_entry *e = &cpu.ps.entries[i];
    ASSERT_CLOSE(v + e->offset, cpu.ps.values + e->offset, e->numel, 1e-6, 1e-4, e->name);
  }
  free(v);
  session_close(&gpu);
  session_close(&cpu);
}

Test(cuda_train, one_iteration_matches_cpu_ce_class_weights_reference_attention) {
  expect_same_iteration("ohem = false; class_weights = [0.8, 1.0, 1.2, 0.9];", false);
}

/* OHEM (every pixel below the 0.7 threshold at initialisation, so that float
 * rounding cannot move the selection) with the fused attention kernels. */
Test(cuda_train, one_iteration_matches_cpu_ohem_fused_attention) {
  expect_same_iteration("ohem = true; ohem_thresh = 0.7; ohem_min_kept = 10;", true);
}

/* runner train --device cuda: trains (batches prefetched from pinned slots),
 * checkpoints, evaluates and captures attention on the GPU; the result file
 * says so and holds the memory. */
Test(cuda_train, runner_trains_on_the_gpu) {
  cuda_fp32();
  write_config("ohem = false;", true);
  char cmd[512], *out, *err;
  snprintf(cmd, sizeof cmd, "runner train %s --device cuda", cfg);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(err, "memory of a training iteration"), "%s", err);
  char path[200];
  snprintf(path, sizeof path, "%s/res/tiny.h5", dir);
  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert(d.finished, "%s", d.status);
  cr_assert_str_eq(d.device, "cuda");
  cr_assert_eq(d.train.n, 4);
  cr_assert_gt(d.peak_memory_bytes, 3 * d.params * (int64_t)sizeof(float));
  cr_assert_geq(d.device_memory_used_bytes, d.peak_memory_bytes,
                "cudaMemGetInfo counts at least what the run holds");
  cr_assert(d.attention.present);
  results_data_free(&d);
}
