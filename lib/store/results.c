#include "lib/store/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/core/version.h"
#include "lib/store/h5attr.h"
#include "lib/store/h5dset.h"
#include "lib/store/h5file.h"

typedef enum { COL_I64, COL_F32, COL_F64 } column_kind;

typedef struct column {
  const char *name;
  column_kind kind;
} column;

/* /train columns, in results_train_row order after iter */
static const column train_columns[] = {
    {"iter", COL_I64},     {"loss", COL_F32}, {"loss_main", COL_F32},
    {"loss_aux", COL_F32}, {"lr", COL_F64},   {"seconds", COL_F64},
};
#define TRAIN_COLUMNS 6
static const char *const eval_columns[] = {"iter", "miou", "pixel_acc", "class_iou", "confusion"};
#define EVAL_COLUMNS 5

const char *const results_eval_stat_names[RESULTS_EVAL_STATS] = {
    "pair_region_ratio",    "pair_entropy",  "unary_cue_ratio",
    "unary_boundary_ratio", "unary_entropy", "gamma",
    "pair_contrib",         "unary_contrib", "pair_far_ratio"};

results_eval_row results_eval_row_blank(void) {
  results_eval_row row = {.miou = NAN, .pixel_acc = NAN};
  row.pair_region_ratio = row.pair_entropy = row.unary_cue_ratio = NAN;
  row.unary_boundary_ratio = row.unary_entropy = row.gamma = NAN;
  row.pair_contrib = row.unary_contrib = row.pair_far_ratio = NAN;
  return row;
}

void results_eval_row_stats(const results_eval_row *row, double out[RESULTS_EVAL_STATS]) {
  const double v[RESULTS_EVAL_STATS] = {
      row->pair_region_ratio,    row->pair_entropy,  row->unary_cue_ratio,
      row->unary_boundary_ratio, row->unary_entropy, row->gamma,
      row->pair_contrib,         row->unary_contrib, row->pair_far_ratio};
  memcpy(out, v, sizeof v);
}

static hid_t file_type(column_kind k) {
  switch (k) {
  case COL_I64:
    return H5T_STD_I64LE;
  case COL_F32:
    return H5T_IEEE_F32LE;
  case COL_F64:
    return H5T_IEEE_F64LE;
  }
  return H5T_IEEE_F64LE;
}

static void now_iso8601(char *buf, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Opens /name of the result file, with an error naming the file. */
static hid_t open_group(results_file *rf, const char *name) {
  if (rf->file < 0) {
    dnl_error(DNL_ERR_ARG, "results: the result file is not open");
    return -1;
  }
  hid_t g = H5Gopen2(rf->file, name, H5P_DEFAULT);
  if (g < 0)
    dnl_error(DNL_ERR_FORMAT, "%s: no /%s group", rf->path, name);
  return g;
}

/* Closes after a failure, keeping the failure's message. */
static void discard(results_file *rf) {
  if (rf->file >= 0)
    H5Fclose(rf->file);
  free(rf->path);
  rf->path = NULL;
  rf->file = -1;
}

static dnl_status write_root(hid_t f, const results_info *in) {
  const char *label = in->label && in->label[0]     ? in->label
                      : in->preset && in->preset[0] ? in->preset
                                                    : in->variant;
  char now[32];
  now_iso8601(now, sizeof now);
  DNL_TRY(h5attr_write_str(f, "format", RESULTS_FORMAT));
  DNL_TRY(h5attr_write_i64(f, "format_version", RESULTS_FORMAT_VERSION));
  DNL_TRY(h5attr_write_str(f, "run", in->run));
  DNL_TRY(h5attr_write_str(f, "sweep", in->sweep));
  DNL_TRY(h5attr_write_str(f, "variant", in->variant));
  DNL_TRY(h5attr_write_str(f, "preset", in->preset));
  DNL_TRY(h5attr_write_str(f, "label", label));
  DNL_TRY(h5attr_write_str(f, "dataset", in->dataset));
  DNL_TRY(h5attr_write_i64(f, "seed", in->seed));
  DNL_TRY(h5attr_write_str(f, "config", in->config));
  DNL_TRY(h5attr_write_str(f, "version", dnl_version()));
  DNL_TRY(h5attr_write_str(f, "backend", in->backend));
  DNL_TRY(h5attr_write_str(f, "device", in->device));
  DNL_TRY(h5attr_write_str(f, "start_time", now));
  DNL_TRY(h5attr_write_str(f, "end_time", ""));
  DNL_TRY(h5attr_write_str(f, "status", "running"));
  DNL_TRY(h5attr_write_i64(f, "params", in->params));
  return h5attr_write_i64(f, "iterations", in->iterations);
}

static dnl_status write_classes(hid_t f, const results_info *in) {
  int k = in->num_classes;
  const char **names = malloc((size_t)(k ? k : 1) * sizeof *names);
  char *numbers = malloc((size_t)(k ? k : 1) * 12);
  if (!names || !numbers) {
    free(names);
    free(numbers);
    return dnl_error(DNL_ERR_NOMEM, "results: %d class names", k);
  }
  for (int i = 0; i < k; i++) {
    snprintf(numbers + 12 * i, 12, "%d", i);
    names[i] = in->class_names ? in->class_names[i] : numbers + 12 * i;
  }
  hid_t g = H5Gcreate2(f, "classes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dnl_status s = g < 0 ? dnl_error(DNL_ERR_IO, "cannot create /classes")
                       : h5dset_write_strings(g, "names", (size_t)k, names);
  if (g >= 0)
    H5Gclose(g);
  free(names);
  free(numbers);
  return s;
}

static dnl_status create_series(hid_t f, int k) {
  hid_t t = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t e = H5Gcreate2(f, "eval", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dnl_status s = t < 0 || e < 0 ? dnl_error(DNL_ERR_IO, "cannot create /train and /eval") : DNL_OK;
  for (int i = 0; s == DNL_OK && i < TRAIN_COLUMNS; i++)
    s = h5dset_series_create(t, train_columns[i].name, file_type(train_columns[i].kind), 0, NULL);
  size_t row_k[1] = {(size_t)k}, row_kk[2] = {(size_t)k, (size_t)k};
  if (s == DNL_OK)
    s = h5dset_series_create(e, "iter", H5T_STD_I64LE, 0, NULL);
  if (s == DNL_OK)
    s = h5dset_series_create(e, "miou", H5T_IEEE_F64LE, 0, NULL);
  if (s == DNL_OK)
    s = h5dset_series_create(e, "pixel_acc", H5T_IEEE_F64LE, 0, NULL);
  if (s == DNL_OK)
    s = h5dset_series_create(e, "class_iou", H5T_IEEE_F32LE, 1, row_k);
  if (s == DNL_OK)
    s = h5dset_series_create(e, "confusion", H5T_STD_I64LE, 2, row_kk);
  for (int i = 0; s == DNL_OK && i < RESULTS_EVAL_STATS; i++)
    s = h5dset_series_create(e, results_eval_stat_names[i], H5T_IEEE_F64LE, 0, NULL);
  if (t >= 0)
    H5Gclose(t);
  if (e >= 0)
    H5Gclose(e);
  return s;
}

dnl_status results_create(results_file *rf, const char *path, const results_info *info) {
  memset(rf, 0, sizeof *rf);
  rf->file = -1;
  if (info->num_classes < 1)
    return dnl_error(DNL_ERR_ARG, "results %s: %d classes", path, info->num_classes);
  rf->path = strdup(path);
  if (!rf->path)
    return dnl_error(DNL_ERR_NOMEM, "results: path");
  rf->num_classes = info->num_classes;
  dnl_status s = h5file_create(path, &rf->file);
  if (s == DNL_OK)
    s = write_root(rf->file, info);
  if (s == DNL_OK)
    s = write_classes(rf->file, info);
  if (s == DNL_OK)
    s = create_series(rf->file, info->num_classes);
  if (s == DNL_OK)
    s = h5file_flush(rf->file, path);
  if (s != DNL_OK) {
    s = dnl_error_context(s, "results %s", path);
    discard(rf);
  }
  return s;
}

/* Number of leading rows of group/iter with iter <= iteration. */
static dnl_status rows_to_keep(hid_t g, int64_t iteration, size_t *keep, int64_t *last) {
  h5io_array it;
  DNL_TRY(h5dset_read(g, "iter", H5T_NATIVE_INT64, &it));
  const int64_t *v = it.data;
  size_t n = 0;
  while (n < it.numel && v[n] <= iteration)
    n++;
  *keep = n;
  *last = n ? v[n - 1] : 0;
  h5io_array_free(&it);
  return DNL_OK;
}

/* Cuts every column of a group to at most `keep` rows. */
static dnl_status cut_group(hid_t g, const char *const *names, int count, size_t keep) {
  for (int i = 0; i < count; i++) {
    int nd = 0;
    size_t dims[H5IO_MAX_DIMS];
    DNL_TRY(h5dset_shape(g, names[i], &nd, dims));
    if (nd >= 1 && dims[0] > keep)
      DNL_TRY(h5dset_series_resize(g, names[i], keep));
  }
  return DNL_OK;
}

/* Value at row `row` of a float64-readable column. */
static dnl_status column_value(hid_t g, const char *name, size_t row, double *out) {
  h5io_array col;
  DNL_TRY(h5dset_read(g, name, H5T_NATIVE_DOUBLE, &col));
  dnl_status s =
      row < col.numel ? DNL_OK : dnl_error(DNL_ERR_FORMAT, "%s: row %zu missing", name, row);
  if (s == DNL_OK)
    *out = ((const double *)col.data)[row];
  h5io_array_free(&col);
  return s;
}

/* Brings every statistic column of /eval to exactly `keep` rows: cut when longer, padded
 * with NaN when shorter, created when absent (a file written before the statistics
 * existed: its kept rows read NaN and the resumed run appends as usual). */
static dnl_status fit_stat_columns(hid_t g, size_t keep) {
  const double nan = NAN;
  for (int i = 0; i < RESULTS_EVAL_STATS; i++) {
    const char *name = results_eval_stat_names[i];
    size_t rows = 0;
    if (h5dset_exists(g, name)) {
      int nd = 0;
      size_t dims[H5IO_MAX_DIMS];
      DNL_TRY(h5dset_shape(g, name, &nd, dims));
      if (nd != 1)
        return dnl_error(DNL_ERR_FORMAT, "/eval/%s is not a column of numbers", name);
      rows = dims[0];
    } else {
      DNL_TRY(h5dset_series_create(g, name, H5T_IEEE_F64LE, 0, NULL));
    }
    if (rows > keep)
      DNL_TRY(h5dset_series_resize(g, name, keep));
    for (; rows < keep; rows++)
      DNL_TRY(h5dset_series_append(g, name, H5T_NATIVE_DOUBLE, &nan));
  }
  return DNL_OK;
}

static dnl_status drop_rows_after(results_file *rf, int64_t iteration) {
  const char *train_names[TRAIN_COLUMNS];
  for (int i = 0; i < TRAIN_COLUMNS; i++)
    train_names[i] = train_columns[i].name;
  size_t keep = 0;
  int64_t last = 0;
  hid_t g = open_group(rf, "train");
  if (g < 0)
    return DNL_ERR_FORMAT;
  dnl_status s = rows_to_keep(g, iteration, &keep, &last);
  if (s == DNL_OK)
    s = cut_group(g, train_names, TRAIN_COLUMNS, keep);
  if (s == DNL_OK && keep) {
    rf->resumed_iter = last;
    s = column_value(g, "seconds", keep - 1, &rf->resumed_seconds);
  }
  H5Gclose(g);
  DNL_TRY(s);
  g = open_group(rf, "eval");
  if (g < 0)
    return DNL_ERR_FORMAT;
  s = rows_to_keep(g, iteration, &keep, &last);
  if (s == DNL_OK)
    s = cut_group(g, eval_columns, EVAL_COLUMNS, keep);
  if (s == DNL_OK)
    s = fit_stat_columns(g, keep);
  H5Gclose(g);
  return s;
}

/* Drops /attention and /attention_stats (when present). */
static dnl_status drop_attention(results_file *rf) {
  static const char *const groups[] = {"attention", "attention_stats"};
  for (int i = 0; i < 2; i++)
    if (H5Lexists(rf->file, groups[i], H5P_DEFAULT) > 0 &&
        H5Ldelete(rf->file, groups[i], H5P_DEFAULT) < 0)
      return dnl_error(DNL_ERR_IO, "%s: cannot remove /%s", rf->path, groups[i]);
  return DNL_OK;
}

/* Attention written after `iteration` belongs to the part of the run that is redone. */
static dnl_status drop_late_attention(results_file *rf, int64_t iteration) {
  if (H5Lexists(rf->file, "attention", H5P_DEFAULT) <= 0)
    return DNL_OK;
  hid_t g = open_group(rf, "attention");
  if (g < 0)
    return DNL_ERR_FORMAT;
  int64_t at = INT64_MAX;
  dnl_status s = h5attr_exists(g, "iter") ? h5attr_read_i64(g, "iter", &at) : DNL_OK;
  H5Gclose(g);
  DNL_TRY(s);
  return at > iteration ? drop_attention(rf) : DNL_OK;
}

static dnl_status check_format(results_file *rf) {
  char *format = NULL;
  int64_t version = 0;
  bool ok =
      h5attr_read_str(rf->file, "format", &format) == DNL_OK && strcmp(format, RESULTS_FORMAT) == 0;
  free(format);
  if (!ok)
    return dnl_error(DNL_ERR_FORMAT, "%s: not a dnl result file", rf->path);
  DNL_TRY(h5attr_read_i64(rf->file, "format_version", &version));
  if (version != RESULTS_FORMAT_VERSION)
    return dnl_error(DNL_ERR_FORMAT, "%s: result format_version %lld, this program writes %d",
                     rf->path, (long long)version, RESULTS_FORMAT_VERSION);
  return DNL_OK;
}

static dnl_status count_classes(results_file *rf) {
  hid_t g = open_group(rf, "classes");
  if (g < 0)
    return DNL_ERR_FORMAT;
  int nd = 0;
  size_t dims[H5IO_MAX_DIMS];
  dnl_status s = h5dset_shape(g, "names", &nd, dims);
  H5Gclose(g);
  DNL_TRY(s);
  if (nd != 1 || dims[0] < 1)
    return dnl_error(DNL_ERR_FORMAT, "%s: /classes/names is not a list of classes", rf->path);
  rf->num_classes = (int)dims[0];
  return DNL_OK;
}

dnl_status results_resume(results_file *rf, const char *path, int64_t iteration) {
  memset(rf, 0, sizeof *rf);
  rf->file = -1;
  rf->path = strdup(path);
  if (!rf->path)
    return dnl_error(DNL_ERR_NOMEM, "results: path");
  dnl_status s = h5file_open_write(path, &rf->file);
  if (s == DNL_OK)
    s = check_format(rf);
  if (s == DNL_OK)
    s = count_classes(rf);
  if (s == DNL_OK)
    s = drop_rows_after(rf, iteration);
  if (s == DNL_OK)
    s = drop_late_attention(rf, iteration);
  if (s == DNL_OK)
    s = h5attr_write_str(rf->file, "status", "running");
  if (s == DNL_OK)
    s = h5attr_write_str(rf->file, "end_time", "");
  if (s == DNL_OK)
    s = h5file_flush(rf->file, path);
  if (s != DNL_OK) {
    if (!strstr(dnl_last_error(), path))
      s = dnl_error_context(s, "results %s", path);
    discard(rf);
  }
  return s;
}

dnl_status results_append_train(results_file *rf, const results_train_row *row) {
  const double values[TRAIN_COLUMNS - 1] = {row->loss, row->loss_main, row->loss_aux, row->lr,
                                            row->seconds};
  hid_t g = open_group(rf, "train");
  if (g < 0)
    return DNL_ERR_FORMAT;
  dnl_status s = h5dset_series_append(g, "iter", H5T_NATIVE_INT64, &row->iter);
  for (int i = 1; s == DNL_OK && i < TRAIN_COLUMNS; i++)
    s = h5dset_series_append(g, train_columns[i].name, H5T_NATIVE_DOUBLE, &values[i - 1]);
  H5Gclose(g);
  DNL_TRY(s);
  return h5file_flush(rf->file, rf->path);
}

dnl_status results_append_eval(results_file *rf, const results_eval_row *row) {
  if (!row->class_iou || !row->confusion)
    return dnl_error(DNL_ERR_ARG, "results %s: eval row without class_iou or confusion", rf->path);
  hid_t g = open_group(rf, "eval");
  if (g < 0)
    return DNL_ERR_FORMAT;
  dnl_status s = h5dset_series_append(g, "iter", H5T_NATIVE_INT64, &row->iter);
  if (s == DNL_OK)
    s = h5dset_series_append(g, "miou", H5T_NATIVE_DOUBLE, &row->miou);
  if (s == DNL_OK)
    s = h5dset_series_append(g, "pixel_acc", H5T_NATIVE_DOUBLE, &row->pixel_acc);
  if (s == DNL_OK)
    s = h5dset_series_append(g, "class_iou", H5T_NATIVE_FLOAT, row->class_iou);
  if (s == DNL_OK)
    s = h5dset_series_append(g, "confusion", H5T_NATIVE_INT64, row->confusion);
  double stats[RESULTS_EVAL_STATS];
  results_eval_row_stats(row, stats);
  for (int i = 0; s == DNL_OK && i < RESULTS_EVAL_STATS; i++)
    s = h5dset_series_append(g, results_eval_stat_names[i], H5T_NATIVE_DOUBLE, &stats[i]);
  H5Gclose(g);
  DNL_TRY(s);
  return h5file_flush(rf->file, rf->path);
}

static dnl_status write_attention_group(hid_t g, const results_attention *at) {
  size_t a = (size_t)at->a, q = (size_t)at->q, h = (size_t)at->h, w = (size_t)at->w;
  size_t fh = (size_t)at->fh, fw = (size_t)at->fw;
  size_t image_dims[4] = {a, h, w, 3}, label_dims[3] = {a, h, w}, query_dims[3] = {a, q, 2};
  size_t pair_dims[4] = {a, q, fh, fw}, unary_dims[3] = {a, fh, fw};
  DNL_TRY(h5attr_write_i64(g, "iter", at->iter));
  DNL_TRY(h5attr_write_i64(g, "feature_stride", at->feature_stride));
  DNL_TRY(h5dset_write(g, "image", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, image_dims, at->image));
  DNL_TRY(h5dset_write(g, "label", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, label_dims, at->label));
  DNL_TRY(h5dset_write(g, "queries", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, query_dims, at->queries));
  if (at->pairwise)
    DNL_TRY(
        h5dset_write(g, "pairwise", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, pair_dims, at->pairwise));
  if (at->unary)
    DNL_TRY(h5dset_write(g, "unary", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, unary_dims, at->unary));
  return DNL_OK;
}

static dnl_status write_stats_group(hid_t g, const results_attention_stats *st) {
  size_t a_dims[1] = {(size_t)st->a}, aq_dims[2] = {(size_t)st->a, (size_t)st->q};
  if (st->unary_boundary_mass && st->boundary_share) {
    DNL_TRY(h5dset_write(g, "unary_boundary_mass", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, a_dims,
                         st->unary_boundary_mass));
    DNL_TRY(h5dset_write(g, "boundary_share", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, a_dims,
                         st->boundary_share));
  }
  if (st->pairwise_same_region_mass && st->same_region_share) {
    DNL_TRY(h5dset_write(g, "pairwise_same_region_mass", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2,
                         aq_dims, st->pairwise_same_region_mass));
    DNL_TRY(h5dset_write(g, "same_region_share", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, aq_dims,
                         st->same_region_share));
  }
  if (st->unary_cue_mass && st->cue_share) {
    DNL_TRY(h5dset_write(g, "unary_cue_mass", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, a_dims,
                         st->unary_cue_mass));
    DNL_TRY(
        h5dset_write(g, "cue_share", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, a_dims, st->cue_share));
  }
  return DNL_OK;
}

dnl_status results_write_attention(results_file *rf, const results_attention *att,
                                   const results_attention_stats *stats) {
  if (att->a < 1 || att->q < 0 || att->h < 1 || att->w < 1 || att->fh < 1 || att->fw < 1 ||
      !att->image || !att->label || (att->q && !att->queries))
    return dnl_error(DNL_ERR_ARG,
                     "results %s: attention of %d images %dx%d, %d queries, "
                     "features %dx%d, or missing arrays",
                     rf->path, att->a, att->h, att->w, att->q, att->fh, att->fw);
  if (stats && (stats->a != att->a || stats->q != att->q))
    return dnl_error(DNL_ERR_ARG, "results %s: attention stats of %d x %d, maps of %d x %d",
                     rf->path, stats->a, stats->q, att->a, att->q);
  DNL_TRY(drop_attention(rf));
  hid_t g = H5Gcreate2(rf->file, "attention", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dnl_status s =
      g < 0 ? dnl_error(DNL_ERR_IO, "cannot create /attention") : write_attention_group(g, att);
  if (g >= 0)
    H5Gclose(g);
  if (s == DNL_OK && stats) {
    g = H5Gcreate2(rf->file, "attention_stats", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    s = g < 0 ? dnl_error(DNL_ERR_IO, "cannot create /attention_stats")
              : write_stats_group(g, stats);
    if (g >= 0)
      H5Gclose(g);
  }
  if (s == DNL_OK)
    s = h5file_flush(rf->file, rf->path);
  if (s != DNL_OK && !strstr(dnl_last_error(), rf->path))
    s = dnl_error_context(s, "results %s", rf->path);
  return s;
}

dnl_status results_write_memory(results_file *rf, const results_memory *m) {
  if (rf->file < 0 || !m)
    return dnl_error(DNL_ERR_ARG, "results: memory needs an open file and the numbers");
  DNL_TRY(h5attr_write_i64(rf->file, "peak_memory_bytes", m->peak_bytes));
  DNL_TRY(h5attr_write_i64(rf->file, "device_memory_used_bytes", m->device_used_bytes));
  return h5file_flush(rf->file, rf->path);
}

dnl_status results_finish(results_file *rf, const char *status) {
  if (rf->file < 0 || !status)
    return dnl_error(DNL_ERR_ARG, "results: finish needs an open file and a status");
  char now[32];
  now_iso8601(now, sizeof now);
  DNL_TRY(h5attr_write_str(rf->file, "status", status));
  DNL_TRY(h5attr_write_str(rf->file, "end_time", now));
  return h5file_flush(rf->file, rf->path);
}

dnl_status results_close(results_file *rf) {
  dnl_status s = DNL_OK;
  if (rf->file >= 0)
    s = h5file_close(rf->file, rf->path ? rf->path : "result file");
  free(rf->path);
  rf->path = NULL;
  rf->file = -1;
  return s;
}
