#include "lib/core/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void params_init(param_store *ps) { memset(ps, 0, sizeof *ps); }

void params_free(param_store *ps) {
  if (ps->be) {
    ps->be->free(ps->values);
    ps->be->free(ps->grads);
    ps->be->free(ps->momentum);
  }
  free(ps->entries);
  memset(ps, 0, sizeof *ps);
}

param_entry *params_find(param_store *ps, const char *name) {
  for (int i = 0; i < ps->count; i++)
    if (strcmp(ps->entries[i].name, name) == 0)
      return &ps->entries[i];
  return NULL;
}

dnl_status params_add(param_store *ps, const char *name, int ndim, const int *shape,
                      param_kind kind, param_init init, tensor *value, tensor *grad) {
  if (ps->finalized)
    return dnl_error(DNL_ERR_ARG, "params: cannot add %s after finalize", name);
  if (!name || !value)
    return dnl_error(DNL_ERR_ARG, "params: name and value view are required");
  if (strlen(name) >= PARAM_NAME_MAX)
    return dnl_error(DNL_ERR_ARG, "params: name too long: %s", name);
  if (kind != PARAM_BUFFER && !grad)
    return dnl_error(DNL_ERR_ARG, "params: trainable %s needs a gradient view", name);
  if (params_find(ps, name))
    return dnl_error(DNL_ERR_ARG, "params: duplicate parameter name %s", name);
  if (ndim < 1 || ndim > TENSOR_MAX_DIMS)
    return dnl_error(DNL_ERR_ARG, "params: %s has rank %d", name, ndim);
  if (ps->count == ps->capacity) {
    int cap = ps->capacity ? 2 * ps->capacity : 64;
    param_entry *e = realloc(ps->entries, (size_t)cap * sizeof *e);
    if (!e)
      return dnl_error(DNL_ERR_NOMEM, "params: cannot grow the table to %d entries", cap);
    ps->entries = e;
    ps->capacity = cap;
  }
  param_entry *e = &ps->entries[ps->count++];
  memset(e, 0, sizeof *e);
  strcpy(e->name, name);
  strcpy(e->init_stream, name);
  e->lr_mult = 1.0f;
  e->ndim = ndim;
  for (int i = 0; i < TENSOR_MAX_DIMS; i++)
    e->shape[i] = i < ndim ? shape[i] : 1;
  e->numel = shape_numel(ndim, shape);
  e->offset = ps->total;
  e->kind = kind;
  e->init = init;
  e->value = value;
  e->grad = kind == PARAM_BUFFER ? NULL : grad;
  /* keep every entry 16-float aligned for vector loads */
  ps->total += (e->numel + 15) & ~(size_t)15;
  return DNL_OK;
}

dnl_status params_tie_init(param_store *ps, const char *name, const char *source) {
  if (ps->finalized)
    return dnl_error(DNL_ERR_ARG, "params: cannot tie %s after finalize", name);
  param_entry *e = params_find(ps, name), *src = params_find(ps, source);
  if (!e || !src)
    return dnl_error(DNL_ERR_ARG, "params: cannot tie the init of %s to %s: %s is not registered",
                     name, source, e ? source : name);
  bool same = e->ndim == src->ndim && e->init.kind == src->init.kind && e->init.a == src->init.a &&
              e->init.b == src->init.b;
  for (int i = 0; same && i < e->ndim; i++)
    same = e->shape[i] == src->shape[i];
  if (!same)
    return dnl_error(DNL_ERR_ARG,
                     "params: cannot tie the init of %s to %s: their shapes or init rules differ",
                     name, source);
  strcpy(e->init_stream, src->init_stream);
  return DNL_OK;
}

dnl_status params_set_lr_mult(param_store *ps, const char *prefix, float mult, int *count) {
  if (!(mult > 0.0f) || !isfinite(mult))
    return dnl_error(DNL_ERR_ARG, "params: lr_mult %g for %s, expected a finite value > 0",
                     (double)mult, prefix);
  const size_t len = strlen(prefix);
  int n = 0;
  for (int i = 0; i < ps->count; i++) {
    param_entry *e = &ps->entries[i];
    if (strncmp(e->name, prefix, len) == 0 && e->name[len] == '.') {
      e->lr_mult = mult;
      n++;
    }
  }
  if (count)
    *count = n;
  return DNL_OK;
}

static dnl_status alloc_zeroed(const dnl_backend *be, size_t n, float **out) {
  void *p = NULL;
  DNL_TRY(be->alloc((n ? n : 1) * sizeof(float), &p));
  *out = p;
  return be->fill(p, n, 0.0f);
}

static dnl_status finalize(param_store *ps, const dnl_backend *be, bool training) {
  if (ps->finalized)
    return dnl_error(DNL_ERR_ARG, "params: finalize called twice");
  ps->be = be;
  dnl_status s = alloc_zeroed(be, ps->total, &ps->values);
  if (s == DNL_OK && training)
    s = alloc_zeroed(be, ps->total, &ps->grads);
  if (s == DNL_OK && training)
    s = alloc_zeroed(be, ps->total, &ps->momentum);
  if (s != DNL_OK)
    return dnl_error_context(s, "params: %zu floats on %s", ps->total, be->name);
  for (int i = 0; i < ps->count; i++) {
    param_entry *e = &ps->entries[i];
    *e->value = tensor_view(ps->values + e->offset, be->device, e->ndim, e->shape);
    if (e->grad && training)
      *e->grad = tensor_view(ps->grads + e->offset, be->device, e->ndim, e->shape);
  }
  ps->finalized = true;
  return DNL_OK;
}

dnl_status params_finalize(param_store *ps, const dnl_backend *be) {
  return finalize(ps, be, true);
}

dnl_status params_finalize_values(param_store *ps, const dnl_backend *be) {
  return finalize(ps, be, false);
}

dnl_status params_init_values(param_store *ps, uint64_t seed) {
  if (!ps->finalized)
    return dnl_error(DNL_ERR_ARG, "params: init_values before finalize");
  float *host = malloc((ps->total ? ps->total : 1) * sizeof(float));
  if (!host)
    return dnl_error(DNL_ERR_NOMEM, "params: %zu floats of host staging", ps->total);
  memset(host, 0, ps->total * sizeof(float));
  for (int i = 0; i < ps->count; i++) {
    const param_entry *e = &ps->entries[i];
    float *v = host + e->offset;
    rng stream;
    rng_seed3(&stream, seed, PARAMS_INIT_DOMAIN, rng_hash_name(e->init_stream));
    for (size_t j = 0; j < e->numel; j++) {
      switch (e->init.kind) {
      case PARAM_INIT_CONST:
        v[j] = e->init.a;
        break;
      case PARAM_INIT_NORMAL:
        v[j] = (float)(e->init.a + e->init.b * rng_normal(&stream));
        break;
      case PARAM_INIT_UNIFORM:
        v[j] = (float)rng_range(&stream, e->init.a, e->init.b);
        break;
      }
    }
  }
  dnl_status s =
      ps->be->memcpy(ps->values, ps->be->device, host, DEVICE_CPU, ps->total * sizeof(float));
  free(host);
  return s;
}

size_t params_count_trainable(const param_store *ps) {
  size_t n = 0;
  for (int i = 0; i < ps->count; i++)
    if (ps->entries[i].kind != PARAM_BUFFER)
      n += ps->entries[i].numel;
  return n;
}

dnl_status params_zero_grad(param_store *ps) {
  if (!ps->finalized)
    return dnl_error(DNL_ERR_ARG, "params: zero_grad before finalize");
  if (!ps->grads)
    return dnl_error(DNL_ERR_ARG, "params: finalized for inference, without gradients");
  return ps->be->fill(ps->grads, ps->total, 0.0f);
}

dnl_status params_sgd_step(param_store *ps, float lr, float momentum, float weight_decay) {
  if (!ps->grads || !ps->momentum)
    return dnl_error(DNL_ERR_ARG, "params: finalized for inference, without gradients");
  if (!ps->finalized)
    return dnl_error(DNL_ERR_ARG, "params: sgd_step before finalize");
  for (int i = 0; i < ps->count; i++) {
    const param_entry *e = &ps->entries[i];
    if (e->kind == PARAM_BUFFER)
      continue;
    float wd = e->kind == PARAM_NO_DECAY ? 0.0f : weight_decay;
    DNL_TRY(ps->be->sgd_update(e->numel, ps->values + e->offset, ps->grads + e->offset,
                               ps->momentum + e->offset, lr * e->lr_mult, momentum, wd));
  }
  return DNL_OK;
}

double poly_lr(double base, long it, long max_it, double power) {
  if (max_it <= 0 || it >= max_it)
    return 0.0;
  return base * pow(1.0 - (double)it / (double)max_it, power);
}
