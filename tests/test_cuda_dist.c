/* Data-parallel training on the CUDA backend through mpirun: two ranks with a
 * global batch of 4 train what one process with batch 4 trains (loss rows and
 * final weights within 1e-5 relative, as tests/test_dist_mpi.c on the CPU).
 * With one GPU the two ranks share it, which NCCL refuses, so their device
 * buffers go through host copies; with two or more GPUs they use NCCL, and
 * host copies once more with DNL_DIST_NCCL=0. Skipped (with the reason) without
 * a GPU, while the CUDA backend lacks ops, or without MPI. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifdef DNL_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include "data/synth.h"
#include "lib/dist/dist_mpi.h"
#include "lib/store/checkpoint.h"
#include "lib/store/results_read.h"
#include "runner/session.h"
#include "tests/test_device.h"
#include "tests/test_mpi_util.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[64], cfg_path[128];
static char log_text[65536];

/* tests/test_dist_mpi.c's run, on the cuda device (train_ranks), without
 * evaluations and attention images */
static void setup(void) {
  tmpdir_make(dir, sizeof dir, "cuda_dist");
  tmpdir_path(cfg_path, sizeof cfg_path, dir, "tiny.cfg");
  test_write_dist_config(cfg_path, dir);
}

static void teardown(void) { tmpdir_remove(dir); }

TestSuite(cuda_dist, .init = setup, .fini = teardown, .timeout = 300);

/* Skips unless a GPU, a CUDA backend with every op, mpirun and MPI are here. */
static void require_gpu_and_mpi(void) {
  const dnl_backend *g = test_cuda_or_skip();
  if (backend_check(g) != DNL_OK)
    cr_skip_test("CUDA data-parallel case skipped: %s", dnl_last_error());
  if (system("command -v mpirun > /dev/null 2>&1") != 0)
    cr_skip_test("CUDA data-parallel case skipped: mpirun is not installed (openmpi-bin)");
  if (!dist_mpi_built())
    cr_skip_test("CUDA data-parallel case skipped: this build has no MPI");
}

/* GPUs this process sees (cudaGetDeviceCount); 0 in a build without CUDA. */
static int visible_gpus(void) {
  int n = 0;
#ifdef DNL_WITH_CUDA
  if (cudaGetDeviceCount(&n) != cudaSuccess)
    n = 0;
#endif
  return n;
}

/* Runs "env ENV mpirun ... -np NP runner train CONFIG --set output.dir=DIR/OUT"
 * to completion, at most 150 s; its output into log_text. Returns the exit
 * status. Convolutions in exact FP32: with TF32 the batch of 4 and the ranks'
 * batches of 2 may get cuDNN algorithms whose roundings differ by ~1e-3. */
static int train_ranks(const char *env, int np, const char *out) {
  const char *bin = getenv("DNL_BIN");
  cr_assert_not_null(bin, "DNL_BIN is not set (run the tests through make test)");
  char cmd[4096], log[160];
  snprintf(log, sizeof log, "%s/%s.log", dir, out);
  char env_all[512];
  snprintf(env_all, sizeof env_all, "DNL_CUDA_TF32=0 %s", env);
  snprintf(cmd, sizeof cmd,
           "timeout 150 %s -np %d %s/runner train %s --set device=cuda --set eval.every=0 "
           "--set output.attention_images=0 --set output.dir=%s/%s > %s 2>&1",
           test_mpirun_prefix(env_all), np, bin, cfg_path, dir, out, log);
  int st = system(cmd);
  cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f, "no %s", log);
  size_t n = fread(log_text, 1, sizeof log_text - 1, f);
  log_text[n] = '\0';
  fclose(f);
  return WEXITSTATUS(st);
}

/* The run's checkpoint read into a CPU session. */
static void load_checkpoint(const char *out, session *s) {
  char path[200];
  snprintf(path, sizeof path, "%s/%s/tiny.ckpt", dir, out);
  const char *cpu[1] = {"device=cpu"};
  TRY_OK(session_open(s, cfg_path, cpu, 1));
  TRY_OK(session_build_net(s, SYNTH_CLASSES));
  TRY_OK(checkpoint_load(path, &s->ps, NULL));
}


/* The run in DIR/OUT trained what the one process in DIR/one trained. */
static void assert_same_training(const char *out) {
  results_data a, b;
  char path[200];
  snprintf(path, sizeof path, "%s/one/tiny.h5", dir);
  TRY_OK(results_read(path, &a));
  snprintf(path, sizeof path, "%s/%s/tiny.h5", dir, out);
  TRY_OK(results_read(path, &b));
  cr_assert(a.finished && b.finished, "status %s / %s", a.status, b.status);
  cr_assert_eq(a.train.n, 10);
  cr_assert_eq(b.train.n, 10, "%s: rank 0 alone writes the rows: %zu", out, b.train.n);
  for (size_t i = 0; i < a.train.n; i++)
    cr_assert(fabs(a.train.loss[i] - b.train.loss[i]) <= 1e-5 * fabs(a.train.loss[i]),
              "%s: loss at iteration %zu: %.9g (one process) vs %.9g (two ranks)", out, i + 1,
              a.train.loss[i], b.train.loss[i]);
  results_data_free(&a);
  results_data_free(&b);
  session sa, sb;
  load_checkpoint("one", &sa);
  load_checkpoint(out, &sb);
  test_assert_params_close(&sa.ps, sa.ps.values, sb.ps.values, 1e-5, "weights");
  test_assert_params_close(&sa.ps, sa.ps.momentum, sb.ps.momentum, 1e-5, "momentum");
  session_close(&sa);
  session_close(&sb);
}

Test(cuda_dist, two_ranks_train_what_one_process_trains) {
  require_gpu_and_mpi();
  const int gpus = visible_gpus();
  cr_assert_eq(train_ranks("", 1, "one"), 0, "%s", log_text);
  cr_assert_eq(train_ranks("", 2, "two"), 0, "%s", log_text);
  /* rank 0's progress lines and summary name the all-reduce and the communicator */
  cr_assert(strstr(log_text, "all-reduce") && strstr(log_text, "% of its"), "%s", log_text);
  if (gpus >= 2)
    cr_assert(strstr(log_text, "2 ranks (nccl, 2 GPUs on 1 machine)"),
              "%d GPUs: the ranks should have used NCCL: %s", gpus, log_text);
  else
    cr_assert(strstr(log_text, "2 ranks (host copies (ranks 0 and 1 share GPU"),
              "one GPU: the ranks share it and sum through host copies: %s", log_text);
  assert_same_training("two");
  if (gpus < 2)
    return;
  cr_assert_eq(train_ranks("DNL_DIST_NCCL=0", 2, "copies"), 0, "%s", log_text);
  cr_assert(strstr(log_text, "host copies (rank 0 has DNL_DIST_NCCL=0)"), "%s", log_text);
  assert_same_training("copies");
}
