#include "lib/weights/safetensors.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the format's own limit on the header */
#define HEADER_MAX (100u << 20)
/* What parsing one header may allocate in all: jansson takes 12 to 20 bytes
 * per byte of a real header (one tensor's entry, short names included), while
 * a hostile one made of tiny values (e.g. [{},{},...]) takes up to 85. */
#define PARSE_MEMORY_BASE ((size_t)32 << 20)
#define PARSE_MEMORY_PER_BYTE 32

static uint64_t header_length(const uint8_t *buf) {
  uint64_t n;
  memcpy(&n, buf, 8);
  return n;
}

/* A header length, then a JSON object or array: whether the length fits and
 * the header is an object is for the read to say. */
static bool sniff(const uint8_t *buf, size_t len) {
  return len >= 10 && header_length(buf) >= 2 && (buf[8] == '{' || buf[8] == '[');
}

static const struct {
  const char *name;
  wdtype dtype;
} dtypes[] = {
    {"F32", WDT_F32}, {"F16", WDT_F16}, {"BF16", WDT_BF16}, {"F64", WDT_F64}, {"I64", WDT_I64},
    {"I32", WDT_I32}, {"I16", WDT_I16}, {"I8", WDT_I8},     {"U8", WDT_U8},   {"BOOL", WDT_BOOL},
};

/* ---- jansson's allocations, bounded per parse ---- */

/* jansson's allocator is one for the process: budget_malloc is plain malloc
 * except on a thread inside parse_header. */

/* Bytes the parse on this thread may still allocate; SIZE_MAX outside a parse. */
static _Thread_local size_t parse_budget = SIZE_MAX;
static _Thread_local bool parse_refused; /* an allocation was refused */

static void *budget_malloc(size_t n) {
  if (n > parse_budget) {
    parse_refused = true;
    return NULL;
  }
  if (parse_budget != SIZE_MAX)
    parse_budget -= n;
  return malloc(n);
}

static void use_budget_allocator(void) { json_set_alloc_funcs(budget_malloc, free); }

/* Parses the header text; errors give the byte jansson stopped at. */
static dnl_status parse_header(const char *text, size_t len, const char *where, json_t **out) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, use_budget_allocator);
  json_error_t err;
  const size_t budget = PARSE_MEMORY_BASE + PARSE_MEMORY_PER_BYTE * len;
  parse_budget = budget;
  parse_refused = false;
  /* DECODE_ANY: an array or a number is reported by the caller, not as a syntax error */
  *out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
  parse_budget = SIZE_MAX;
  if (*out)
    return DNL_OK;
  if (parse_refused)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: its %zu bytes of JSON need more than %zu MB to parse (too many small "
                     "values for a tensor list)",
                     where, len, budget >> 20);
  return dnl_error(DNL_ERR_FORMAT, "%s: JSON byte %d: %s", where, err.position, err.text);
}

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "an integer";
  case JSON_REAL:
    return "a real number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  case JSON_NULL:
    return "null";
  }
  return "?";
}

/* A member of a header entry: key, of the JSON type check accepts. */
static dnl_status member(const weight_file *wf, const char *name, const json_t *e, const char *key,
                         int (*check)(const json_t *), const char *expected, json_t **out) {
  *out = json_object_get(e, key);
  if (!*out)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: header entry has no \"%s\" (expected %s)", wf->path,
                     name, key, expected);
  if (!check(*out))
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: \"%s\" is %s, expected %s", wf->path, name, key,
                     json_kind(*out), expected);
  return DNL_OK;
}

static int is_string(const json_t *v) { return json_is_string(v); }
static int is_array(const json_t *v) { return json_is_array(v); }

/* The non-negative integer at index i of array a, named what in errors. */
static dnl_status count_at(const weight_file *wf, const char *name, const json_t *a, size_t i,
                           const char *what, int64_t *out) {
  const json_t *v = json_array_get(a, i);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: %s[%zu] is %s, expected a non-negative integer",
                     wf->path, name, what, i, json_is_integer(v) ? "negative" : json_kind(v));
  *out = (int64_t)json_integer_value(v);
  return DNL_OK;
}

/* One header entry into a tensor; data is the start of the data section. */
static dnl_status read_entry(weight_file *wf, const char *name, const json_t *e,
                             const uint8_t *data, uint64_t data_len) {
  json_t *dt, *shape, *offs;
  DNL_TRY(member(wf, name, e, "dtype", is_string, "a string such as \"F32\"", &dt));
  DNL_TRY(member(wf, name, e, "shape", is_array, "an array of sizes", &shape));
  DNL_TRY(member(wf, name, e, "data_offsets", is_array, "[begin, end]", &offs));
  if (json_array_size(offs) != 2)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: data_offsets has %zu values, expected [begin, end]",
                     wf->path, name, json_array_size(offs));
  wtensor t = {.name = (char *)name};
  const char *dts = json_string_value(dt);
  size_t i = 0, n = sizeof dtypes / sizeof dtypes[0];
  while (i < n && strcmp(dtypes[i].name, dts))
    i++;
  if (i == n)
    return dnl_error(DNL_ERR_UNSUPPORTED, "%s: %s: dtype %.16s is not supported", wf->path, name,
                     dts);
  t.dtype = dtypes[i].dtype;
  if (json_array_size(shape) > WTENSOR_MAX_DIMS)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: %zu dimensions (at most %d are supported)", wf->path,
                     name, json_array_size(shape), WTENSOR_MAX_DIMS);
  t.ndim = (int)json_array_size(shape);
  for (int d = 0; d < t.ndim; d++)
    DNL_TRY(count_at(wf, name, shape, (size_t)d, "shape", &t.shape[d]));
  /* the data is contiguous, row-major */
  int64_t numel = 1;
  for (int d = t.ndim - 1; d >= 0; d--) {
    t.stride[d] = numel;
    if (__builtin_mul_overflow(numel, t.shape[d], &numel))
      return dnl_error(DNL_ERR_FORMAT, "%s: %s: element count overflows", wf->path, name);
  }
  int64_t begin, end;
  DNL_TRY(count_at(wf, name, offs, 0, "data_offsets", &begin));
  DNL_TRY(count_at(wf, name, offs, 1, "data_offsets", &end));
  uint64_t es = wdtype_size(t.dtype);
  if (end < begin || (uint64_t)end > data_len)
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

typedef struct data_range {
  uint64_t begin, end;
  const char *name;
} data_range;

static int by_begin(const void *a, const void *b) {
  const data_range *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Every tensor has bytes of its own: two that share some mean a damaged header. */
static dnl_status check_disjoint(const weight_file *wf, const uint8_t *data) {
  const int n = wf->tensors.count;
  data_range *r = malloc((size_t)n * sizeof *r);
  if (!r)
    return dnl_error(DNL_ERR_NOMEM, "%s: %d tensors", wf->path, n);
  for (int i = 0; i < n; i++) {
    const wtensor *t = &wf->tensors.items[i];
    r[i].begin = (uint64_t)(t->storage - data);
    r[i].end = r[i].begin + (uint64_t)t->storage_numel * wdtype_size(t->dtype);
    r[i].name = t->name;
  }
  qsort(r, (size_t)n, sizeof *r, by_begin);
  dnl_status s = DNL_OK;
  for (int i = 1; i < n && s == DNL_OK; i++)
    if (r[i].begin < r[i - 1].end)
      s = dnl_error(DNL_ERR_FORMAT,
                    "%s: %s (data bytes [%llu, %llu)) and %s ([%llu, %llu)) overlap", wf->path,
                    r[i - 1].name, (unsigned long long)r[i - 1].begin,
                    (unsigned long long)r[i - 1].end, r[i].name, (unsigned long long)r[i].begin,
                    (unsigned long long)r[i].end);
  free(r);
  return s;
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
  json_t *h;
  DNL_TRY(parse_header((const char *)wf->map + 8, (size_t)n, where, &h));
  dnl_status s = DNL_OK;
  if (!json_is_object(h))
    s = dnl_error(DNL_ERR_FORMAT, "%s: the header is %s, expected a JSON object", where,
                  json_kind(h));
  const uint8_t *data = wf->map + 8 + n;
  uint64_t data_len = wf->len - 8 - n;
  const char *name;
  json_t *entry;
  /* in the file's order: jansson keeps the order of object keys */
  json_object_foreach(h, name, entry) {
    if (s != DNL_OK)
      break;
    if (!strcmp(name, "__metadata__"))
      continue;
    if (!name[0] || !json_is_object(entry))
      s = dnl_error(DNL_ERR_FORMAT,
                    "%s: entry '%.64s' is %s, expected a tensor description "
                    "{\"dtype\", \"shape\", \"data_offsets\"} under a non-empty name",
                    where, name, json_kind(entry));
    else
      s = read_entry(wf, name, entry, data, data_len);
  }
  if (s == DNL_OK && wf->tensors.count == 0)
    s = dnl_error(DNL_ERR_FORMAT, "%s: no tensors in the file", wf->path);
  if (s == DNL_OK)
    s = check_disjoint(wf, data);
  json_decref(h);
  return s;
}

const weight_format safetensors_format = {
    .name = "safetensors", .sniff = sniff, .read = read_safetensors};
