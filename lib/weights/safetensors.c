#include "lib/weights/safetensors.h"

#include <stdio.h>
#include <string.h>

#include "lib/weights/json.h"

/* the format's own limit on the header */
#define HEADER_MAX (100u << 20)

static uint64_t header_length(const uint8_t *buf) {
  uint64_t n;
  memcpy(&n, buf, 8);
  return n;
}

static bool sniff(const uint8_t *buf, size_t len) {
  if (len < 10)
    return false;
  uint64_t n = header_length(buf);
  return n >= 2 && n <= HEADER_MAX && buf[8] == '{';
}

static const struct {
  const char *name;
  wdtype dtype;
} dtypes[] = {
    {"F32", WDT_F32}, {"F16", WDT_F16}, {"BF16", WDT_BF16}, {"F64", WDT_F64}, {"I64", WDT_I64},
    {"I32", WDT_I32}, {"I16", WDT_I16}, {"I8", WDT_I8},     {"U8", WDT_U8},   {"BOOL", WDT_BOOL},
};

/* One header entry into a tensor; data is the start of the data section. */
static dnl_status read_entry(weight_file *wf, const char *name, const json_value *e,
                             const uint8_t *data, uint64_t data_len) {
  const json_value *dt = json_get(e, "dtype"), *shape = json_get(e, "shape"),
                   *offs = json_get(e, "data_offsets");
  if (!dt || dt->kind != JSON_STRING || !shape || shape->kind != JSON_ARRAY || !offs ||
      offs->kind != JSON_ARRAY || offs->count != 2 || !offs->items[0].is_int ||
      !offs->items[1].is_int)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: %s: header entry needs dtype, shape and data_offsets [begin, end]",
                     wf->path, name);
  wtensor t = {.name = (char *)name};
  size_t i = 0, n = sizeof dtypes / sizeof dtypes[0];
  while (i < n && strcmp(dtypes[i].name, dt->str))
    i++;
  if (i == n)
    return dnl_error(DNL_ERR_UNSUPPORTED, "%s: %s: dtype %.16s is not supported", wf->path, name,
                     dt->str);
  t.dtype = dtypes[i].dtype;
  if (shape->count > WTENSOR_MAX_DIMS)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: %zu dimensions (at most %d are supported)", wf->path,
                     name, shape->count, WTENSOR_MAX_DIMS);
  t.ndim = (int)shape->count;
  for (int d = 0; d < t.ndim; d++) {
    const json_value *s = &shape->items[d];
    if (!s->is_int || s->i < 0)
      return dnl_error(DNL_ERR_FORMAT, "%s: %s: shape entries must be non-negative integers",
                       wf->path, name);
    t.shape[d] = s->i;
  }
  /* the data is contiguous, row-major */
  int64_t numel = 1;
  for (int d = t.ndim - 1; d >= 0; d--) {
    t.stride[d] = numel;
    if (__builtin_mul_overflow(numel, t.shape[d], &numel))
      return dnl_error(DNL_ERR_FORMAT, "%s: %s: element count overflows", wf->path, name);
  }
  int64_t begin = offs->items[0].i, end = offs->items[1].i;
  uint64_t es = wdtype_size(t.dtype);
  if (begin < 0 || end < begin || (uint64_t)end > data_len)
    return dnl_error(
        DNL_ERR_FORMAT, "%s: %s: data_offsets [%lld, %lld] outside the %llu data bytes: truncated?",
        wf->path, name, (long long)begin, (long long)end, (unsigned long long)data_len);
  if ((uint64_t)(end - begin) / es != (uint64_t)numel || (uint64_t)(end - begin) % es)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: %lld bytes for %lld elements of %s", wf->path, name,
                     (long long)(end - begin), (long long)numel, wdtype_name(t.dtype));
  t.storage = data + begin;
  t.storage_numel = numel;
  dnl_status s = wtensor_check(&t);
  if (s != DNL_OK)
    return dnl_error_context(s, "%s", wf->path);
  return wtensor_list_add(&wf->tensors, name, &t);
}

static dnl_status read_safetensors(weight_file *wf) {
  if (wf->len < 8)
    return dnl_error(DNL_ERR_FORMAT, "%s: %zu bytes: truncated safetensors file", wf->path,
                     wf->len);
  uint64_t n = header_length(wf->map);
  if (n > HEADER_MAX || n > wf->len - 8)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: safetensors header of %llu bytes does not fit the file (%zu bytes)",
                     wf->path, (unsigned long long)n, wf->len);
  char where[1100];
  snprintf(where, sizeof where, "%s: safetensors header", wf->path);
  json_value h;
  DNL_TRY(json_parse((const char *)wf->map + 8, (size_t)n, where, &h));
  dnl_status s = DNL_OK;
  if (h.kind != JSON_OBJECT)
    s = dnl_error(DNL_ERR_FORMAT, "%s: the header is not a JSON object", where);
  const uint8_t *data = wf->map + 8 + n;
  uint64_t data_len = wf->len - 8 - n;
  for (size_t i = 0; s == DNL_OK && i < h.count; i++) {
    const char *name = h.keys[i];
    if (!strcmp(name, "__metadata__"))
      continue;
    if (!name[0] || h.items[i].kind != JSON_OBJECT)
      s = dnl_error(DNL_ERR_FORMAT, "%s: entry '%.64s' is not a named tensor description", where,
                    name);
    else
      s = read_entry(wf, name, &h.items[i], data, data_len);
  }
  if (s == DNL_OK && wf->tensors.count == 0)
    s = dnl_error(DNL_ERR_FORMAT, "%s: no tensors in the file", wf->path);
  json_free(&h);
  return s;
}

const weight_format safetensors_format = {
    .name = "safetensors", .sniff = sniff, .read = read_safetensors};
