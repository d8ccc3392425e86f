#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/store/results.h"
#include "lib/store/results_read.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

#define K 3
static const char *const class_names[K] = {"background", "red thing", "green thing"};

static results_info info_for(const char *run) {
  results_info in = {0};
  in.run = run;
  in.sweep = "ablation";
  in.variant = "dnl";
  in.dataset = "synth";
  in.seed = 7;
  in.config = "seed = 7;\nblock = { variant = \"dnl\"; };\n";
  in.backend = "cpu";
  in.device = "2 cores";
  in.params = 12345;
  in.iterations = 100;
  in.num_classes = K;
  in.class_names = class_names;
  return in;
}

static void append_train(results_file *rf, int64_t iter) {
  results_train_row row = {iter,
                           2.0 / (double)iter,
                           1.5 / (double)iter,
                           0.5 / (double)iter,
                           0.01 * (1.0 - (double)iter / 100.0),
                           0.25 * (double)iter};
  TRY_OK(results_append_train(rf, &row));
}

/* statistic i of the row at iter: iter + i / 10, except unary_entropy, NaN */
static double stat_value(int64_t iter, int i) { return i == 4 ? NAN : (double)iter + i / 10.0; }

static void append_eval(results_file *rf, int64_t iter) {
  float iou[K] = {0.9f, (float)iter / 200.0f, NAN};
  int64_t conf[K * K] = {100, 2, 0, 3, iter, 0, 0, 0, 0};
  results_eval_row row = results_eval_row_blank();
  row.iter = iter;
  row.miou = 0.5 + (double)iter / 1000.0;
  row.pixel_acc = 0.95;
  row.class_iou = iou;
  row.confusion = conf;
  row.pair_region_ratio = stat_value(iter, 0);
  row.pair_entropy = stat_value(iter, 1);
  row.unary_cue_ratio = stat_value(iter, 2);
  row.unary_boundary_ratio = stat_value(iter, 3);
  row.unary_entropy = stat_value(iter, 4);
  row.gamma = stat_value(iter, 5);
  row.pair_contrib = stat_value(iter, 6);
  row.unary_contrib = stat_value(iter, 7);
  row.pair_far_ratio = stat_value(iter, 8);
  TRY_OK(results_append_eval(rf, &row));
}

/* every statistic column of d's /eval row r holds what append_eval(iter) wrote */
static void assert_stats(const results_data *d, size_t r, int64_t iter) {
  for (int i = 0; i < RESULTS_EVAL_STATS; i++) {
    double got = results_eval_stat(&d->eval, i)[r], want = stat_value(iter, i);
    if (isnan(want))
      cr_assert(isnan(got), "%s row %zu: %g, expected NaN", results_eval_stat_names[i], r, got);
    else
      cr_assert_float_eq(got, want, 0.0, "%s row %zu", results_eval_stat_names[i], r);
  }
}

/* 2 images of 16 x 12, 2 queries, 4 x 3 feature maps */
static void write_attention(results_file *rf, int64_t iter) {
  uint8_t image[2 * 16 * 12 * 3], label[2 * 16 * 12];
  for (size_t i = 0; i < sizeof image; i++)
    image[i] = (uint8_t)(i * 7);
  for (size_t i = 0; i < sizeof label; i++)
    label[i] = (uint8_t)(i % 5 == 0 ? 255 : i % 3);
  int32_t queries[2 * 2 * 2] = {1, 2, 10, 11, 3, 3, 15, 0};
  float pair[2 * 2 * 4 * 3], unary[2 * 4 * 3];
  for (int i = 0; i < 24; i++)
    pair[i] = (float)i / 24.0f;
  for (int i = 0; i < 12 * 2; i++)
    unary[i] = (float)(i % 12) / 66.0f;
  results_attention att = {iter, 2, 2, 16, 12, 4, 3, 4, image, label, queries, pair, unary};
  float ubm[2] = {0.3f, 0.4f}, bs[2] = {0.2f, 0.2f}, psm[4] = {0.5f, 0.6f, 0.7f, 0.8f},
        srs[4] = {0.25f, 0.25f, 0.5f, 0.5f}, ucm[2] = {0.45f, 0.05f}, cs[2] = {0.1f, 0.12f};
  results_attention_stats st = {2, 2, ubm, bs, psm, srs, ucm, cs};
  TRY_OK(results_write_attention(rf, &att, &st));
}

Test(results, write_then_read_everything) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "results");
  tmpdir_path(path, sizeof path, dir, "run.h5");
  results_file rf;
  results_info in = info_for("dnl_s7");
  TRY_OK(results_create(&rf, path, &in));
  for (int it = 10; it <= 100; it += 10)
    append_train(&rf, it);
  append_eval(&rf, 50);
  append_eval(&rf, 100);
  write_attention(&rf, 100);
  TRY_OK(results_finish(&rf, "finished"));
  TRY_OK(results_close(&rf));

  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert_str_eq(d.run, "dnl_s7");
  cr_assert_str_eq(d.label, "dnl", "label falls back to the variant");
  cr_assert_str_eq(d.dataset, "synth");
  cr_assert_str_eq(d.status, "finished");
  cr_assert(d.finished);
  cr_assert(strlen(d.end_time) == 20 && d.end_time[19] == 'Z', "%s", d.end_time);
  cr_assert_str_eq(d.config, in.config);
  cr_assert_eq(d.seed, 7);
  cr_assert_eq(d.params, 12345);
  cr_assert_eq(d.num_classes, K);
  cr_assert_str_eq(d.class_names[1], "red thing");
  cr_assert_eq(d.train.n, 10);
  cr_assert_eq(d.train.iter[9], 100);
  cr_assert_float_eq(d.train.loss[1], (double)(float)(2.0 / 20.0), 0.0);
  cr_assert_float_eq(d.train.seconds[9], 25.0, 0.0);
  cr_assert_eq(d.eval.n, 2);
  cr_assert_float_eq(d.eval.miou[1], 0.6, 0.0);
  cr_assert(isnan(d.eval.class_iou[1 * K + 2]));
  cr_assert_float_eq(d.eval.class_iou[1 * K + 1], 0.5, 0.0);
  cr_assert_eq(d.eval.confusion[1 * K * K + 4], 100);
  cr_assert(d.attention.present);
  cr_assert(d.attention.a == 2 && d.attention.q == 2 && d.attention.h == 16 &&
            d.attention.w == 12 && d.attention.fh == 4 && d.attention.fw == 3);
  cr_assert_eq(d.attention.queries[6], 15);
  cr_assert_eq(d.attention.label[5], 255);
  cr_assert_float_eq(d.attention.pairwise[23], 23.0f / 24.0f, 0.0f);
  cr_assert_float_eq(d.attention.pairwise_same_region_mass[3], 0.8f, 0.0f);
  cr_assert_float_eq(d.attention.unary_cue_mass[0], 0.45f, 0.0f);
  cr_assert_float_eq(d.attention.cue_share[1], 0.12f, 0.0f);
  assert_stats(&d, 0, 50);
  assert_stats(&d, 1, 100);
  results_data_free(&d);
  tmpdir_remove(dir);
}

Test(results, attention_stats_pairs_are_left_out_when_null) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "results");
  tmpdir_path(path, sizeof path, dir, "run.h5");
  results_file rf;
  results_info in = info_for("nl_s7");
  TRY_OK(results_create(&rf, path, &in));
  uint8_t image[16 * 12 * 3] = {0}, label[16 * 12] = {0};
  int32_t queries[2] = {1, 2};
  float pair[4 * 3] = {0}, psm[1] = {0.5f}, srs[1] = {0.25f}, cs[1] = {0.1f};
  results_attention att = {10, 1, 1, 16, 12, 4, 3, 4, image, label, queries, pair, NULL};
  /* cue_share without unary_cue_mass: the pair is incomplete and left out */
  results_attention_stats st = {1, 1, NULL, NULL, psm, srs, NULL, cs};
  TRY_OK(results_write_attention(&rf, &att, &st));
  TRY_OK(results_close(&rf));
  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert_not_null(d.attention.pairwise_same_region_mass);
  cr_assert_null(d.attention.unary_boundary_mass);
  cr_assert_null(d.attention.unary_cue_mass);
  cr_assert_null(d.attention.cue_share);
  results_data_free(&d);
  tmpdir_remove(dir);
}

/* Removes the statistic columns from /eval, as a writer from before they existed left it. */
static void strip_stat_columns(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert(f >= 0);
  hid_t g = H5Gopen2(f, "eval", H5P_DEFAULT);
  cr_assert(g >= 0);
  for (int i = 0; i < RESULTS_EVAL_STATS; i++)
    cr_assert(H5Ldelete(g, results_eval_stat_names[i], H5P_DEFAULT) >= 0);
  H5Gclose(g);
  H5Fclose(f);
}

Test(results, file_without_statistic_columns_reads_nan_and_resumes) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "results");
  tmpdir_path(path, sizeof path, dir, "old.h5");
  results_file rf;
  results_info in = info_for("old");
  TRY_OK(results_create(&rf, path, &in));
  append_eval(&rf, 50);
  append_eval(&rf, 100);
  TRY_OK(results_close(&rf));
  strip_stat_columns(path);

  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert_eq(d.eval.n, 2, "an old file keeps its rows");
  cr_assert_float_eq(d.eval.miou[1], 0.6, 0.0);
  for (int i = 0; i < RESULTS_EVAL_STATS; i++)
    for (size_t r = 0; r < 2; r++)
      cr_assert(isnan(results_eval_stat(&d.eval, i)[r]), "%s", results_eval_stat_names[i]);
  results_data_free(&d);

  /* resuming an old file: kept rows get NaN statistics, new rows their values */
  TRY_OK(results_resume(&rf, path, 60));
  append_eval(&rf, 70);
  TRY_OK(results_close(&rf));
  TRY_OK(results_read(path, &d));
  cr_assert_eq(d.eval.n, 2);
  cr_assert_eq(d.eval.iter[0], 50);
  cr_assert(isnan(d.eval.gamma[0]) && isnan(d.eval.pair_region_ratio[0]));
  assert_stats(&d, 1, 70);
  results_data_free(&d);
  tmpdir_remove(dir);
}

Test(results, resume_drops_statistics_with_their_rows) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "results");
  tmpdir_path(path, sizeof path, dir, "run.h5");
  results_file rf;
  results_info in = info_for("r");
  TRY_OK(results_create(&rf, path, &in));
  append_eval(&rf, 50);
  append_eval(&rf, 100);
  append_eval(&rf, 150);
  TRY_OK(results_close(&rf));
  TRY_OK(results_resume(&rf, path, 100));
  append_eval(&rf, 120);
  TRY_OK(results_close(&rf));
  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert_eq(d.eval.n, 3);
  cr_assert_eq(d.eval.iter[2], 120);
  assert_stats(&d, 0, 50);
  assert_stats(&d, 1, 100);
  assert_stats(&d, 2, 120);
  results_data_free(&d);
  tmpdir_remove(dir);
}

Test(results, resume_drops_rows_past_the_checkpoint) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "results");
  tmpdir_path(path, sizeof path, dir, "run.h5");
  results_file rf;
  results_info in = info_for("r");
  in.preset = "dnl_nowd_ln";
  TRY_OK(results_create(&rf, path, &in));
  for (int it = 10; it <= 100; it += 10)
    append_train(&rf, it);
  append_eval(&rf, 50);
  append_eval(&rf, 100);
  write_attention(&rf, 100);
  TRY_OK(results_close(&rf)); /* as if killed before finishing */

  TRY_OK(results_resume(&rf, path, 60));
  cr_assert_eq(rf.resumed_iter, 60);
  cr_assert_float_eq(rf.resumed_seconds, 15.0, 0.0);
  append_train(&rf, 70);
  TRY_OK(results_close(&rf));

  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert_str_eq(d.label, "dnl_nowd_ln", "label falls back to the preset");
  cr_assert_str_eq(d.status, "running");
  cr_assert(!d.finished);
  cr_assert_eq(d.train.n, 7);
  cr_assert_eq(d.train.iter[5], 60);
  cr_assert_eq(d.train.iter[6], 70);
  cr_assert_eq(d.eval.n, 1);
  cr_assert_eq(d.eval.iter[0], 50);
  cr_assert(!d.attention.present, "attention of iteration 100 must be dropped");
  results_data_free(&d);

  /* resuming at the end keeps everything */
  TRY_OK(results_resume(&rf, path, 1000));
  cr_assert_eq(rf.resumed_iter, 70);
  TRY_OK(results_finish(&rf, "finished"));
  TRY_OK(results_close(&rf));
  TRY_OK(results_read(path, &d));
  cr_assert_eq(d.train.n, 7);
  cr_assert(d.finished);
  results_data_free(&d);
  tmpdir_remove(dir);
}

Test(results, killed_writer_leaves_a_readable_running_file) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "results");
  tmpdir_path(path, sizeof path, dir, "killed.h5");
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    results_file rf;
    results_info in = info_for("killed");
    if (results_create(&rf, path, &in) != DNL_OK)
      _exit(2);
    for (int it = 1; it <= 25; it++) {
      results_train_row row = {it, 1.0, 0.8, 0.2, 0.01, it};
      if (results_append_train(&rf, &row) != DNL_OK)
        _exit(3);
    }
    float iou[K] = {0.1f, 0.2f, 0.3f};
    int64_t conf[K * K] = {0};
    results_eval_row ev = results_eval_row_blank();
    ev.iter = 25;
    ev.miou = 0.2;
    ev.pixel_acc = 0.5;
    ev.class_iou = iou;
    ev.confusion = conf;
    if (results_append_eval(&rf, &ev) != DNL_OK)
      _exit(4);
    _exit(0); /* no close: the file is left as a SIGKILL would leave it */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child failed: %d", status);
  results_data d;
  TRY_OK(results_read(path, &d));
  cr_assert_str_eq(d.status, "running");
  cr_assert(!d.finished);
  cr_assert_eq(d.train.n, 25);
  cr_assert_eq(d.train.iter[24], 25);
  cr_assert_eq(d.eval.n, 1);
  cr_assert_str_eq(d.end_time, "");
  results_data_free(&d);
  tmpdir_remove(dir);
}

Test(results, bad_files_are_named_with_the_reason) {
  char dir[64], path[128], cut[128];
  tmpdir_make(dir, sizeof dir, "results");
  results_data d;
  tmpdir_path(path, sizeof path, dir, "junk.h5");
  file_write_text(path, "not an hdf5 file\n");
  cr_assert_eq(results_read(path, &d), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "junk.h5: not an HDF5 file"), "%s", dnl_last_error());

  char foreign[128];
  tmpdir_path(foreign, sizeof foreign, dir, "other_program.h5");
  file_write_foreign_hdf5(foreign);
  cr_assert_eq(results_read(foreign, &d), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "other_program.h5: not a dnl result file"), "%s",
            dnl_last_error());

  /* a complete file cut in half */
  tmpdir_path(path, sizeof path, dir, "full.h5");
  results_file rf;
  results_info in = info_for("full");
  TRY_OK(results_create(&rf, path, &in));
  for (int it = 1; it <= 50; it++)
    append_train(&rf, it);
  TRY_OK(results_finish(&rf, "finished"));
  TRY_OK(results_close(&rf));
  FILE *f = fopen(path, "rb");
  cr_assert(f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *bytes = malloc((size_t)size);
  cr_assert_eq(fread(bytes, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  tmpdir_path(cut, sizeof cut, dir, "cut.h5");
  f = fopen(cut, "wb");
  fwrite(bytes, 1, (size_t)size / 2, f);
  fclose(f);
  free(bytes);
  cr_assert_eq(results_read(cut, &d), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "cut.h5: truncated HDF5 file"), "%s", dnl_last_error());

  tmpdir_path(path, sizeof path, dir, "absent.h5");
  cr_assert_eq(results_read(path, &d), DNL_ERR_IO);
  cr_assert(strstr(dnl_last_error(), "absent.h5: No such file"), "%s", dnl_last_error());
  cr_assert_eq(results_resume(&rf, foreign, 5), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "not a dnl result file"), "%s", dnl_last_error());
  tmpdir_remove(dir);
}
