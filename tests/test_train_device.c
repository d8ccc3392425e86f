/* runner train / eval / predict --device, and the memory of a training
 * iteration in the log and the result file; through the built program on a
 * tiny network and a small synthetic dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/results_read.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[64], cfg[128];

static void setup(void) {
  tmpdir_make(dir, sizeof dir, "train_device");
  tmpdir_path(cfg, sizeof cfg, dir, "tiny.cfg");
  char text[2048];
  /* the config asks for cuda: --device cpu must override it */
  snprintf(text, sizeof text,
           "name = \"tiny\";\nseed = 2;\ndevice = \"cuda\";\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; width = 0.25;\n"
           "          planes = [8, 8, 8, 8]; head_width = 8; aux = true; };\n"
           "block = { variant = \"dnl\"; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 32;\n"
           "         workers = 1; synth = { train = 4; val = 2; size = 32; }; };\n"
           "solver = { iterations = 3; };\n"
           "eval = { every = 0; limit = 2; };\n"
           "output = { dir = \"%s/res\"; log_every = 1; checkpoint_every = 0;\n"
           "           attention_images = 0; };\n",
           dir, dir);
  file_write_text(cfg, text);
}
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(train_device, .init = setup, .fini = teardown, .timeout = 90);

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(train_device, device_cpu_overrides_the_config_and_memory_is_recorded) {
  char cmd[512], *out, *err;
  snprintf(cmd, sizeof cmd, "runner train %s --device cpu", cfg);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  const char *line = strstr(err, "memory of a training iteration: ");
  cr_assert_not_null(line, "no memory line in the log: %s", err);
  cr_assert(strstr(line, "activations") && strstr(line, "parameters"), "%s", line);
  cr_assert_null(strstr(line + 1, "memory of a training iteration"),
                 "the memory line appears once: %s", err);
  char path[200];
  snprintf(path, sizeof path, "%s/res/tiny.h5", dir);
  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert(d.finished, "%s", d.status);
  cr_assert_str_eq(d.device, "cpu");
  cr_assert(strstr(d.config, "device = \"cpu\""), "the stored config names the device run on");
  /* parameters alone: 3 buffers of the trainable and running values */
  cr_assert_gt(d.peak_memory_bytes, 3 * d.params * (int64_t)sizeof(float));
  cr_assert_gt(d.device_memory_used_bytes, 0);
  results_data_free(&d);

  /* eval and predict take --device too (the config still says cuda) */
  snprintf(cmd, sizeof cmd, "runner eval %s --checkpoint %s/res/tiny.ckpt --device cpu", cfg,
           dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "mIoU"), "%s", out);
  snprintf(cmd, sizeof cmd,
           "runner predict %s --checkpoint %s/res/tiny.ckpt --device cpu --quiet --out %s/pred "
           "%s/synth/val/image/000000.png",
           cfg, dir, dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  snprintf(path, sizeof path, "%s/pred/000000.png", dir);
  cr_assert(file_exists(path));
}

Test(train_device, unknown_device_is_a_usage_error) {
  char cmd[512], *out, *err;
  snprintf(cmd, sizeof cmd, "runner train %s --device tpu", cfg);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 2);
  cr_assert(strstr(err, "--device tpu: expected cpu or cuda"), "%s", err);
  snprintf(cmd, sizeof cmd, "runner predict %s --checkpoint x --device gpu a.png", cfg);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 2);
  cr_assert(strstr(err, "expected cpu or cuda"), "%s", err);
}

/* Without CUDA (no CUDA=1 build, or no GPU): one line saying why, a failure,
 * and no training on the CPU instead. */
Test(train_device, cuda_without_a_gpu_fails_with_one_line) {
  const dnl_backend *be;
  if (backend_get(DEVICE_CUDA, &be) == DNL_OK)
    cr_skip_test("a CUDA device is present (tests/test_cuda_train.c trains on it)");
  const char *cmds[] = {"train %s --device cuda", "train %s",
                        "eval %s --checkpoint none.ckpt --device cuda"};
  for (int i = 0; i < 3; i++) {
    char args[400], cmd[512], *out, *err;
    snprintf(args, sizeof args, cmds[i], cfg);
    snprintf(cmd, sizeof cmd, "runner %s", args);
    cr_assert_eq(test_run_program(dir, cmd, &out, &err), 1, "%s: %s", cmd, err);
    cr_assert_eq(count_lines(err), 1, "%s: one line expected: %s", cmd, err);
    cr_assert(strstr(err, "cuda") || strstr(err, "CUDA"), "%s", err);
    char path[200];
    snprintf(path, sizeof path, "%s/res/tiny.h5", dir);
    cr_assert(!file_exists(path), "%s: a run started anyway", cmd);
  }
}
