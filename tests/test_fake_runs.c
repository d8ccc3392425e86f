#include "tests/test_fake_runs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/store/results.h"
#include "tests/test_util.h"

static const char *const names[FAKE_K] = {"background", "disc", "bar"};

static void write_attention(results_file *rf, bool pairwise, bool unary) {
  enum { NA = FAKE_NA, NQ = FAKE_NQ, H = FAKE_IMG_H, W = FAKE_IMG_W };
  enum { FH = FAKE_FEAT_H, FW = FAKE_FEAT_W };
  static uint8_t image[NA * H * W * 3], label[NA * H * W];
  for (int i = 0; i < NA * H * W; i++) {
    int x = i % W;
    label[i] = (uint8_t)(x < 10 ? 0 : x < 20 ? 1 : 2);
    image[3 * i] = (uint8_t)(x * 8);
    image[3 * i + 1] = (uint8_t)(i / W * 10);
    image[3 * i + 2] = 128;
  }
  int32_t queries[NA * NQ * 2] = {5, 5, 12, 25, 20, 3, 2, 30};
  float pair[NA * NQ * FH * FW], un[NA * FH * FW];
  for (int i = 0; i < NA * NQ * FH * FW; i++)
    pair[i] = (float)(i % 7) / 21.0f;
  for (int i = 0; i < NA * FH * FW; i++)
    un[i] = (float)(i % 5) / 24.0f;
  results_attention att = {100,
                           NA,
                           NQ,
                           H,
                           W,
                           FH,
                           FW,
                           8,
                           image,
                           label,
                           queries,
                           pairwise ? pair : NULL,
                           unary ? un : NULL};
  float ubm[NA] = {0.4f, 0.5f}, bs[NA] = {0.2f, 0.25f}, ucm[NA] = {0.3f, 0.2f},
        cs[NA] = {0.1f, 0.1f};
  float psm[NA * NQ] = {0.6f, 0.7f, 0.5f, 0.9f}, srs[NA * NQ] = {0.3f, 0.3f, 0.4f, 0.4f};
  results_attention_stats st = {NA,
                                NQ,
                                unary ? ubm : NULL,
                                unary ? bs : NULL,
                                pairwise ? psm : NULL,
                                pairwise ? srs : NULL,
                                unary ? ucm : NULL,
                                unary ? cs : NULL};
  TRY_OK(results_write_attention(rf, &att, &st));
}

static void set_stats(results_eval_row *row, const double *stats, double scale) {
  double *dst[RESULTS_EVAL_STATS] = {&row->pair_region_ratio, &row->pair_entropy,
                                     &row->unary_cue_ratio,   &row->unary_boundary_ratio,
                                     &row->unary_entropy,     &row->gamma,
                                     &row->pair_contrib,      &row->unary_contrib,
                                     &row->pair_far_ratio};
  for (int i = 0; stats && i < RESULTS_EVAL_STATS; i++)
    *dst[i] = stats[i] * scale;
}

void fake_run_write(const char *dir, const fake_run *f, const double *stats, int evals) {
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
  in.num_classes = FAKE_K;
  in.class_names = names;
  results_file rf;
  TRY_OK(results_create(&rf, path, &in));
  for (int it = 10; it <= 100; it += 10) {
    double loss = 2.0 / (1.0 + it / 20.0) + 0.05 * f->seed;
    results_train_row row = {it, loss, 0.8 * loss, 0.2 * loss, 0.01, 0.1 * it};
    TRY_OK(results_append_train(&rf, &row));
  }
  for (int e = 1; e <= evals; e++) {
    int it = 100 * e / evals;
    double miou = e == evals ? f->final_miou : f->final_miou / 2;
    float iou[FAKE_K] = {0.9f, (float)miou, NAN};
    int64_t conf[FAKE_K * FAKE_K] = {0};
    results_eval_row row = results_eval_row_blank();
    row.iter = it;
    row.miou = miou;
    row.pixel_acc = 0.9;
    row.class_iou = iou;
    row.confusion = conf;
    set_stats(&row, stats, it / 100.0);
    TRY_OK(results_append_eval(&rf, &row));
  }
  bool pairwise = strcmp(f->variant, "dnl") == 0 || strcmp(f->variant, "nl") == 0;
  bool unary = strcmp(f->variant, "dnl") == 0 || strcmp(f->variant, "unary") == 0;
  if (pairwise || unary)
    write_attention(&rf, pairwise, unary);
  if (f->finished)
    TRY_OK(results_finish(&rf, "finished"));
  TRY_OK(results_close(&rf));
}

int fake_run_analysis(const char *dir, const char *args, char **out, char **err) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "analysis %s", args);
  return test_run_program(dir, cmd, out, err);
}
