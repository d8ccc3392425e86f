/* Training, resuming, evaluating and predicting end to end through the built
 * program ($DNL_BIN/runner, set by make test) on a tiny network and a small
 * synthetic dataset generated in each test's own directory. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data/image.h"
#include "data/synth.h"
#include "lib/store/checkpoint.h"
#include "lib/store/h5io.h"
#include "lib/store/results_read.h"
#include "runner/session.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[64];
static char cfg_path[128], res_dir[128];
static char out_text[65536], err_text[65536];

static void setup(void) {
  tmpdir_make(dir, sizeof dir, "train");
  tmpdir_path(cfg_path, sizeof cfg_path, dir, "tiny.cfg");
  tmpdir_path(res_dir, sizeof res_dir, dir, "res");
}
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(train, .init = setup, .fini = teardown, .timeout = 90);

/* The tiny network of experiments/base/synth_tiny.cfg at half its width, on
 * 64 px synthetic images, with the block's keys block_keys; extra is appended
 * (later settings win in libconfig groups only through --set, so extra holds
 * whole new top-level keys). */
static void write_config_block(const char *block_keys, const char *extra) {
  char text[4096];
  snprintf(text, sizeof text,
           "name = \"tiny\";\n"
           "seed = 3;\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; width = 0.25;\n"
           "          planes = [8, 16, 16, 16]; head_width = 16; dropout = 0.1; aux = true; };\n"
           "block = { %s };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 4; crop = 64;\n"
           "         workers = 2; random_resize = false; brightness = 0; flip = true;\n"
           "         synth = { cue = \"global\"; train = 16; val = 4; size = 64; }; };\n"
           "solver = { iterations = 40; lr = 0.04; };\n"
           "loss = { ohem = false; aux_weight = 0.4; };\n"
           "eval = { every = 0; mode = \"single\"; limit = 4; };\n"
           "output = { dir = \"%s\"; log_every = 5; checkpoint_every = 0;\n"
           "           attention_images = 1; };\n"
           "%s",
           block_keys, dir, res_dir, extra ? extra : "");
  file_write_text(cfg_path, text);
}

static void write_config(const char *extra) { write_config_block("variant = \"dnl\";", extra); }

/* Runs `runner ARGS` (printf-style) to completion; stdout and stderr land in
 * out_text / err_text. Returns the exit status. */
__attribute__((format(printf, 1, 2))) static int runner(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int st = test_runner_vrun(dir, out_text, sizeof out_text, err_text, sizeof err_text, fmt, ap);
  va_end(ap);
  return st;
}

/* Starts `runner train CONFIG --quiet [--resume] --set output.dir=OUT` in the
 * background (output into OUT.log) and returns its pid. */
static pid_t spawn_train(const char *out_dir, bool resume, const char *set_a, const char *set_b) {
  char log[200], set_dir[200];
  snprintf(log, sizeof log, "%s.log", out_dir);
  snprintf(set_dir, sizeof set_dir, "output.dir=%s", out_dir);
  const char *argv[16] = {"runner", "train", cfg_path, "--quiet", "--set", set_dir};
  int n = 6;
  if (resume)
    argv[n++] = "--resume";
  const char *sets[2] = {set_a, set_b};
  for (int i = 0; i < 2; i++)
    if (sets[i]) {
      argv[n++] = "--set";
      argv[n++] = sets[i];
    }
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    FILE *f = freopen(log, "a", stderr);
    if (f && dup2(fileno(stderr), STDOUT_FILENO) >= 0)
      execv(test_runner_bin(), (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static int wait_exit(pid_t pid) {
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  return status;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* A parameter store of the test network, filled from a checkpoint. */
static void load_checkpoint(const char *path, session *s, checkpoint_meta *meta) {
  TRY_OK(session_open(s, cfg_path, NULL, 0));
  TRY_OK(session_build_net(s, SYNTH_CLASSES));
  TRY_OK(checkpoint_load(path, &s->ps, meta));
}

static void ckpt_path(char *buf, size_t len, const char *out_dir) {
  snprintf(buf, len, "%s/tiny.ckpt", out_dir);
}

static void result_path(char *buf, size_t len, const char *out_dir) {
  snprintf(buf, len, "%s/tiny.h5", out_dir);
}

Test(train, few_dozen_iterations_lower_the_loss) {
  write_config(NULL);
  cr_assert_eq(runner("train %s --quiet", cfg_path), 0, "%s", err_text);
  char rp[200];
  result_path(rp, sizeof rp, res_dir);
  results_data d;
  TRY_OK(results_read(rp, &d));
  cr_assert(d.finished, "status %s", d.status);
  cr_assert_eq(d.train.n, 8, "40 iterations logged every 5: %zu rows", d.train.n);
  cr_assert_eq(d.train.iter[0], 5);
  cr_assert_eq(d.train.iter[d.train.n - 1], 40);
  const double first = d.train.loss[0], last = d.train.loss[d.train.n - 1];
  cr_assert(isfinite(first) && isfinite(last));
  cr_assert(last < 0.7 * first, "loss %.4f at iteration 5, %.4f at 40: not lower", first, last);
  cr_assert_eq(d.eval.n, 1, "one evaluation at the end");
  cr_assert(d.eval.miou[0] > 0.0 && d.eval.miou[0] <= 1.0, "mIoU %g", d.eval.miou[0]);
  results_data_free(&d);
}

/* Waits until path exists while pid runs. */
static void wait_for_file(const char *path, pid_t pid, const char *log) {
  for (int i = 0; i < 6000; i++) {
    if (file_exists(path))
      return;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      test_read_text(log, err_text, sizeof err_text);
      cr_assert_fail("the run ended before writing %s: %s", path, err_text);
    }
    sleep_ms(10);
  }
  kill(pid, SIGKILL);
  wait_exit(pid);
  cr_assert_fail("no %s after 60 s", path);
}

static void assert_killed(int status, const char *when, const char *log) {
  test_read_text(log, err_text, sizeof err_text);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "%s: the run ended by itself before the kill (status 0x%x): %s", when, status,
            err_text);
}

/* with the block options that change the init and the block's learning rate */
Test(train, resume_after_sigkill_is_bit_identical) {
  write_config_block("variant = \"dnl\"; lr_mult = 3.0; qk_tied = true; qk_init_std = 0.2; "
                     "v_init_kaiming = true; gamma_init = 0.5;",
                     NULL);
  const char *iters = "solver.iterations=150", *every = "output.checkpoint_every=7";
  char plain[160], killed[160], log[200], ck[200], ck_plain[200], rp[200];
  snprintf(plain, sizeof plain, "%s/plain", dir);
  snprintf(killed, sizeof killed, "%s/killed", dir);
  snprintf(log, sizeof log, "%s.log", killed);
  ckpt_path(ck, sizeof ck, killed);
  ckpt_path(ck_plain, sizeof ck_plain, plain);
  result_path(rp, sizeof rp, killed);

  int status = wait_exit(spawn_train(plain, false, iters, every));
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "uninterrupted run failed");

  /* kill points: a random moment after the first checkpoint, then a random
   * moment of the resumed run (writing a checkpoint or a result row included) */
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  const long first_ms = rand() % 800, second_ms = 100 + rand() % 700;
  pid_t pid = spawn_train(killed, false, iters, every);
  wait_for_file(ck, pid, log);
  sleep_ms(first_ms);
  kill(pid, SIGKILL);
  assert_killed(wait_exit(pid), "first kill", log);

  /* the killed run's result file reads and says running */
  results_data d;
  TRY_OK(results_read(rp, &d));
  cr_assert(!d.finished && !strcmp(d.status, "running"), "killed run: status %s", d.status);
  results_data_free(&d);
  checkpoint_meta meta;
  TRY_OK(checkpoint_read_meta(ck, &meta));
  const int64_t first_iter = meta.iteration;
  checkpoint_meta_free(&meta);
  cr_assert(first_iter > 0 && first_iter % 7 == 0, "checkpoint at %lld", (long long)first_iter);

  pid = spawn_train(killed, true, iters, every);
  sleep_ms(second_ms);
  kill(pid, SIGKILL);
  assert_killed(wait_exit(pid), "second kill", log);

  status = wait_exit(spawn_train(killed, true, iters, every));
  test_read_text(log, err_text, sizeof err_text);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "resumed run failed (kills after %ld ms and %ld ms): %s", first_ms, second_ms,
            err_text);

  session a, b;
  checkpoint_meta ma, mb;
  load_checkpoint(ck_plain, &a, &ma);
  load_checkpoint(ck, &b, &mb);
  cr_assert_eq(ma.iteration, 150);
  cr_assert_eq(mb.iteration, 150);
  const size_t bytes = a.ps.total * sizeof(float);
  cr_assert(memcmp(a.ps.values, b.ps.values, bytes) == 0,
            "weights differ after kills at +%ld ms (checkpoint %lld) and +%ld ms of the resume",
            first_ms, (long long)first_iter, second_ms);
  cr_assert(memcmp(a.ps.momentum, b.ps.momentum, bytes) == 0,
            "momentum differs after kills at +%ld ms and +%ld ms", first_ms, second_ms);
  cr_assert(memcmp(ma.rng_state.s, mb.rng_state.s, sizeof ma.rng_state.s) == 0,
            "dropout rng state differs");
  checkpoint_meta_free(&ma);
  checkpoint_meta_free(&mb);
  session_close(&a);
  session_close(&b);

  TRY_OK(results_read(rp, &d));
  cr_assert(d.finished, "status after the resume: %s", d.status);
  cr_assert_str_eq(d.label,
                   "dnl qk_init_std=0.2 qk_tied=true v_init_kaiming=true gamma_init=0.5 "
                   "lr_mult=3",
                   "the group label names the block options");
  cr_assert_eq(d.train.n, 30, "150 iterations logged every 5: %zu rows", d.train.n);
  for (size_t i = 0; i < d.train.n; i++)
    cr_assert_eq(d.train.iter[i], (int64_t)(5 * (i + 1)), "row %zu is iteration %lld", i,
                 (long long)d.train.iter[i]);
  results_data_free(&d);
}

Test(train, unknown_or_mistyped_key_names_file_and_line) {
  write_config("extra = { lrr = 0.1; };\n");
  cr_assert_neq(runner("train %s --quiet", cfg_path), 0);
  cr_assert(strstr(err_text, "tiny.cfg:14") && strstr(err_text, "extra"), "%s", err_text);
  write_config(NULL);
  /* a misspelled key inside a known group */
  char text[4096];
  test_read_text(cfg_path, text, sizeof text);
  char *at = strstr(text, "lr = 0.04");
  cr_assert_not_null(at);
  memcpy(at, "lt", 2);
  file_write_text(cfg_path, text);
  cr_assert_neq(runner("train %s --quiet", cfg_path), 0);
  cr_assert(strstr(err_text, "tiny.cfg:9") && strstr(err_text, "solver.lt"), "%s", err_text);
  write_config(NULL);
  cr_assert_neq(runner("train %s --quiet --set solver.lrate=0.1", cfg_path), 0);
  cr_assert(strstr(err_text, "solver.lrate"), "%s", err_text);
  cr_assert_neq(runner("train %s --quiet --set solver.iterations=ten", cfg_path), 0);
  cr_assert(strstr(err_text, "solver.iterations"), "%s", err_text);
  /* block options out of range or for a variant without them name the key */
  static const char *const bad_block[][3] = {
      {"block.lr_mult=0", NULL, "lr_mult = 0"},
      {"block.qk_init_std=-1", NULL, "block.qk_init_std"},
      {"block.variant=unary", "block.qk_tied=true", "qk_tied = true"},
      {"block.variant=none", "block.lr_mult=2", "lr_mult = 2"},
  };
  for (size_t i = 0; i < sizeof bad_block / sizeof bad_block[0]; i++) {
    cr_assert_neq(runner("train %s --quiet --set %s%s%s", cfg_path, bad_block[i][0],
                         bad_block[i][1] ? " --set " : "", bad_block[i][1] ? bad_block[i][1] : ""),
                  0, "%s accepted", bad_block[i][0]);
    cr_assert(strstr(err_text, bad_block[i][2]), "%s: %s", bad_block[i][0], err_text);
  }
  cr_assert(!file_exists(res_dir), "a failed config must not create %s", res_dir);
}

Test(train, eval_names_missing_checkpoint_and_lists_architecture_differences) {
  write_config(NULL);
  char ck[200], missing[200];
  ckpt_path(ck, sizeof ck, res_dir);
  snprintf(missing, sizeof missing, "%s/none.ckpt", dir);
  cr_assert_neq(runner("eval %s --checkpoint %s --quiet", cfg_path, missing), 0);
  cr_assert(strstr(err_text, missing), "%s", err_text);

  cr_assert_eq(runner("train %s --quiet --set solver.iterations=2", cfg_path), 0, "%s", err_text);
  cr_assert_neq(runner("eval %s --checkpoint %s --quiet --set model.head_width=8", cfg_path, ck),
                0);
  cr_assert(strstr(err_text, "tiny.ckpt does not fit the network of") &&
                strstr(err_text, "head width: 16 in the file, 8 in the network") &&
                strstr(err_text, "head.bottleneck.weight: file [16, 32, 3, 3], network [8, 24"),
            "%s", err_text);
  cr_assert_neq(runner("eval %s --checkpoint %s --quiet --set block.variant=none", cfg_path, ck),
                0);
  cr_assert(strstr(err_text, "block: in the file only: a pairwise term (query / key convs), a "
                             "unary term (conv_mask), a value conv"),
            "%s", err_text);
  cr_assert_neq(
      runner("predict %s --checkpoint %s --quiet --set block.variant=nl --out %s/p %s/synth/val/"
             "image/000000.png",
             cfg_path, ck, dir, dir),
      0);
  cr_assert(strstr(err_text, "does not fit the network of") &&
                strstr(err_text, "block: in the file only: a unary term (conv_mask)"),
            "%s", err_text);
}

/* The files in res_dir whose names end in suffix. */
static int count_files_ending(const char *suffix) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep -c -- '%s$' > %s/count.txt", res_dir, suffix,
           dir);
  cr_assert(system(cmd) != -1);
  char path[160], text[32];
  test_read_text(tmpdir_path(path, sizeof path, dir, "count.txt"), text, sizeof text);
  return atoi(text);
}

Test(train, nan_loss_stops_with_iteration_and_keeps_last_good_checkpoint) {
  write_config(NULL);
  /* lr 100 diverges within a few iterations; a checkpoint after every one */
  cr_assert_neq(
      runner("train %s --quiet --set solver.lr=100 --set output.checkpoint_every=1", cfg_path), 0,
      "lr 100 must diverge");
  const char *it = strstr(err_text, "iteration ");
  cr_assert(it && (strstr(err_text, "NaN") || strstr(err_text, "infinite")), "%s", err_text);
  const long failed_at = atol(it + strlen("iteration "));
  cr_assert(failed_at >= 1, "%s", err_text);

  char ck[200], rp[200];
  ckpt_path(ck, sizeof ck, res_dir);
  result_path(rp, sizeof rp, res_dir);
  cr_assert_eq(count_files_ending(".tmp"), 0, "temporary files left in %s", res_dir);
  if (failed_at > 1) {
    session s;
    checkpoint_meta m;
    load_checkpoint(ck, &s, &m);
    cr_assert_eq(m.iteration, failed_at - 1, "last good checkpoint: %lld, failure at %ld",
                 (long long)m.iteration, failed_at);
    size_t bad;
    TRY_OK(s.be->count_nonfinite(s.ps.total, s.ps.values, &bad));
    cr_assert_eq(bad, 0, "the kept checkpoint holds %zu non-finite values", bad);
    checkpoint_meta_free(&m);
    session_close(&s);
  }
  results_data d;
  TRY_OK(results_read(rp, &d));
  char want[64];
  snprintf(want, sizeof want, "iteration %ld", failed_at);
  cr_assert(!strncmp(d.status, "failed", 6) && strstr(d.status, want), "status: %s", d.status);
  results_data_free(&d);
}

Test(train, unwritable_output_dir_fails_cleanly) {
  char blocker[160];
  tmpdir_path(blocker, sizeof blocker, dir, "file.txt");
  file_write_text(blocker, "a file where a directory should be\n");
  write_config(NULL);
  cr_assert_neq(runner("train %s --quiet --set output.dir=%s/res", cfg_path, blocker), 0);
  cr_assert(strstr(err_text, blocker), "%s", err_text);
  cr_assert_eq(runner("train %s --quiet --set solver.iterations=2", cfg_path), 0, "%s", err_text);
  char ck[200];
  ckpt_path(ck, sizeof ck, res_dir);
  cr_assert_neq(runner("predict %s --checkpoint %s --quiet --out %s/out %s/synth/val/image/"
                       "000000.png",
                       cfg_path, ck, blocker, dir),
                0);
  cr_assert(strstr(err_text, blocker), "%s", err_text);
}

/* A run whose checkpoint no longer fits on the disk (a file size limit, as in
 * test_checkpoint.c) stops with the reason; the checkpoint before stays. */
Test(train, full_disk_keeps_previous_checkpoint) {
  write_config(NULL);
  cr_assert_eq(runner("train %s --quiet --set solver.iterations=10 --set output.attention_images=0",
                      cfg_path),
               0, "%s", err_text);
  char ck[200], rp[200];
  ckpt_path(ck, sizeof ck, res_dir);
  result_path(rp, sizeof rp, res_dir);
  session before;
  load_checkpoint(ck, &before, NULL);

  /* the checkpoint is larger than the limit, the result file smaller */
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    struct rlimit lim = {256 * 1024, 256 * 1024};
    signal(SIGXFSZ, SIG_IGN); /* stays ignored across exec: writes fail with EFBIG */
    char log[160];
    snprintf(log, sizeof log, "%s/full.log", dir);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0 && freopen(log, "w", stderr))
      execl(test_runner_bin(), "runner", "train", cfg_path, "--quiet", "--resume", "--set",
            "solver.iterations=20", "--set", "output.attention_images=0", (char *)NULL);
    _exit(127);
  }
  int status = wait_exit(pid);
  char log[160];
  test_read_text(tmpdir_path(log, sizeof log, dir, "full.log"), err_text, sizeof err_text);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 127,
            "status 0x%x: %s", status, err_text);
  cr_assert(strstr(err_text, ck), "the message names the checkpoint: %s", err_text);
  cr_assert_eq(count_files_ending(".tmp"), 0, "temporary files left in %s", res_dir);

  session after;
  checkpoint_meta m;
  load_checkpoint(ck, &after, &m);
  cr_assert_eq(m.iteration, 10);
  cr_assert(memcmp(before.ps.values, after.ps.values, before.ps.total * sizeof(float)) == 0,
            "the previous checkpoint changed");
  checkpoint_meta_free(&m);
  session_close(&before);
  session_close(&after);
  results_data d;
  TRY_OK(results_read(rp, &d));
  cr_assert(!strncmp(d.status, "failed", 6), "status: %s", d.status);
  results_data_free(&d);
}

/* Reads a predicted label PNG, asserting its size and that every value is in values. */
static void assert_label_png(const char *path, int w, int h, const bool allowed[256]) {
  image lab = {0};
  TRY_OK(image_read_label(path, &lab));
  cr_assert(lab.w == w && lab.h == h, "%s is %dx%d, the image %dx%d", path, lab.w, lab.h, w, h);
  for (int i = 0; i < w * h; i++)
    cr_assert(allowed[lab.data[i]], "%s: value %d at pixel %d", path, lab.data[i], i);
  image_free(&lab);
}

Test(train, eval_and_predict_on_the_trained_model) {
  write_config(NULL);
  cr_assert_eq(runner("train %s --quiet --set solver.iterations=30", cfg_path), 0, "%s", err_text);
  char ck[200], img0[200], img1[200], logits[200], png[200];
  ckpt_path(ck, sizeof ck, res_dir);
  snprintf(img0, sizeof img0, "%s/synth/val/image/000000.png", dir);
  snprintf(img1, sizeof img1, "%s/synth/val/image/000001.png", dir);

  cr_assert_eq(runner("eval %s --checkpoint %s --quiet", cfg_path, ck), 0, "%s", err_text);
  const char *m = strstr(out_text, "mIoU ");
  cr_assert_not_null(m, "%s", out_text);
  const double miou = atof(m + 5);
  cr_assert(miou > 0.0 && miou <= 100.0, "mIoU %g: %s", miou, out_text);
  cr_assert(strstr(out_text, "(4 images"), "eval.limit 4: %s", out_text);

  /* train ids and their logits, with sliding windows smaller than the image */
  snprintf(logits, sizeof logits, "%s/logits.h5", dir);
  cr_assert_eq(runner("predict %s --checkpoint %s --quiet --out %s/pred --save-logits %s "
                      "--set eval.mode=sliding --set eval.crop=48 --set eval.stride=32 %s %s",
                      cfg_path, ck, dir, logits, img0, img1),
               0, "%s", err_text);
  bool train_ids[256] = {false};
  for (int c = 0; c < SYNTH_CLASSES; c++)
    train_ids[c] = true;
  snprintf(png, sizeof png, "%s/pred/000000.png", dir);
  assert_label_png(png, 64, 64, train_ids);
  snprintf(png, sizeof png, "%s/pred/000001.png", dir);
  assert_label_png(png, 64, 64, train_ids);
  h5io_array a;
  TRY_OK(h5io_read_float(logits, "logits/000001", &a));
  cr_assert(a.ndim == 3 && a.shape[0] == SYNTH_CLASSES && a.shape[1] == 64 && a.shape[2] == 64,
            "logits shape [%zu, %zu, %zu]", a.shape[0], a.shape[1], a.shape[2]);
  image lab = {0};
  TRY_OK(image_read_label(png, &lab));
  for (int i = 0; i < 64 * 64; i++) {
    int best = 0;
    for (int c = 1; c < 4; c++)
      if (((float *)a.data)[c * 64 * 64 + i] > ((float *)a.data)[best * 64 * 64 + i])
        best = c;
    cr_assert_eq(lab.data[i], best, "pixel %d: label %d, argmax of the logits %d", i, lab.data[i],
                 best);
  }
  image_free(&lab);
  h5io_array_free(&a);

  /* palette PNGs keep the ids as indices; dataset ids of synth are the train ids */
  cr_assert_eq(runner("predict %s --checkpoint %s --quiet --out %s/pal --palette %s", cfg_path, ck,
                      dir, img0),
               0, "%s", err_text);
  snprintf(png, sizeof png, "%s/pal/000000.png", dir);
  assert_label_png(png, 64, 64, train_ids);
  cr_assert_eq(runner("predict %s --checkpoint %s --quiet --out %s/raw --dataset-ids %s", cfg_path,
                      ck, dir, img0),
               0, "%s", err_text);
  snprintf(png, sizeof png, "%s/raw/000000.png", dir);
  assert_label_png(png, 64, 64, train_ids);

  /* a bad image: the error names it, no logits file (nor its temporary) is left */
  char bad[160], logits2[200], tmp[220];
  tmpdir_path(bad, sizeof bad, dir, "broken.png");
  file_write_text(bad, "not an image\n");
  snprintf(logits2, sizeof logits2, "%s/l2.h5", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", logits2);
  cr_assert_neq(runner("predict %s --checkpoint %s --quiet --out %s/p2 --save-logits %s %s %s",
                       cfg_path, ck, dir, logits2, img0, bad),
                0);
  cr_assert(strstr(err_text, bad), "%s", err_text);
  cr_assert(!file_exists(logits2) && !file_exists(tmp), "a logits file was left behind");
}
