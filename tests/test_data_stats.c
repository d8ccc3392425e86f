/* `runner data synth` and `runner data stats` through the built program
 * ($DNL_BIN/runner, set by make test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/test_data_util.h"
#include "tests/test_util.h"

static char *dir;
static void setup(void) { dir = tdata_tmpdir(); }
static void teardown(void) {
  tdata_rmrf(dir);
  free(dir);
}

TestSuite(data_stats, .init = setup, .fini = teardown, .timeout = 60);

/* Runs `runner ARGS`; stdout and stderr go to files under dir, read into out/err. */
static int runner(const char *args, char *out, size_t out_len, char *err, size_t err_len) {
  const char *bin = getenv("DNL_BIN");
  cr_assert_not_null(bin, "DNL_BIN is not set (run the tests through make test)");
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s/runner %s > %s/out.txt 2> %s/err.txt", bin, args, dir, dir);
  int st = system(cmd);
  cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
  const char *names[2] = {"out.txt", "err.txt"};
  char *bufs[2] = {out, err};
  size_t lens[2] = {out_len, err_len};
  for (int i = 0; i < 2; i++) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f);
    size_t n = fread(bufs[i], 1, lens[i] - 1, f);
    bufs[i][n] = '\0';
    fclose(f);
  }
  return WEXITSTATUS(st);
}

static char out[65536], err[65536];

Test(data_stats, synth_then_stats_counts_and_histogram) {
  char args[1024];
  snprintf(args, sizeof args, "data synth --out %s/ds --train 6 --val 2 --size 64 --seed 3",
           dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(out, "wrote 6 train + 2 val"), "%s", out);
  snprintf(args, sizeof args, "data stats --dataset synth --root %s/ds --split train", dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(out, "images   6"), "%s", out);
  cr_assert(strstr(out, "background") && strstr(out, "blue"), "%s", out);
  cr_assert(strstr(out, "ignored  12.500%"), "the 8 px stripe of 64 is 1/8: %s", out);
  cr_assert(strstr(out, "problems 0"), "%s", out);
  snprintf(args, sizeof args, "data stats --dataset synth --root %s/ds --split val", dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(out, "images   2"), "%s", out);
  snprintf(args, sizeof args, "data synth --out %s/rg --cue region --train 2 --val 1 --size 96",
           dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 0, "%s", err);
}

Test(data_stats, cityscapes_native_histogram_uses_train_ids) {
  char a[512], b[512], args[1024];
  const uint8_t raw[] = {7, 26, 0, 23};
  tdata_write_pair(tdata_path(a, sizeof a, dir, "cs/leftImg8bit/val/ulm/u_1_leftImg8bit.png"),
                   tdata_path(b, sizeof b, dir, "cs/gtFine/val/ulm/u_1_gtFine_labelIds.png"), 32,
                   16, raw, 4, 1);
  snprintf(args, sizeof args, "data stats --dataset cityscapes --root %s/cs --split val", dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(out, "native layout"), "%s", out);
  /* 32x16 in 4 px blocks cycling 4 values: each value on 128 pixels */
  cr_assert(strstr(out, "road                              128"), "%s", out);
  cr_assert(strstr(out, "car                               128"), "%s", out);
  cr_assert(strstr(out, "sky                               128"), "%s", out);
  cr_assert(strstr(out, "ignored  25.000% of 512 pixels"), "%s", out);
}

Test(data_stats, problems_are_listed_and_fail) {
  char args[1024], p[512];
  snprintf(args, sizeof args, "data synth --out %s/ds --train 5 --val 1 --size 64", dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 0, "%s", err);
  snprintf(p, sizeof p, "%s/ds/train/label/000001.png", dir);
  remove(p);
  char corrupt[512];
  snprintf(corrupt, sizeof corrupt, "%s/ds/train/image/000003.png", dir);
  tdata_truncate(corrupt, 100);
  char bad_label[512];
  image odd = {0};
  TRY_OK(image_reserve(&odd, 64, 64, 1));
  memset(odd.data, 77, 64 * 64);
  snprintf(bad_label, sizeof bad_label, "%s/ds/train/label/000004.png", dir);
  TRY_OK(image_write_png(bad_label, &odd, NULL, 0));
  image_free(&odd);
  snprintf(args, sizeof args, "data stats --dataset synth --root %s/ds", dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 1, "%s", out);
  cr_assert(strstr(out, "problems 3"), "%s", out);
  cr_assert(strstr(err, "train/image/000001.png has no label"), "%s", err);
  cr_assert(strstr(err, corrupt), "%s", err);
  cr_assert(strstr(err, bad_label) && strstr(err, "77 (4096 px)"), "%s", err);
}

Test(data_stats, bad_use) {
  cr_assert_eq(runner("data", out, sizeof out, err, sizeof err), 2);
  cr_assert_eq(runner("data stats --root /tmp", out, sizeof out, err, sizeof err), 2);
  cr_assert(strstr(err, "--dataset"), "%s", err);
  cr_assert_eq(runner("data synth --out", out, sizeof out, err, sizeof err), 2);
  cr_assert_eq(runner("data synth --out /tmp/x --cue sideways", out, sizeof out, err,
                      sizeof err), 2);
  cr_assert_eq(runner("data synth --out /tmp/x --size 8", out, sizeof out, err, sizeof err), 2);
  cr_assert_eq(runner("data frobnicate", out, sizeof out, err, sizeof err), 2);
  char args[1024];
  snprintf(args, sizeof args, "data stats --dataset synth --root %s/none", dir);
  cr_assert_eq(runner(args, out, sizeof out, err, sizeof err), 1);
  cr_assert(strstr(err, "/none"), "%s", err);
}
