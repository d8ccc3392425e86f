/* bin/analysis (through $DNL_BIN) on synthetic result files made with the writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/store/results.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

#define K 3
#define IMG_H 24
#define IMG_W 32
#define FEAT_H 3
#define FEAT_W 4
#define NQ 2
#define NA 2

static const char *const names[K] = {"background", "disc", "bar"};

typedef struct fake_run {
  const char *run, *label, *variant, *preset, *dataset;
  int seed;
  double final_miou;
  bool finished;
} fake_run;

static void write_attention(results_file *rf, bool pairwise, bool unary) {
  static uint8_t image[NA * IMG_H * IMG_W * 3], label[NA * IMG_H * IMG_W];
  for (int i = 0; i < NA * IMG_H * IMG_W; i++) {
    int x = i % IMG_W;
    label[i] = (uint8_t)(x < 10 ? 0 : x < 20 ? 1 : 2);
    image[3 * i] = (uint8_t)(x * 8);
    image[3 * i + 1] = (uint8_t)(i / IMG_W * 10);
    image[3 * i + 2] = 128;
  }
  int32_t queries[NA * NQ * 2] = {5, 5, 12, 25, 20, 3, 2, 30};
  float pair[NA * NQ * FEAT_H * FEAT_W], un[NA * FEAT_H * FEAT_W];
  for (int i = 0; i < NA * NQ * FEAT_H * FEAT_W; i++)
    pair[i] = (float)(i % 7) / 21.0f;
  for (int i = 0; i < NA * FEAT_H * FEAT_W; i++)
    un[i] = (float)(i % 5) / 24.0f;
  results_attention att = {100,    NA,     NQ,    IMG_H, IMG_W, FEAT_H,
                           FEAT_W, 8,      image, label, queries,
                           pairwise ? pair : NULL, unary ? un : NULL};
  float ubm[NA] = {0.4f, 0.5f}, bs[NA] = {0.2f, 0.25f};
  float psm[NA * NQ] = {0.6f, 0.7f, 0.5f, 0.9f}, srs[NA * NQ] = {0.3f, 0.3f, 0.4f, 0.4f};
  results_attention_stats st = {NA, NQ, unary ? ubm : NULL, unary ? bs : NULL,
                                pairwise ? psm : NULL, pairwise ? srs : NULL, NULL, NULL};
  TRY_OK(results_write_attention(rf, &att, &st));
}

static void make_run(const char *dir, const fake_run *f) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s.h5", dir, f->run);
  results_info in = {0};
  in.run = f->run;
  in.label = f->label;
  in.variant = f->variant;
  in.preset = f->preset;
  in.dataset = f->dataset;
  in.seed = f->seed;
  in.config = "seed = 1;";
  in.iterations = 100;
  in.num_classes = K;
  in.class_names = names;
  results_file rf;
  TRY_OK(results_create(&rf, path, &in));
  for (int it = 10; it <= 100; it += 10) {
    double loss = 2.0 / (1.0 + it / 20.0) + 0.05 * f->seed;
    results_train_row row = {it, loss, 0.8 * loss, 0.2 * loss, 0.01, 0.1 * it};
    TRY_OK(results_append_train(&rf, &row));
  }
  for (int it = 50; it <= 100; it += 50) {
    double miou = it == 100 ? f->final_miou : f->final_miou / 2;
    float iou[K] = {0.9f, (float)miou, NAN};
    int64_t conf[K * K] = {0};
    results_eval_row row = results_eval_row_blank();
    row.iter = it;
    row.miou = miou;
    row.pixel_acc = 0.9;
    row.class_iou = iou;
    row.confusion = conf;
    TRY_OK(results_append_eval(&rf, &row));
  }
  bool pairwise = strcmp(f->variant, "dnl") == 0 || strcmp(f->variant, "nl") == 0;
  bool unary = strcmp(f->variant, "dnl") == 0;
  if (pairwise || unary)
    write_attention(&rf, pairwise, unary);
  if (f->finished)
    TRY_OK(results_finish(&rf, "finished"));
  TRY_OK(results_close(&rf));
}

/* `$DNL_BIN/analysis args` run in dir; returns the exit status. */
static int run_analysis(const char *dir, const char *args, char **out, char **err) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "analysis %s", args);
  return test_run_program(dir, cmd, out, err);
}


static void assert_svg(const char *path) {
  FILE *f = fopen(path, "r");
  cr_assert(f, "%s missing", path);
  char head[512] = "";
  size_t n = fread(head, 1, sizeof head - 1, f);
  head[n] = '\0';
  fclose(f);
  cr_assert(strstr(head, "<svg"), "%s is not SVG", path);
}

static const fake_run two_by_two[] = {
    {"dnl_s1", "dnl", "dnl", "", "synth", 1, 0.80, true},
    {"dnl_s2", "dnl", "dnl", "", "synth", 2, 0.70, true},
    {"none_s1", "none", "none", "", "synth", 1, 0.50, true},
    {"none_s2", "none", "none", "", "synth", 2, 0.60, true},
};

static void make_two_by_two(const char *dir, char *files, size_t len) {
  size_t n = 0;
  for (int i = 0; i < 4; i++) {
    make_run(dir, &two_by_two[i]);
    n += (size_t)snprintf(files + n, len - n, "%s/%s.h5 ", dir, two_by_two[i].run);
  }
  char junk[256];
  file_write_text(tmpdir_path(junk, sizeof junk, dir, "junk.h5"), "plain text, not HDF5\n");
  snprintf(files + n, len - n, "%s", junk);
}

Test(analysis, plot_draws_every_figure_and_skips_junk) {
  char dir[64], files[2048], args[2400], path[256];
  tmpdir_make(dir, sizeof dir, "analysis");
  make_two_by_two(dir, files, sizeof files);
  snprintf(args, sizeof args, "plot %s -o %s/plots", files, dir);
  char *out, *err;
  int rc = run_analysis(dir, args, &out, &err);
  cr_assert_eq(rc, 0, "analysis plot failed: %s%s", out, err);
  cr_assert(strstr(err, "skipping") && strstr(err, "junk.h5: not an HDF5 file"), "%s", err);

  char plots[128];
  snprintf(plots, sizeof plots, "%s/plots", dir);
  const char *gnuplot_figs[] = {"loss", "miou", "final_miou"};
  for (int i = 0; i < 3; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.png", gnuplot_figs[i]);
    test_assert_png(tmpdir_path(path, sizeof path, plots, name), 960, 600);
    snprintf(name, sizeof name, "%s.svg", gnuplot_figs[i]);
    assert_svg(tmpdir_path(path, sizeof path, plots, name));
  }
  /* heat map: 260 + 34 K wide and 200 + 44 groups high, at least 640 x 320 */
  test_assert_png(tmpdir_path(path, sizeof path, plots, "class_iou.png"), 640, 320);
  /* attention: panels of 256 px on the longer side, 6 px gaps; columns: image,
   * ground truth, NQ pairwise maps, unary; one row per image */
  int cw = 256, ch = 256 * IMG_H / IMG_W, cols = 2 + NQ + 1;
  test_assert_png(tmpdir_path(path, sizeof path, plots, "attention_dnl_s1.png"),
             cols * cw + (cols + 1) * 6, NA * ch + (NA + 1) * 6);
  test_assert_png(tmpdir_path(path, sizeof path, plots, "attention_dnl_s2.png"),
             cols * cw + (cols + 1) * 6, NA * ch + (NA + 1) * 6);
  cr_assert(!file_exists(tmpdir_path(path, sizeof path, plots, "attention_none_s1.png")),
            "a run without attention maps gets no attention figure");

  FILE *f = fopen(tmpdir_path(path, sizeof path, plots, "index.md"), "r");
  cr_assert(f, "no index.md");
  static char index[32768];
  size_t n = fread(index, 1, sizeof index - 1, f);
  index[n] = '\0';
  fclose(f);
  const char *linked[] = {"(loss.png)",       "(loss.svg)",      "(miou.png)",
                          "(miou.svg)",       "(final_miou.png)", "(final_miou.svg)",
                          "(class_iou.png)",  "(attention_dnl_s1.png)",
                          "(attention_dnl_s2.png)"};
  for (size_t i = 0; i < sizeof linked / sizeof linked[0]; i++)
    cr_assert(strstr(index, linked[i]), "index.md does not link %s:\n%s", linked[i], index);
  cr_assert(strstr(index, "| dnl_s1 | dnl | 0.450 | 0.225 | 2.00 |"), "%s", index);
  tmpdir_remove(dir);
}

Test(analysis, table_gives_mean_and_std_per_group) {
  char dir[64], files[2048], args[2400];
  tmpdir_make(dir, sizeof dir, "analysis");
  make_two_by_two(dir, files, sizeof files);
  fake_run unfinished = {"dnl_s3", "dnl", "dnl", "", "synth", 3, 0.10, false};
  make_run(dir, &unfinished);
  char *out, *err;
  snprintf(args, sizeof args, "table %s %s/dnl_s3.h5", files, dir);
  cr_assert_eq(run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(err, "junk.h5: not an HDF5 file"), "%s", err);
  cr_assert(strstr(err, "dnl_s3.h5 did not finish"), "%s", err);
  /* sample std of {80, 70} and {50, 60} is 7.07; the unfinished run is left out */
  cr_assert(strstr(out, "| none | synth | 55.00 ± 7.07 | 2 |"), "%s", out);
  cr_assert(strstr(out, "| dnl | synth | 75.00 ± 7.07 | 2 (+1 unfinished) |"), "%s", out);
  cr_assert(strstr(out, "| none |") < strstr(out, "| dnl |"), "none comes before dnl:\n%s",
            out);

  snprintf(args, sizeof args, "table --format csv %s", files);
  cr_assert_eq(run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "group,dataset,runs,unfinished,miou_mean,miou_std\n"), "%s", out);
  cr_assert(strstr(out, "dnl,synth,2,0,75.0000,7.0711\n"), "%s", out);
  cr_assert(strstr(out, "none,synth,2,0,55.0000,7.0711\n"), "%s", out);
  tmpdir_remove(dir);
}

Test(analysis, table_paper_column) {
  char dir[64], args[1024];
  tmpdir_make(dir, sizeof dir, "analysis");
  fake_run a = {"ln_s1", "dnl_nowd_ln", "dnl", "dnl_nowd_ln", "cityscapes", 1, 0.79, true};
  fake_run b = {"ln_s2", "dnl_nowd_ln", "dnl", "dnl_nowd_ln", "cityscapes", 2, 0.80, true};
  fake_run c = {"mine", "dnl whiten=ln", "dnl", "", "cityscapes", 1, 0.70, true};
  make_run(dir, &a);
  make_run(dir, &b);
  make_run(dir, &c);
  snprintf(args, sizeof args, "table --paper %s/ln_s1.h5 %s/ln_s2.h5 %s/mine.h5", dir, dir, dir);
  char *out, *err;
  cr_assert_eq(run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "| dnl_nowd_ln | cityscapes | 79.50 ± 0.71 | 2 | 80.12 | -0.62 |"),
            "%s", out);
  cr_assert(strstr(out, "| dnl whiten=ln | cityscapes | 70.00 | 1 | - | - |"), "%s", out);
  tmpdir_remove(dir);
}

Test(analysis, no_usable_file_fails) {
  char dir[64], junk[256], foreign[256], args[1024];
  tmpdir_make(dir, sizeof dir, "analysis");
  file_write_text(tmpdir_path(junk, sizeof junk, dir, "junk.h5"), "nothing\n");
  file_write_foreign_hdf5(tmpdir_path(foreign, sizeof foreign, dir, "other.h5"));
  char *out, *err;
  snprintf(args, sizeof args, "table %s %s", junk, foreign);
  cr_assert_neq(run_analysis(dir, args, &out, &err), 0, "%s", out);
  cr_assert(strstr(err, "other.h5: not a dnl result file"), "%s", err);
  cr_assert(strstr(err, "no usable result file"), "%s", err);
  snprintf(args, sizeof args, "plot %s -o %s/plots", junk, dir);
  cr_assert_neq(run_analysis(dir, args, &out, &err), 0, "%s", out);
  cr_assert_eq(run_analysis(dir, "table --format xml x.h5", &out, &err), 2);
  tmpdir_remove(dir);
}
