/* Reading a result file (docs/results.md) back into memory: everything the
 * analysis program draws and tabulates. Validates format / format_version and
 * says clearly when a file is not a dnl result file, not HDF5 at all, or
 * truncated. A file whose writer was killed reads fine: its status is
 * "running" (finished = false), and a row that only some columns got is cut. */
#ifndef DNL_RESULTS_READ_H
#define DNL_RESULTS_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

typedef struct results_train_log {
  size_t n;
  int64_t *iter;
  double *loss, *loss_main, *loss_aux, *lr, *seconds; /* [n] */
} results_train_log;

typedef struct results_eval_log {
  size_t n;
  int64_t *iter;
  double *miou, *pixel_acc; /* [n], fractions */
  float *class_iou;         /* [n, K] */
  int64_t *confusion;       /* [n, K, K] */
  /* [n] each, NaN where not applicable or when the file has no such column (written
   * before the statistics existed); meaning in lib/store/results.h, results_eval_row */
  double *pair_region_ratio, *pair_entropy, *unary_cue_ratio, *unary_boundary_ratio;
  double *unary_entropy, *gamma, *pair_contrib, *unary_contrib, *pair_far_ratio;
} results_eval_log;

/* The statistic column i (0 .. RESULTS_EVAL_STATS - 1, in results_eval_stat_names order of
 * lib/store/results.h), [n]. */
double *results_eval_stat(const results_eval_log *e, int i);

typedef struct results_attention_maps {
  bool present;
  int64_t iter;
  int a, q, h, w;
  int fh, fw; /* 0 when the run has neither map */
  int feature_stride;
  uint8_t *image;   /* [A, h, w, 3] */
  uint8_t *label;   /* [A, h, w] */
  int32_t *queries; /* [A, Q, 2] (y, x) */
  float *pairwise;  /* [A, Q, fh, fw] or NULL */
  float *unary;     /* [A, fh, fw] or NULL */
  /* /attention_stats, each NULL when absent */
  float *unary_boundary_mass, *boundary_share;          /* [A] */
  float *pairwise_same_region_mass, *same_region_share; /* [A, Q] */
  float *unary_cue_mass, *cue_share;                    /* [A] */
} results_attention_maps;

typedef struct results_data {
  char *path;
  char *run, *sweep, *variant, *preset, *label, *dataset;
  char *config, *version, *backend, *device, *start_time, *end_time, *status;
  int64_t format_version, seed, params, iterations;
  int64_t peak_memory_bytes, device_memory_used_bytes; /* -1 when absent */
  bool finished;                                       /* status == "finished" */
  int num_classes;
  char **class_names; /* [num_classes] */
  results_train_log train;
  results_eval_log eval;
  results_attention_maps attention;
} results_data;

dnl_status results_read(const char *path, results_data *out);
void results_data_free(results_data *d);

#endif
