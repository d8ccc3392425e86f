/* lib/store/ holds what this project writes and reads back on disk: results
 * files (below), checkpoints, the HDF5 helpers under them (h5error <- h5file
 * <- h5io, h5attr, h5dset) and atomic file replacement. It depends on
 * lib/core only (and HDF5).
 *
 * The per-run result file (layout: docs/results.md): root attributes, /train
 * and /eval rows appended as training goes, /attention, /attention_stats and
 * /classes. Every append and status change is flushed to the OS, so a run
 * killed at any point leaves a readable file whose status still says
 * "running". Read it back with lib/store/results_read.h. */
#ifndef DNL_RESULTS_H
#define DNL_RESULTS_H

#include <hdf5.h>
#include <stdint.h>

#include "lib/core/status.h"

#define RESULTS_FORMAT "dnl-result"
#define RESULTS_FORMAT_VERSION 1

/* What results_create stores as root attributes (strings may be NULL = ""). */
typedef struct results_info {
  const char *run, *sweep, *variant, *preset;
  const char *label; /* the plots' group; NULL or "" = preset if set, else variant */
  const char *dataset;
  int64_t seed;
  const char *config; /* fully resolved libconfig text */
  const char *backend, *device;
  int64_t params;     /* trainable parameter count */
  int64_t iterations; /* planned */
  int num_classes;
  const char *const *class_names; /* [num_classes], or NULL for "0", "1", ... */
} results_info;

typedef struct results_train_row {
  int64_t iter; /* finished iterations when the row was logged */
  double loss, loss_main, loss_aux, lr;
  double seconds; /* wall time since the run started (resumes included) */
} results_train_row;

typedef struct results_eval_row {
  int64_t iter;
  double miou, pixel_acc;   /* fractions 0..1 */
  const float *class_iou;   /* [K], NaN for classes absent from ground truth and prediction */
  const int64_t *confusion; /* [K, K], rows ground truth, columns prediction */
  /* The block's statistics over the validation set (docs/results.md, /eval); NaN when
   * not applicable. A row made with an initialiser list gets 0 here, not NaN: start
   * from results_eval_row_blank() and fill in what applies. */
  double pair_region_ratio;           /* mean over queries of own-region mass / region share */
  double pair_entropy;                /* mean normalised entropy H / log P of the pairwise rows */
  double unary_cue_ratio;             /* unary mass on the cue pixels / their share */
  double unary_boundary_ratio;        /* unary mass on region boundaries / their share */
  double unary_entropy;               /* normalised entropy of the unary map */
  double gamma;                       /* the block's gamma */
  double pair_contrib, unary_contrib; /* ||term's output|| / ||block input|| (Frobenius) */
  double pair_far_ratio; /* like pair_region_ratio, outside the query's connected region */
} results_eval_row;

/* The /eval statistic columns, in results_eval_row order (pair_region_ratio ... pair_far_ratio). */
#define RESULTS_EVAL_STATS 9
extern const char *const results_eval_stat_names[RESULTS_EVAL_STATS];

/* A row with iter 0, miou and pixel_acc NaN, no arrays and every statistic NaN. */
results_eval_row results_eval_row_blank(void);
/* Copies the row's statistics into out, in results_eval_stat_names order. */
void results_eval_row_stats(const results_eval_row *row, double out[RESULTS_EVAL_STATS]);

/* Attention maps of A validation images with Q query points each. */
typedef struct results_attention {
  int64_t iter;
  int a, q;               /* images, queries per image */
  int h, w;               /* image size */
  int fh, fw;             /* feature map size of the block */
  int feature_stride;     /* h / fh */
  const uint8_t *image;   /* [A, h, w, 3] RGB */
  const uint8_t *label;   /* [A, h, w] train ids, 255 ignore */
  const int32_t *queries; /* [A, Q, 2] (y, x) in image pixels */
  const float *pairwise;  /* [A, Q, fh, fw] or NULL (variant without a pairwise term) */
  const float *unary;     /* [A, fh, fw] or NULL (variant without a unary term) */
} results_attention;

/* Per-image numbers behind the paper's claim; a NULL pair is left out. */
typedef struct results_attention_stats {
  int a, q;
  const float *unary_boundary_mass, *boundary_share;          /* [A] */
  const float *pairwise_same_region_mass, *same_region_share; /* [A, Q] */
  const float *unary_cue_mass, *cue_share;                    /* [A] */
} results_attention_stats;

typedef struct results_file {
  hid_t file;
  char *path;
  int num_classes;
  /* after results_resume: the last kept train row's iter and seconds (0 when none) */
  int64_t resumed_iter;
  double resumed_seconds;
} results_file;

/* Creates path (replacing a file there), writes the root attributes, /classes
 * and empty /train and /eval; status "running", start_time now. */
dnl_status results_create(results_file *rf, const char *path, const results_info *info);

/* Reopens a result file to continue a run from a checkpoint taken after
 * `iteration` finished iterations: rows with iter > iteration (and attention
 * written after it) are dropped, status goes back to "running". */
dnl_status results_resume(results_file *rf, const char *path, int64_t iteration);

dnl_status results_append_train(results_file *rf, const results_train_row *row);
dnl_status results_append_eval(results_file *rf, const results_eval_row *row);
/* Replaces /attention (and writes /attention_stats when stats is not NULL). */
dnl_status results_write_attention(results_file *rf, const results_attention *att,
                                   const results_attention_stats *stats);

/* Memory of a training iteration, measured after the first one. */
typedef struct results_memory {
  int64_t peak_bytes;        /* activations' high-water mark + workspace + parameters + batches */
  int64_t device_used_bytes; /* what the device reports in use (CPU: the resident set) */
} results_memory;

/* Root attributes peak_memory_bytes and device_memory_used_bytes (replaced
 * when written again, e.g. by a resumed run). */
dnl_status results_write_memory(results_file *rf, const results_memory *m);

/* Sets status ("finished" or "failed: <reason>") and end_time (now). */
dnl_status results_finish(results_file *rf, const char *status);
/* Closes the file (a run closed without results_finish stays "running"). */
dnl_status results_close(results_file *rf);

#endif
