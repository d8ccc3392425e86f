#include "lib/store/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/store/h5attr.h"
#include "lib/store/h5dset.h"
#include "lib/store/h5file.h"

#define CHECKPOINT_FORMAT "dnl-checkpoint"
/* 2: the head concatenates [layer4, block branch] (SPEC 2); version 1 files had
 * the block branch first, so their head.bottleneck.weight sees swapped inputs */
#define CHECKPOINT_VERSION 2
/* runner import's files (lib/weights/weight_import.c) changed at the same time */
#define IMPORT_FORMAT "dnl-import"
#define HEAD_ORDER_VERSION 2

static void shape_str(int ndim, const size_t *dims, char *buf, size_t len) {
  size_t n = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < ndim && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%zu", i ? ", " : "", dims[i]);
  if (n < len)
    snprintf(buf + n, len - n, "]");
}

static void entry_shape_str(const param_entry *e, char *buf, size_t len) {
  size_t dims[TENSOR_MAX_DIMS];
  for (int i = 0; i < e->ndim; i++)
    dims[i] = (size_t)e->shape[i];
  shape_str(e->ndim, dims, buf, len);
}

/* ---- saving ---- */

/* A malloc'ed host copy of one of the store's device buffers. */
static dnl_status to_host(const param_store *ps, const float *src, float **out) {
  *out = malloc((ps->total ? ps->total : 1) * sizeof(float));
  if (!*out)
    return dnl_error(DNL_ERR_NOMEM, "checkpoint: %zu floats of host staging", ps->total);
  return ps->be->memcpy(*out, DEVICE_CPU, src, ps->be->device, ps->total * sizeof(float));
}

static dnl_status write_meta(hid_t file, const param_store *ps, const checkpoint_meta *m) {
  DNL_TRY(h5attr_write_str(file, "format", CHECKPOINT_FORMAT));
  DNL_TRY(h5attr_write_i64(file, "format_version", CHECKPOINT_VERSION));
  DNL_TRY(h5attr_write_i64(file, "iteration", m->iteration));
  DNL_TRY(h5attr_write_u64s(file, "rng", m->rng_state.s, 4));
  DNL_TRY(h5attr_write_i64(file, "loader_epoch", m->loader_epoch));
  DNL_TRY(h5attr_write_i64(file, "loader_index", m->loader_index));
  DNL_TRY(h5attr_write_i64(file, "params", (int64_t)params_count_trainable(ps)));
  return h5attr_write_str(file, "config", m->config ? m->config : "");
}

/* One entry's values from src (a device buffer of the store) into group/<name>. */
static dnl_status write_entry(hid_t group, const param_store *ps, const param_entry *e,
                              const float *src, float *staging) {
  DNL_TRY(ps->be->memcpy(staging, DEVICE_CPU, src + e->offset, ps->be->device,
                         e->numel * sizeof(float)));
  size_t dims[TENSOR_MAX_DIMS];
  for (int d = 0; d < e->ndim; d++)
    dims[d] = (size_t)e->shape[d];
  return h5dset_write(group, e->name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, e->ndim, dims, staging);
}

/* /params/<name> for every entry, /momentum/<name> for trainable ones. */
static dnl_status write_tensors(hid_t file, const param_store *ps) {
  size_t largest = 1;
  for (int i = 0; i < ps->count; i++)
    if (ps->entries[i].numel > largest)
      largest = ps->entries[i].numel;
  float *staging = malloc(largest * sizeof(float));
  hid_t gp = H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t gm = H5Gcreate2(file, "momentum", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dnl_status s = !staging || gp < 0 || gm < 0
                     ? dnl_error(DNL_ERR_NOMEM, "cannot set up groups and %zu floats", largest)
                     : DNL_OK;
  for (int i = 0; s == DNL_OK && i < ps->count; i++) {
    const param_entry *e = &ps->entries[i];
    s = write_entry(gp, ps, e, ps->values, staging);
    if (s == DNL_OK && e->kind != PARAM_BUFFER)
      s = write_entry(gm, ps, e, ps->momentum, staging);
  }
  if (gp >= 0)
    H5Gclose(gp);
  if (gm >= 0)
    H5Gclose(gm);
  free(staging);
  return s;
}

/* The checkpoint's bytes, built in memory. */
static dnl_status build_image(const char *name, const param_store *ps, const checkpoint_meta *meta,
                              void **image, size_t *size) {
  /* values and momentum plus room for names, attributes and the config */
  size_t hint = 2 * ps->total * sizeof(float) + (size_t)ps->count * 1024 +
                (meta->config ? strlen(meta->config) : 0) + (1u << 16);
  /* HDF5 looks for an existing file of that name even in memory: use one no file has */
  char mem_name[4200];
  snprintf(mem_name, sizeof mem_name, "%s (in memory)", name);
  hid_t file;
  DNL_TRY(h5file_create_in_memory(mem_name, hint, &file));
  dnl_status s = write_meta(file, ps, meta);
  if (s == DNL_OK)
    s = write_tensors(file, ps);
  if (s == DNL_OK)
    s = h5file_image(file, name, image, size);
  H5Fclose(file);
  return s;
}

/* Writes bytes to a new file at path and syncs it to disk. */
static dnl_status write_synced(const char *path, const void *bytes, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "cannot create %s: %s", path, strerror(errno));
  const char *p = bytes;
  size_t left = size;
  int err = 0;
  while (left && !err) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    p += n;
    left -= (size_t)n;
  }
  if (!err && fsync(fd) != 0)
    err = errno;
  if (close(fd) != 0 && !err)
    err = errno;
  if (err)
    return dnl_error(DNL_ERR_IO, "cannot write %s: %s", path, strerror(err));
  return DNL_OK;
}

static dnl_status sync_parent_dir(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot open to sync: %s", dir, strerror(errno));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0)
    return dnl_error(DNL_ERR_IO, "%s: fsync: %s", dir, strerror(err));
  return DNL_OK;
}

dnl_status checkpoint_save(const char *path, const param_store *ps, const checkpoint_meta *meta) {
  if (!ps->finalized || !ps->momentum)
    return dnl_error(DNL_ERR_ARG, "checkpoint %s: parameters are not finalized for training",
                     path);
  size_t n = strlen(path) + 5;
  char *tmp = malloc(n);
  if (!tmp)
    return dnl_error(DNL_ERR_NOMEM, "checkpoint %s: path", path);
  snprintf(tmp, n, "%s.tmp", path);
  void *image = NULL;
  size_t size = 0;
  dnl_status s = build_image(tmp, ps, meta, &image, &size);
  if (s == DNL_OK) {
    s = write_synced(tmp, image, size);
    if (s == DNL_OK && rename(tmp, path) != 0)
      s = dnl_error(DNL_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s != DNL_OK)
      unlink(tmp);
    else
      s = sync_parent_dir(path);
  }
  free(image);
  free(tmp);
  if (s != DNL_OK)
    return dnl_error_context(s, "checkpoint %s not saved (any previous checkpoint is unchanged)",
                             path);
  return DNL_OK;
}

/* ---- comparing ---- */

dnl_status checkpoint_list_add(checkpoint_list *l, const char *name, const char *shape,
                               const char *store_shape) {
  if (l->count == l->capacity) {
    int cap = l->capacity ? 2 * l->capacity : 32;
    checkpoint_entry *items = realloc(l->items, (size_t)cap * sizeof *items);
    if (!items)
      return dnl_error(DNL_ERR_NOMEM, "parameter comparison: list of %d names", cap);
    l->items = items;
    l->capacity = cap;
  }
  checkpoint_entry *e = &l->items[l->count++];
  snprintf(e->name, sizeof e->name, "%s", name);
  snprintf(e->shape, sizeof e->shape, "%s", shape);
  snprintf(e->store_shape, sizeof e->store_shape, "%s", store_shape ? store_shape : "");
  return DNL_OK;
}

void checkpoint_report_free(checkpoint_report *rep) {
  free(rep->loaded.items);
  free(rep->missing.items);
  free(rep->unexpected.items);
  free(rep->mismatched.items);
  free(rep->excluded.items);
  memset(rep, 0, sizeof *rep);
}

typedef struct walk_ctx {
  param_store *ps;
  checkpoint_report *rep;
  bool *seen; /* [ps->count] */
  dnl_status status;
} walk_ctx;

/* Classifies one dataset of /params as loaded, unexpected or mismatched. */
static herr_t visit_param(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  walk_ctx *w = data;
  int nd = 0;
  size_t dims[H5IO_MAX_DIMS];
  w->status = h5dset_shape(group, name, &nd, dims);
  if (w->status != DNL_OK)
    return -1;
  char fshape[64], sshape[64];
  shape_str(nd, dims, fshape, sizeof fshape);
  param_entry *e = params_find(w->ps, name);
  if (!e) {
    w->status = checkpoint_list_add(&w->rep->unexpected, name, fshape, NULL);
    return w->status == DNL_OK ? 0 : -1;
  }
  w->seen[e - w->ps->entries] = true;
  bool same = nd == e->ndim;
  for (int i = 0; same && i < nd; i++)
    same = dims[i] == (size_t)e->shape[i];
  entry_shape_str(e, sshape, sizeof sshape);
  w->status = same ? checkpoint_list_add(&w->rep->loaded, name, fshape, NULL)
                   : checkpoint_list_add(&w->rep->mismatched, name, fshape, sshape);
  return w->status == DNL_OK ? 0 : -1;
}

/* Fills rep by comparing /params of the open file with the store. */
static dnl_status compare(hid_t file, const char *path, param_store *ps, checkpoint_report *rep) {
  memset(rep, 0, sizeof *rep);
  if (H5Lexists(file, "params", H5P_DEFAULT) <= 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: no /params group (not a checkpoint)", path);
  hid_t g = H5Gopen2(file, "params", H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: /params is not a group", path);
  walk_ctx w = {ps, rep, calloc((size_t)ps->count + 1, sizeof(bool)), DNL_OK};
  if (!w.seen) {
    H5Gclose(g);
    return dnl_error(DNL_ERR_NOMEM, "checkpoint: %d flags", ps->count);
  }
  hsize_t idx = 0;
  herr_t err = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_param, &w);
  H5Gclose(g);
  dnl_status s = w.status;
  if (s == DNL_OK && err < 0)
    s = dnl_error(DNL_ERR_FORMAT, "%s: cannot list /params", path);
  for (int i = 0; s == DNL_OK && i < ps->count; i++) {
    if (!w.seen[i]) {
      char sshape[64];
      entry_shape_str(&ps->entries[i], sshape, sizeof sshape);
      s = checkpoint_list_add(&rep->missing, ps->entries[i].name, sshape, NULL);
    }
  }
  free(w.seen);
  if (s != DNL_OK) {
    checkpoint_report_free(rep);
    return dnl_error_context(s, "%s", path);
  }
  return DNL_OK;
}

static void summarize(const char *what, const checkpoint_list *l, int first, bool mismatch,
                      char *buf, size_t len, size_t *n) {
  if (!l->count || *n >= len)
    return;
  *n += (size_t)snprintf(buf + *n, len - *n, "%s%s %d (", *n ? "; " : "", what, l->count);
  for (int i = 0; i < l->count && i < first && *n < len; i++) {
    const checkpoint_entry *e = &l->items[i];
    if (mismatch)
      *n += (size_t)snprintf(buf + *n, len - *n, "%s%s: checkpoint %s, network %s", i ? ", " : "",
                             e->name, e->shape, e->store_shape);
    else
      *n += (size_t)snprintf(buf + *n, len - *n, "%s%s %s", i ? ", " : "", e->name, e->shape);
  }
  if (*n < len)
    *n += (size_t)snprintf(buf + *n, len - *n, "%s)", l->count > first ? ", ..." : "");
}

void checkpoint_report_summary(const checkpoint_report *rep, int first, char *buf, size_t len) {
  size_t n = 0;
  if (len)
    buf[0] = '\0';
  summarize("missing", &rep->missing, first, false, buf, len, &n);
  summarize("unexpected", &rep->unexpected, first, false, buf, len, &n);
  summarize("shape mismatch", &rep->mismatched, first, true, buf, len, &n);
}

/* ---- loading ---- */

static dnl_status old_head_order(const char *path, const char *format, int64_t version) {
  return dnl_error(DNL_ERR_FORMAT,
                   "%s: %s format_version %lld was written before the head's concatenation "
                   "became [layer4, block branch] (SPEC 2, format_version %d): its "
                   "head.bottleneck.weight would act on swapped input channels, so it is "
                   "refused (%s)",
                   path, format, (long long)version, HEAD_ORDER_VERSION,
                   strcmp(format, CHECKPOINT_FORMAT)
                       ? "run `runner import` on the source file again"
                       : "retrain with this version");
}

/* Files of this project written before the head order changed: training
 * checkpoints always hold the head; imports only when they hold
 * head.bottleneck.weight (a backbone-only import is unaffected). Files without
 * a format attribute (foreign HDF5 files of /params) pass. */
static dnl_status check_head_order(hid_t file, const char *path) {
  if (!h5attr_exists(file, "format") || !h5attr_exists(file, "format_version"))
    return DNL_OK;
  char *format = NULL;
  int64_t version = 0;
  dnl_status s = h5attr_read_str(file, "format", &format);
  if (s == DNL_OK)
    s = h5attr_read_i64(file, "format_version", &version);
  if (s == DNL_OK && version < HEAD_ORDER_VERSION) {
    const bool ckpt = !strcmp(format, CHECKPOINT_FORMAT);
    const bool import_with_head = !strcmp(format, IMPORT_FORMAT) &&
                                  H5Lexists(file, "params", H5P_DEFAULT) > 0 &&
                                  H5Lexists(file, "params/head.bottleneck.weight", H5P_DEFAULT) > 0;
    if (ckpt || import_with_head)
      s = old_head_order(path, format, version);
  }
  free(format);
  return s;
}

static dnl_status check_format(hid_t file, const char *path) {
  char *format = NULL;
  int64_t version = 0;
  dnl_status s = h5attr_read_str(file, "format", &format);
  bool ok = s == DNL_OK && strcmp(format, CHECKPOINT_FORMAT) == 0;
  free(format);
  if (!ok)
    return dnl_error(DNL_ERR_FORMAT, "%s: not a dnl checkpoint (attribute format is not '%s')",
                     path, CHECKPOINT_FORMAT);
  DNL_TRY(h5attr_read_i64(file, "format_version", &version));
  if (version < 1 || version > CHECKPOINT_VERSION)
    return dnl_error(DNL_ERR_FORMAT, "%s: checkpoint format_version %lld, this program reads %d",
                     path, (long long)version, CHECKPOINT_VERSION);
  return check_head_order(file, path);
}

static dnl_status read_meta_open(hid_t file, checkpoint_meta *m) {
  memset(m, 0, sizeof *m);
  dnl_status s = h5attr_read_i64(file, "iteration", &m->iteration);
  if (s == DNL_OK)
    s = h5attr_read_u64s(file, "rng", m->rng_state.s, 4);
  if (s == DNL_OK)
    s = h5attr_read_i64(file, "loader_epoch", &m->loader_epoch);
  if (s == DNL_OK)
    s = h5attr_read_i64(file, "loader_index", &m->loader_index);
  if (s == DNL_OK)
    s = h5attr_read_str(file, "config", &m->config);
  if (s != DNL_OK)
    checkpoint_meta_free(m);
  return s;
}

void checkpoint_meta_free(checkpoint_meta *meta) {
  free(meta->config);
  meta->config = NULL;
}

dnl_status checkpoint_read_meta(const char *path, checkpoint_meta *meta) {
  memset(meta, 0, sizeof *meta);
  hid_t file;
  DNL_TRY(h5file_open_read(path, &file));
  dnl_status s = check_format(file, path);
  if (s == DNL_OK)
    s = read_meta_open(file, meta);
  H5Fclose(file);
  return s;
}

/* Reads group/<name> of every listed entry into host + offset. */
static dnl_status read_group(hid_t file, const char *group, param_store *ps,
                             const checkpoint_list *names, bool trainable_only, float *host) {
  hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
  if (g < 0)
    return dnl_error(DNL_ERR_FORMAT, "no /%s group", group);
  dnl_status s = DNL_OK;
  for (int i = 0; s == DNL_OK && i < names->count; i++) {
    const param_entry *e = params_find(ps, names->items[i].name);
    if (trainable_only && e->kind == PARAM_BUFFER)
      continue;
    int nd = 0;
    size_t dims[H5IO_MAX_DIMS];
    s = h5dset_shape(g, e->name, &nd, dims);
    bool same = s == DNL_OK && nd == e->ndim;
    for (int d = 0; same && d < nd; d++)
      same = dims[d] == (size_t)e->shape[d];
    if (s == DNL_OK && !same) {
      char fshape[64], sshape[64];
      shape_str(nd, dims, fshape, sizeof fshape);
      entry_shape_str(e, sshape, sizeof sshape);
      s = dnl_error(DNL_ERR_SHAPE, "/%s/%s has shape %s, the network %s", group, e->name, fshape,
                    sshape);
    }
    if (s == DNL_OK)
      s = h5dset_read_into(g, e->name, H5T_NATIVE_FLOAT, host + e->offset, e->numel);
  }
  H5Gclose(g);
  return s;
}

static dnl_status upload(param_store *ps, float *dst, const float *host) {
  return ps->be->memcpy(dst, ps->be->device, host, DEVICE_CPU, ps->total * sizeof(float));
}

static dnl_status load_open(hid_t file, const char *path, param_store *ps, checkpoint_meta *meta) {
  DNL_TRY(check_format(file, path));
  checkpoint_report rep;
  DNL_TRY(compare(file, path, ps, &rep));
  dnl_status s = DNL_OK;
  if (rep.missing.count || rep.unexpected.count || rep.mismatched.count) {
    char summary[768];
    checkpoint_report_summary(&rep, 4, summary, sizeof summary);
    s = dnl_error(DNL_ERR_SHAPE, "%s: checkpoint of another architecture: %s", path, summary);
  }
  float *values = NULL, *momentum = NULL;
  if (s == DNL_OK) {
    values = calloc(ps->total ? ps->total : 1, sizeof(float));
    momentum = calloc(ps->total ? ps->total : 1, sizeof(float));
    if (!values || !momentum)
      s = dnl_error(DNL_ERR_NOMEM, "checkpoint %s: %zu floats of host staging", path, ps->total);
  }
  if (s == DNL_OK)
    s = read_group(file, "params", ps, &rep.loaded, false, values);
  if (s == DNL_OK)
    s = read_group(file, "momentum", ps, &rep.loaded, true, momentum);
  checkpoint_meta m = {0};
  if (s == DNL_OK && meta)
    s = read_meta_open(file, &m);
  /* the store changes only once everything has been read */
  if (s == DNL_OK)
    s = upload(ps, ps->values, values);
  if (s == DNL_OK)
    s = upload(ps, ps->momentum, momentum);
  if (s == DNL_OK && meta)
    *meta = m;
  else
    checkpoint_meta_free(&m);
  free(values);
  free(momentum);
  checkpoint_report_free(&rep);
  return s;
}

dnl_status checkpoint_load(const char *path, param_store *ps, checkpoint_meta *meta) {
  if (!ps->finalized || !ps->momentum)
    return dnl_error(DNL_ERR_ARG, "checkpoint %s: parameters are not finalized for training",
                     path);
  hid_t file;
  DNL_TRY(h5file_open_read(path, &file));
  dnl_status s = load_open(file, path, ps, meta);
  H5Fclose(file);
  if (s != DNL_OK && !strstr(dnl_last_error(), path))
    return dnl_error_context(s, "checkpoint %s", path);
  return s;
}

static bool has_prefix(const char *name, const char *const *prefixes, int n) {
  for (int i = 0; i < n; i++)
    if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
      return true;
  return n == 0;
}

/* Moves the entries of l outside the prefixes to `to` (NULL: only counts them). */
static dnl_status keep_prefixed(checkpoint_list *l, const char *const *prefixes, int n,
                                checkpoint_list *to, int *moved) {
  int kept = 0;
  for (int i = 0; i < l->count; i++) {
    checkpoint_entry *e = &l->items[i];
    if (has_prefix(e->name, prefixes, n)) {
      l->items[kept++] = *e;
      continue;
    }
    if (to)
      DNL_TRY(checkpoint_list_add(to, e->name, e->store_shape[0] ? e->store_shape : e->shape,
                                  NULL));
    if (moved)
      (*moved)++;
  }
  l->count = kept;
  return DNL_OK;
}

static dnl_status filter_report(checkpoint_report *rep, const char *const *prefixes, int n) {
  if (n == 0)
    return DNL_OK;
  DNL_TRY(keep_prefixed(&rep->loaded, prefixes, n, &rep->excluded, NULL));
  DNL_TRY(keep_prefixed(&rep->missing, prefixes, n, &rep->excluded, NULL));
  DNL_TRY(keep_prefixed(&rep->mismatched, prefixes, n, &rep->excluded, NULL));
  return keep_prefixed(&rep->unexpected, prefixes, n, NULL, &rep->ignored);
}

dnl_status checkpoint_load_partial(const char *path, param_store *ps, checkpoint_report *rep) {
  return checkpoint_load_partial_only(path, ps, NULL, 0, rep);
}

dnl_status checkpoint_load_partial_only(const char *path, param_store *ps,
                                        const char *const *prefixes, int n,
                                        checkpoint_report *rep) {
  memset(rep, 0, sizeof *rep);
  if (!ps->finalized)
    return dnl_error(DNL_ERR_ARG, "checkpoint %s: parameters are not finalized", path);
  hid_t file;
  DNL_TRY(h5file_open_read(path, &file));
  dnl_status s = check_head_order(file, path);
  if (s == DNL_OK)
    s = compare(file, path, ps, rep);
  if (s == DNL_OK)
    s = filter_report(rep, prefixes, n);
  float *values = NULL;
  if (s == DNL_OK)
    s = to_host(ps, ps->values, &values);
  if (s == DNL_OK)
    s = read_group(file, "params", ps, &rep->loaded, false, values);
  if (s == DNL_OK)
    s = upload(ps, ps->values, values);
  free(values);
  H5Fclose(file);
  if (s != DNL_OK) {
    checkpoint_report_free(rep);
    if (!strstr(dnl_last_error(), path))
      return dnl_error_context(s, "checkpoint %s", path);
  }
  return s;
}

/* format and format_version of a file to evaluate: ours, or none at all */
static dnl_status check_eval_format(hid_t file, const char *path) {
  if (!h5attr_exists(file, "format"))
    return DNL_OK;
  char *format = NULL;
  int64_t version = 0;
  dnl_status s = h5attr_read_str(file, "format", &format);
  if (s == DNL_OK && h5attr_exists(file, "format_version"))
    s = h5attr_read_i64(file, "format_version", &version);
  const bool ours = s == DNL_OK && (!strcmp(format, CHECKPOINT_FORMAT) ||
                                    !strcmp(format, IMPORT_FORMAT));
  if (s == DNL_OK && !ours)
    s = dnl_error(DNL_ERR_FORMAT,
                  "%s: format '%s' is neither a checkpoint ('%s') nor a file of runner import "
                  "('%s')",
                  path, format, CHECKPOINT_FORMAT, IMPORT_FORMAT);
  if (s == DNL_OK && version > HEAD_ORDER_VERSION)
    s = dnl_error(DNL_ERR_FORMAT, "%s: %s format_version %lld, this program reads up to %d", path,
                  format, (long long)version, HEAD_ORDER_VERSION);
  free(format);
  if (s == DNL_OK)
    s = check_head_order(file, path);
  return s;
}

dnl_status checkpoint_load_values(const char *path, param_store *ps, checkpoint_report *rep) {
  memset(rep, 0, sizeof *rep);
  if (!ps->finalized)
    return dnl_error(DNL_ERR_ARG, "checkpoint %s: parameters are not finalized", path);
  hid_t file;
  DNL_TRY(h5file_open_read(path, &file));
  dnl_status s = check_eval_format(file, path);
  if (s == DNL_OK)
    s = compare(file, path, ps, rep);
  if (s == DNL_OK && (rep->missing.count || rep->unexpected.count || rep->mismatched.count)) {
    char summary[768];
    checkpoint_report_summary(rep, 4, summary, sizeof summary);
    s = dnl_error(DNL_ERR_SHAPE, "%s: another architecture: %s", path, summary);
  }
  /* on the CPU the values are read in place: half the memory, no copy */
  const bool direct = ps->be->device == DEVICE_CPU;
  float *values = direct ? ps->values : NULL;
  if (s == DNL_OK && !direct)
    s = to_host(ps, ps->values, &values);
  if (s == DNL_OK)
    s = read_group(file, "params", ps, &rep->loaded, false, values);
  if (s == DNL_OK && !direct)
    s = upload(ps, ps->values, values);
  if (!direct)
    free(values);
  H5Fclose(file);
  if (s != DNL_OK && s != DNL_ERR_SHAPE && !strstr(dnl_last_error(), path))
    return dnl_error_context(s, "checkpoint %s", path);
  return s;
}
