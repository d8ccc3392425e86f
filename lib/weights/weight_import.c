#include "lib/weights/weight_import.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/store/file_atomic.h"
#include "lib/store/h5attr.h"
#include "lib/store/h5dset.h"
#include "lib/store/h5file.h"

/* 2: since the head's concatenation order of SPEC 2 (lib/store/checkpoint.c
 * refuses version 1 files that hold head.bottleneck.weight) */
#define IMPORT_FORMAT_VERSION 2

static dnl_status keep(const weight_file *wf, import_plan *p, const wtensor *t, const char *name) {
  if (strlen(name) >= PARAM_NAME_MAX || strchr(name, '/'))
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: the name '%s' is too long or holds '/'", wf->path,
                     t->name, name);
  if (!wdtype_is_float(t->dtype))
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "%s: %s: dtype %s cannot be imported (float32, float16, bfloat16 and "
                     "float64 can)",
                     wf->path, t->name, wdtype_name(t->dtype));
  for (int i = 0; i < p->n_kept; i++)
    if (!strcmp(p->kept[i].name, name))
      return dnl_error(DNL_ERR_FORMAT, "%s: %s and %s both become %s", wf->path,
                       p->kept[i].src->name, t->name, name);
  import_entry *e = &p->kept[p->n_kept++];
  strcpy(e->name, name);
  e->src = t;
  return DNL_OK;
}

dnl_status import_plan_build(const weight_file *wf, name_map map, import_plan *plan) {
  memset(plan, 0, sizeof *plan);
  int n = wf->tensors.count;
  plan->kept = calloc((size_t)n + 1, sizeof *plan->kept);
  plan->dropped = calloc((size_t)n + 1, sizeof *plan->dropped);
  if (!plan->kept || !plan->dropped) {
    import_plan_free(plan);
    return dnl_error(DNL_ERR_NOMEM, "%s: plan of %d tensors", wf->path, n);
  }
  for (int i = 0; i < n; i++) {
    const wtensor *t = &wf->tensors.items[i];
    char name[2 * PARAM_NAME_MAX];
    const char *why;
    if (!name_map_apply(map, t->name, name, sizeof name, &why)) {
      plan->dropped[plan->n_dropped++] = (import_drop){t, why};
      continue;
    }
    dnl_status s = keep(wf, plan, t, name);
    if (s != DNL_OK) {
      import_plan_free(plan);
      return s;
    }
  }
  return DNL_OK;
}

void import_plan_drop(import_plan *plan, int i, const char *why) {
  plan->dropped[plan->n_dropped++] = (import_drop){plan->kept[i].src, why};
  memmove(&plan->kept[i], &plan->kept[i + 1], (size_t)(plan->n_kept - i - 1) * sizeof *plan->kept);
  plan->n_kept--;
}

void import_plan_free(import_plan *plan) {
  free(plan->kept);
  free(plan->dropped);
  memset(plan, 0, sizeof *plan);
}

static const char *entry_shape(const param_entry *e, char *buf, size_t len) {
  tensor t = {.ndim = e->ndim};
  memcpy(t.shape, e->shape, sizeof t.shape);
  return tensor_shape_str(&t, buf, len);
}

static bool same_shape(const param_entry *e, const wtensor *t) {
  bool same = e->ndim == t->ndim;
  for (int d = 0; same && d < e->ndim; d++)
    same = e->shape[d] == t->shape[d];
  return same;
}

dnl_status import_plan_compare(const import_plan *p, param_store *ps, checkpoint_report *rep) {
  memset(rep, 0, sizeof *rep);
  bool *seen = calloc((size_t)ps->count + 1, sizeof *seen);
  if (!seen)
    return dnl_error(DNL_ERR_NOMEM, "import: %d flags", ps->count);
  dnl_status s = DNL_OK;
  for (int i = 0; s == DNL_OK && i < p->n_kept; i++) {
    const import_entry *k = &p->kept[i];
    char fshape[64], nshape[64];
    wtensor_shape_str(k->src, fshape, sizeof fshape);
    param_entry *e = params_find(ps, k->name);
    if (!e) {
      s = checkpoint_list_add(&rep->unexpected, k->name, fshape, NULL);
      continue;
    }
    seen[e - ps->entries] = true;
    s = same_shape(e, k->src) ? checkpoint_list_add(&rep->loaded, k->name, fshape, NULL)
                              : checkpoint_list_add(&rep->mismatched, k->name, fshape,
                                                    entry_shape(e, nshape, sizeof nshape));
  }
  for (int i = 0; s == DNL_OK && i < ps->count; i++) {
    char nshape[64];
    if (!seen[i])
      s = checkpoint_list_add(&rep->missing, ps->entries[i].name,
                              entry_shape(&ps->entries[i], nshape, sizeof nshape), NULL);
  }
  free(seen);
  if (s != DNL_OK)
    checkpoint_report_free(rep);
  return s;
}

dnl_status import_plan_load(const import_plan *p, param_store *ps) {
  if (!ps->finalized)
    return dnl_error(DNL_ERR_ARG, "import: the parameters are not finalized");
  float *host = malloc((ps->total ? ps->total : 1) * sizeof(float));
  if (!host)
    return dnl_error(DNL_ERR_NOMEM, "import: %zu floats of host staging", ps->total);
  dnl_status s = ps->be->memcpy(host, DEVICE_CPU, ps->values, ps->be->device,
                                ps->total * sizeof(float));
  for (int i = 0; s == DNL_OK && i < p->n_kept; i++) {
    const import_entry *k = &p->kept[i];
    param_entry *e = params_find(ps, k->name);
    if (!e || !same_shape(e, k->src)) {
      char fshape[64];
      s = dnl_error(DNL_ERR_SHAPE, "%s %s: no parameter of this name and shape", k->name,
                    wtensor_shape_str(k->src, fshape, sizeof fshape));
    } else {
      s = wtensor_to_f32(k->src, host + e->offset);
    }
  }
  if (s == DNL_OK)
    s = ps->be->memcpy(ps->values, ps->be->device, host, DEVICE_CPU, ps->total * sizeof(float));
  free(host);
  return s;
}

static dnl_status write_attrs(hid_t file, const weight_file *wf, name_map map) {
  DNL_TRY(h5attr_write_str(file, "format", WEIGHT_IMPORT_FORMAT));
  DNL_TRY(h5attr_write_i64(file, "format_version", IMPORT_FORMAT_VERSION));
  DNL_TRY(h5attr_write_str(file, "source", wf->path));
  DNL_TRY(h5attr_write_str(file, "source_format", wf->format));
  DNL_TRY(h5attr_write_str(file, "source_container", wf->container));
  return h5attr_write_str(file, "map", name_map_str(map));
}

static dnl_status write_tensor(hid_t group, const import_entry *e) {
  const wtensor *t = e->src;
  size_t numel = (size_t)wtensor_numel(t);
  float *buf = malloc((numel ? numel : 1) * sizeof(float));
  if (!buf)
    return dnl_error(DNL_ERR_NOMEM, "%s: %zu floats", t->name, numel);
  size_t dims[WTENSOR_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++)
    dims[d] = (size_t)t->shape[d];
  dnl_status s = wtensor_to_f32(t, buf);
  if (s == DNL_OK)
    s = h5dset_write(group, e->name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->ndim, dims, buf);
  free(buf);
  return s;
}

static dnl_status write_file(const char *tmp, const import_plan *plan, const weight_file *wf,
                             name_map map) {
  hid_t file;
  DNL_TRY(h5file_create(tmp, &file));
  dnl_status s = write_attrs(file, wf, map);
  hid_t g = s == DNL_OK ? H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  if (s == DNL_OK && g < 0)
    s = dnl_error(DNL_ERR_IO, "%s: cannot create /params", tmp);
  for (int i = 0; s == DNL_OK && i < plan->n_kept; i++)
    s = write_tensor(g, &plan->kept[i]);
  if (g >= 0)
    H5Gclose(g);
  dnl_status c = h5file_close(file, tmp);
  return s != DNL_OK ? s : c;
}

dnl_status import_write(const import_plan *plan, const weight_file *wf, name_map map,
                        const char *out_path) {
  char tmp[4200];
  DNL_TRY(file_atomic_tmp_name(out_path, tmp, sizeof tmp));
  dnl_status s = write_file(tmp, plan, wf, map);
  if (s != DNL_OK) {
    unlink(tmp);
  } else {
    s = file_atomic_commit(tmp, out_path);
  }
  if (s != DNL_OK)
    return dnl_error_context(s, "writing %s", out_path);
  return DNL_OK;
}
