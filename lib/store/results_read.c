#include "lib/store/results_read.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/h5attr.h"
#include "lib/store/h5dset.h"
#include "lib/store/h5file.h"
#include "lib/store/results.h"

/* Reads a whole column converted to mem_type; *rows is its first dimension and
 * row_numel the elements per row, which must equal expect_row (0 = any). */
static dnl_status read_column(hid_t g, const char *name, hid_t mem_type, size_t expect_row,
                              void **data, size_t *rows) {
  h5io_array a;
  DNL_TRY(h5dset_read(g, name, mem_type, &a));
  size_t row = 1;
  for (int i = 1; i < a.ndim; i++)
    row *= a.shape[i];
  if (a.ndim < 1 || (expect_row && row != expect_row)) {
    h5io_array_free(&a);
    return dnl_error(DNL_ERR_FORMAT, "column %s has rows of %zu values, expected %zu", name, row,
                     expect_row);
  }
  *rows = a.shape[0];
  *data = a.data;
  return DNL_OK;
}

static size_t min_rows(const size_t *rows, int n) {
  size_t m = rows[0];
  for (int i = 1; i < n; i++)
    if (rows[i] < m)
      m = rows[i];
  return m;
}

static dnl_status read_train(hid_t f, results_train_log *t) {
  hid_t g = H5Gopen2(f, "train", H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "no /train group");
  size_t rows[6] = {0};
  void **cols[6] = {(void **)&t->iter,     (void **)&t->loss, (void **)&t->loss_main,
                    (void **)&t->loss_aux, (void **)&t->lr,   (void **)&t->seconds};
  static const char *const names[6] = {"iter", "loss", "loss_main", "loss_aux", "lr", "seconds"};
  dnl_status s = DNL_OK;
  for (int i = 0; s == DNL_OK && i < 6; i++)
    s = read_column(g, names[i], i ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, 1, cols[i], &rows[i]);
  H5Gclose(g);
  t->n = s == DNL_OK ? min_rows(rows, 6) : 0;
  return s;
}

double *results_eval_stat(const results_eval_log *e, int i) {
  double *const cols[RESULTS_EVAL_STATS] = {
      e->pair_region_ratio,    e->pair_entropy,  e->unary_cue_ratio,
      e->unary_boundary_ratio, e->unary_entropy, e->gamma,
      e->pair_contrib,         e->unary_contrib, e->pair_far_ratio};
  return i >= 0 && i < RESULTS_EVAL_STATS ? cols[i] : NULL;
}

static double **eval_stat_slot(results_eval_log *e, int i) {
  double **const slots[RESULTS_EVAL_STATS] = {
      &e->pair_region_ratio,    &e->pair_entropy,  &e->unary_cue_ratio,
      &e->unary_boundary_ratio, &e->unary_entropy, &e->gamma,
      &e->pair_contrib,         &e->unary_contrib, &e->pair_far_ratio};
  return slots[i];
}

/* The statistic columns present in g; rows[i] = their lengths (SIZE_MAX when absent). */
static dnl_status read_eval_stats(hid_t g, results_eval_log *e, size_t *rows) {
  for (int i = 0; i < RESULTS_EVAL_STATS; i++) {
    rows[i] = SIZE_MAX;
    if (h5dset_exists(g, results_eval_stat_names[i]))
      DNL_TRY(read_column(g, results_eval_stat_names[i], H5T_NATIVE_DOUBLE, 1,
                          (void **)eval_stat_slot(e, i), &rows[i]));
  }
  return DNL_OK;
}

/* Absent statistic columns become n NaN. */
static dnl_status fill_absent_stats(results_eval_log *e) {
  for (int i = 0; i < RESULTS_EVAL_STATS; i++) {
    double **slot = eval_stat_slot(e, i);
    if (*slot)
      continue;
    *slot = malloc((e->n ? e->n : 1) * sizeof **slot);
    if (!*slot)
      return dnl_error(DNL_ERR_NOMEM, "/eval: %zu rows", e->n);
    for (size_t r = 0; r < e->n; r++)
      (*slot)[r] = NAN;
  }
  return DNL_OK;
}

static dnl_status read_eval(hid_t f, int k, results_eval_log *e) {
  hid_t g = H5Gopen2(f, "eval", H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "no /eval group");
  size_t rows[5 + RESULTS_EVAL_STATS] = {0}, kk = (size_t)k;
  dnl_status s = read_column(g, "iter", H5T_NATIVE_INT64, 1, (void **)&e->iter, &rows[0]);
  if (s == DNL_OK)
    s = read_column(g, "miou", H5T_NATIVE_DOUBLE, 1, (void **)&e->miou, &rows[1]);
  if (s == DNL_OK)
    s = read_column(g, "pixel_acc", H5T_NATIVE_DOUBLE, 1, (void **)&e->pixel_acc, &rows[2]);
  if (s == DNL_OK)
    s = read_column(g, "class_iou", H5T_NATIVE_FLOAT, kk, (void **)&e->class_iou, &rows[3]);
  if (s == DNL_OK)
    s = read_column(g, "confusion", H5T_NATIVE_INT64, kk * kk, (void **)&e->confusion, &rows[4]);
  if (s == DNL_OK)
    s = read_eval_stats(g, e, rows + 5);
  H5Gclose(g);
  e->n = s == DNL_OK ? min_rows(rows, 5 + RESULTS_EVAL_STATS) : 0;
  return s == DNL_OK ? fill_absent_stats(e) : s;
}

/* Reads name into *data checking that its shape is exactly dims. */
static dnl_status read_shaped(hid_t g, const char *name, hid_t mem_type, int ndim,
                              const size_t *dims, void **data) {
  h5io_array a;
  DNL_TRY(h5dset_read(g, name, mem_type, &a));
  bool ok = a.ndim == ndim;
  for (int i = 0; ok && i < ndim; i++)
    ok = a.shape[i] == dims[i];
  if (!ok) {
    h5io_array_free(&a);
    return dnl_error(DNL_ERR_FORMAT, "/attention %s has an unexpected shape", name);
  }
  *data = a.data;
  return DNL_OK;
}

static dnl_status read_maps(hid_t g, results_attention_maps *m) {
  int nd = 0;
  size_t d[H5IO_MAX_DIMS];
  DNL_TRY(h5dset_shape(g, "image", &nd, d));
  if (nd != 4 || d[3] != 3)
    return dnl_error(DNL_ERR_FORMAT, "/attention/image is not [A, H, W, 3]");
  m->a = (int)d[0];
  m->h = (int)d[1];
  m->w = (int)d[2];
  DNL_TRY(read_shaped(g, "image", H5T_NATIVE_UINT8, 4, d, (void **)&m->image));
  DNL_TRY(read_shaped(g, "label", H5T_NATIVE_UINT8, 3, d, (void **)&m->label));
  DNL_TRY(h5dset_shape(g, "queries", &nd, d));
  if (nd != 3 || (int)d[0] != m->a || d[2] != 2)
    return dnl_error(DNL_ERR_FORMAT, "/attention/queries is not [A, Q, 2]");
  m->q = (int)d[1];
  DNL_TRY(read_shaped(g, "queries", H5T_NATIVE_INT32, 3, d, (void **)&m->queries));
  if (h5dset_exists(g, "pairwise")) {
    DNL_TRY(h5dset_shape(g, "pairwise", &nd, d));
    if (nd != 4 || (int)d[0] != m->a || (int)d[1] != m->q)
      return dnl_error(DNL_ERR_FORMAT, "/attention/pairwise is not [A, Q, h, w]");
    m->fh = (int)d[2];
    m->fw = (int)d[3];
    DNL_TRY(read_shaped(g, "pairwise", H5T_NATIVE_FLOAT, 4, d, (void **)&m->pairwise));
  }
  if (h5dset_exists(g, "unary")) {
    DNL_TRY(h5dset_shape(g, "unary", &nd, d));
    if (nd != 3 || (int)d[0] != m->a || (m->fh && ((int)d[1] != m->fh || (int)d[2] != m->fw)))
      return dnl_error(DNL_ERR_FORMAT, "/attention/unary is not [A, h, w] like pairwise");
    m->fh = (int)d[1];
    m->fw = (int)d[2];
    DNL_TRY(read_shaped(g, "unary", H5T_NATIVE_FLOAT, 3, d, (void **)&m->unary));
  }
  return DNL_OK;
}

static dnl_status read_stats(hid_t f, results_attention_maps *m) {
  hid_t g = H5Gopen2(f, "attention_stats", H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "/attention_stats is not a group");
  size_t a_dims[1] = {(size_t)m->a}, aq_dims[2] = {(size_t)m->a, (size_t)m->q};
  struct {
    const char *name;
    int ndim;
    const size_t *dims;
    float **dst;
  } items[6] = {{"unary_boundary_mass", 1, a_dims, &m->unary_boundary_mass},
                {"boundary_share", 1, a_dims, &m->boundary_share},
                {"pairwise_same_region_mass", 2, aq_dims, &m->pairwise_same_region_mass},
                {"same_region_share", 2, aq_dims, &m->same_region_share},
                {"unary_cue_mass", 1, a_dims, &m->unary_cue_mass},
                {"cue_share", 1, a_dims, &m->cue_share}};
  dnl_status s = DNL_OK;
  for (int i = 0; s == DNL_OK && i < 6; i++)
    if (h5dset_exists(g, items[i].name))
      s = read_shaped(g, items[i].name, H5T_NATIVE_FLOAT, items[i].ndim, items[i].dims,
                      (void **)items[i].dst);
  H5Gclose(g);
  return s;
}

static dnl_status read_attention(hid_t f, results_attention_maps *m) {
  if (H5Lexists(f, "attention", H5P_DEFAULT) <= 0)
    return DNL_OK;
  hid_t g = H5Gopen2(f, "attention", H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "/attention is not a group");
  int64_t stride = 0;
  dnl_status s = h5attr_read_i64(g, "feature_stride", &stride);
  m->feature_stride = (int)stride;
  if (s == DNL_OK && h5attr_exists(g, "iter"))
    s = h5attr_read_i64(g, "iter", &m->iter);
  if (s == DNL_OK)
    s = read_maps(g, m);
  H5Gclose(g);
  if (s == DNL_OK && H5Lexists(f, "attention_stats", H5P_DEFAULT) > 0)
    s = read_stats(f, m);
  m->present = s == DNL_OK;
  return s;
}

static dnl_status check_format(hid_t f, results_data *d) {
  char *format = NULL;
  bool ok = h5attr_exists(f, "format") && h5attr_read_str(f, "format", &format) == DNL_OK &&
            strcmp(format, RESULTS_FORMAT) == 0;
  free(format);
  if (!ok)
    return dnl_error(DNL_ERR_FORMAT, "not a dnl result file (attribute format is not '%s')",
                     RESULTS_FORMAT);
  DNL_TRY(h5attr_read_i64(f, "format_version", &d->format_version));
  if (d->format_version < 1 || d->format_version > RESULTS_FORMAT_VERSION)
    return dnl_error(DNL_ERR_FORMAT, "result format_version %lld, this program reads up to %d",
                     (long long)d->format_version, RESULTS_FORMAT_VERSION);
  return DNL_OK;
}

static dnl_status read_root(hid_t f, results_data *d) {
  struct {
    const char *name;
    char **dst;
  } strs[] = {{"run", &d->run},       {"sweep", &d->sweep},           {"variant", &d->variant},
              {"preset", &d->preset}, {"label", &d->label},           {"dataset", &d->dataset},
              {"config", &d->config}, {"version", &d->version},       {"backend", &d->backend},
              {"device", &d->device}, {"start_time", &d->start_time}, {"end_time", &d->end_time},
              {"status", &d->status}};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    DNL_TRY(h5attr_read_str(f, strs[i].name, strs[i].dst));
  DNL_TRY(h5attr_read_i64(f, "seed", &d->seed));
  DNL_TRY(h5attr_read_i64(f, "params", &d->params));
  DNL_TRY(h5attr_read_i64(f, "iterations", &d->iterations));
  /* written after the first iteration: absent in runs that never got there */
  const struct {
    const char *name;
    int64_t *dst;
  } memory[] = {{"peak_memory_bytes", &d->peak_memory_bytes},
                {"device_memory_used_bytes", &d->device_memory_used_bytes}};
  for (size_t i = 0; i < sizeof memory / sizeof memory[0]; i++) {
    *memory[i].dst = -1;
    if (h5attr_exists(f, memory[i].name))
      DNL_TRY(h5attr_read_i64(f, memory[i].name, memory[i].dst));
  }
  d->finished = strcmp(d->status, "finished") == 0;
  return DNL_OK;
}

static dnl_status read_classes(hid_t f, results_data *d) {
  hid_t g = H5Gopen2(f, "classes", H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "no /classes group");
  size_t n = 0;
  dnl_status s = h5dset_read_strings(g, "names", &n, &d->class_names);
  H5Gclose(g);
  DNL_TRY(s);
  if (n < 1)
    return dnl_error(DNL_ERR_FORMAT, "/classes/names is empty");
  d->num_classes = (int)n;
  return DNL_OK;
}

dnl_status results_read(const char *path, results_data *out) {
  memset(out, 0, sizeof *out);
  out->path = strdup(path);
  if (!out->path)
    return dnl_error(DNL_ERR_NOMEM, "results: path");
  hid_t f;
  dnl_status s = h5file_open_read(path, &f);
  if (s != DNL_OK) {
    results_data_free(out);
    return s;
  }
  s = check_format(f, out);
  if (s == DNL_OK)
    s = read_root(f, out);
  if (s == DNL_OK)
    s = read_classes(f, out);
  if (s == DNL_OK)
    s = read_train(f, &out->train);
  if (s == DNL_OK)
    s = read_eval(f, out->num_classes, &out->eval);
  if (s == DNL_OK)
    s = read_attention(f, &out->attention);
  H5Fclose(f);
  if (s != DNL_OK) {
    results_data_free(out);
    return dnl_error_context(s, "%s", path);
  }
  return DNL_OK;
}

void results_data_free(results_data *d) {
  char *strs[] = {d->path,   d->run,        d->sweep,    d->variant, d->preset,
                  d->label,  d->dataset,    d->config,   d->version, d->backend,
                  d->device, d->start_time, d->end_time, d->status};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    free(strs[i]);
  for (int i = 0; d->class_names && i < d->num_classes; i++)
    free(d->class_names[i]);
  free(d->class_names);
  results_train_log *t = &d->train;
  void *train[] = {t->iter, t->loss, t->loss_main, t->loss_aux, t->lr, t->seconds};
  for (size_t i = 0; i < sizeof train / sizeof train[0]; i++)
    free(train[i]);
  results_eval_log *e = &d->eval;
  void *eval[] = {e->iter, e->miou, e->pixel_acc, e->class_iou, e->confusion};
  for (size_t i = 0; i < sizeof eval / sizeof eval[0]; i++)
    free(eval[i]);
  for (int i = 0; i < RESULTS_EVAL_STATS; i++)
    free(results_eval_stat(e, i));
  results_attention_maps *m = &d->attention;
  void *maps[] = {m->image,
                  m->label,
                  m->queries,
                  m->pairwise,
                  m->unary,
                  m->unary_boundary_mass,
                  m->boundary_share,
                  m->pairwise_same_region_mass,
                  m->same_region_share,
                  m->unary_cue_mass,
                  m->cue_share};
  for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
    free(maps[i]);
  memset(d, 0, sizeof *d);
}
