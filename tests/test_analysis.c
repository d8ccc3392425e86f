/* bin/analysis (through $DNL_BIN) on synthetic result files made with the writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "analysis/figures.h"
#include "tests/test_fake_runs.h"
#include "tests/test_tmpdir.h"
#include "lib/store/results.h"
#include "tests/test_util.h"

#define NQ FAKE_NQ
#define NA FAKE_NA
#define IMG_H FAKE_IMG_H
#define IMG_W FAKE_IMG_W

static void make_run(const char *dir, const fake_run *f) { fake_run_write(dir, f, NULL, 2); }

static int run_analysis(const char *dir, const char *args, char **out, char **err) {
  return fake_run_analysis(dir, args, out, err);
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
   * ground truth, NQ pairwise maps, unary; one row per image; title and legend bands */
  int cw = 256, ch = 256 * IMG_H / IMG_W, cols = 2 + NQ + 1;
  int height = ATTENTION_HEADER_H + NA * ch + (NA + 1) * 6 + ATTENTION_FOOTER_H;
  test_assert_png(tmpdir_path(path, sizeof path, plots, "attention_dnl_s1.png"),
                  cols * cw + (cols + 1) * 6, height);
  test_assert_png(tmpdir_path(path, sizeof path, plots, "attention_dnl_s2.png"),
                  cols * cw + (cols + 1) * 6, height);
  cr_assert(!file_exists(tmpdir_path(path, sizeof path, plots, "attention_none_s1.png")),
            "a run without attention maps gets no attention figure");

  FILE *f = fopen(tmpdir_path(path, sizeof path, plots, "index.md"), "r");
  cr_assert(f, "no index.md");
  static char index[32768];
  size_t n = fread(index, 1, sizeof index - 1, f);
  index[n] = '\0';
  fclose(f);
  const char *linked[] = {"(loss.png)",
                          "(loss.svg)",
                          "(miou.png)",
                          "(miou.svg)",
                          "(final_miou.png)",
                          "(final_miou.svg)",
                          "(class_iou.png)",
                          "(attention_dnl_s1.png)",
                          "(attention_dnl_s2.png)"};
  for (size_t i = 0; i < sizeof linked / sizeof linked[0]; i++)
    cr_assert(strstr(index, linked[i]), "index.md does not link %s:\n%s", linked[i], index);
  cr_assert(strstr(index, "| dnl_s1 | dnl | 0.250 | 0.100 | 2.50 | 0.450 | 0.225 | 2.00 |"), "%s", index);
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
  cr_assert(strstr(out, "| none |") < strstr(out, "| dnl |"), "none comes before dnl:\n%s", out);

  snprintf(args, sizeof args, "table --format csv %s", files);
  cr_assert_eq(run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "group,dataset,runs,unfinished,miou_mean,miou_std,ref,pairs,diff_mean,"
                        "diff_sd,p_value,ci_low,ci_high,pair_region_ratio_mean,"),
            "%s", out);
  /* paired by seed: 80 - 50 and 70 - 60; t = 2 with 1 degree of freedom */
  cr_assert(strstr(out, "\ndnl,synth,2,0,75.0000,7.0711,none,2,20,14.1421,0.295167,10,30,"), "%s",
            out);
  cr_assert(strstr(out, "\nnone,synth,2,0,55.0000,7.0711,none,0,,,,,,"), "%s", out);
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
  cr_assert(strstr(out, "| dnl_nowd_ln | cityscapes | 79.50 ± 0.71 | 2 | 80.12 | -0.62 |"), "%s",
            out);
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

Test(analysis, plot_of_one_evaluation_prints_nothing_on_stderr) {
  char dir[64], args[1024], path[256];
  tmpdir_make(dir, sizeof dir, "analysis");
  /* one seed per group, one evaluation per run: every curve is a single point */
  const double stats[RESULTS_EVAL_STATS] = {1.5, 0.9, 2.0, 1.1, 0.8, 0.05, 0.02, 0.01, 1.3};
  fake_run none = {"none_s1", "none", "none", "", "synth", 1, 0.4, true};
  fake_run nl = {"nl_s1", "nl", "nl", "", "synth", 1, 0.5, true};
  fake_run dnl = {"dnl_s1", "dnl", "dnl", "", "synth", 1, 0.6, true};
  fake_run_write(dir, &none, NULL, 1);
  fake_run_write(dir, &nl, stats, 1);
  fake_run_write(dir, &dnl, stats, 1);
  snprintf(args, sizeof args, "plot %s/none_s1.h5 %s/nl_s1.h5 %s/dnl_s1.h5 -o %s/plots", dir, dir,
           dir, dir);
  char *out, *err;
  cr_assert_eq(run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert_str_eq(err, "", "nothing on stderr, got:\n%s", err);
  char plots[128];
  snprintf(plots, sizeof plots, "%s/plots", dir);
  test_assert_png(tmpdir_path(path, sizeof path, plots, "miou.png"), 960, 600);
  cr_assert(file_exists(tmpdir_path(path, sizeof path, plots, "block_stats.png")));
  cr_assert(file_exists(tmpdir_path(path, sizeof path, plots, "block_stats.svg")));
  static char index[16384];
  test_read_text(tmpdir_path(path, sizeof path, plots, "index.md"), index, sizeof index);
  cr_assert(strstr(index, "(block_stats.png)"), "%s", index);
  /* and a single run alone */
  snprintf(args, sizeof args, "plot %s/dnl_s1.h5 -o %s/one", dir, dir);
  cr_assert_eq(run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert_str_eq(err, "", "nothing on stderr, got:\n%s", err);
  tmpdir_remove(dir);
}
