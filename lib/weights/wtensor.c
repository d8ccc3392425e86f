#include "lib/weights/wtensor.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every reader copies multi-byte values from the file as they are. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "weight files are little-endian; this reader assumes a little-endian host");

size_t wdtype_size(wdtype t) {
  switch (t) {
  case WDT_F64:
  case WDT_I64:
  case WDT_C64:
    return 8;
  case WDT_C128:
    return 16;
  case WDT_F32:
  case WDT_I32:
    return 4;
  case WDT_F16:
  case WDT_BF16:
  case WDT_I16:
    return 2;
  case WDT_I8:
  case WDT_U8:
  case WDT_BOOL:
    return 1;
  }
  return 1;
}

const char *wdtype_name(wdtype t) {
  switch (t) {
  case WDT_F32:
    return "float32";
  case WDT_F16:
    return "float16";
  case WDT_BF16:
    return "bfloat16";
  case WDT_F64:
    return "float64";
  case WDT_I64:
    return "int64";
  case WDT_I32:
    return "int32";
  case WDT_I16:
    return "int16";
  case WDT_I8:
    return "int8";
  case WDT_U8:
    return "uint8";
  case WDT_BOOL:
    return "bool";
  case WDT_C64:
    return "complex64";
  case WDT_C128:
    return "complex128";
  }
  return "unknown";
}

int wdtype_is_float(wdtype t) {
  return t == WDT_F32 || t == WDT_F16 || t == WDT_BF16 || t == WDT_F64;
}

int64_t wtensor_numel(const wtensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

const char *wtensor_shape_str(const wtensor *t, char *buf, size_t len) {
  size_t n = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < t->ndim && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
  if (n < len)
    snprintf(buf + n, len - n, "]");
  return buf;
}

dnl_status wtensor_check(const wtensor *t) {
  if (t->ndim < 0 || t->ndim > WTENSOR_MAX_DIMS)
    return dnl_error(DNL_ERR_FORMAT, "%s: %d dimensions (at most %d are supported)", t->name,
                     t->ndim, WTENSOR_MAX_DIMS);
  if (t->offset < 0 || t->storage_numel < 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: negative storage offset %lld", t->name,
                     (long long)t->offset);
  int64_t numel = 1, last = t->offset;
  for (int i = 0; i < t->ndim; i++) {
    if (t->shape[i] < 0 || t->stride[i] < 0)
      return dnl_error(DNL_ERR_FORMAT, "%s: dimension %d has size %lld and stride %lld", t->name, i,
                       (long long)t->shape[i], (long long)t->stride[i]);
    int64_t reach;
    if (__builtin_mul_overflow(numel, t->shape[i], &numel) ||
        (t->shape[i] > 0 && (__builtin_mul_overflow(t->shape[i] - 1, t->stride[i], &reach) ||
                             __builtin_add_overflow(last, reach, &last))))
      return dnl_error(DNL_ERR_FORMAT, "%s: shape and strides overflow 64-bit element counts",
                       t->name);
  }
  if (numel == 0)
    return DNL_OK;
  if (numel > t->storage_numel)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: %lld elements but its storage holds %lld (expanded or overlapping "
                     "views are not supported)",
                     t->name, (long long)numel, (long long)t->storage_numel);
  if (last >= t->storage_numel)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: reaches element %lld of a storage of %lld elements (offset %lld)",
                     t->name, (long long)last, (long long)t->storage_numel, (long long)t->offset);
  return DNL_OK;
}

float wtensor_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0 && mant == 0) {
    bits = sign;
  } else if (exp == 0) {
    /* subnormal half: normalise the mantissa into a normal float */
    uint32_t e = 127 - 15 + 1;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      e--;
    }
    bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

float wtensor_bf16_to_float(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* n elements of one innermost row, `stride` elements apart. */
static void convert_row(wdtype dt, const uint8_t *p, int64_t stride, int64_t n, float *out) {
  size_t step = (size_t)stride * wdtype_size(dt);
  for (int64_t i = 0; i < n; i++, p += step) {
    switch (dt) {
    case WDT_F32:
      memcpy(&out[i], p, 4);
      break;
    case WDT_F64: {
      double d;
      memcpy(&d, p, 8);
      out[i] = (float)d;
      break;
    }
    default: {
      uint16_t h;
      memcpy(&h, p, 2);
      out[i] = dt == WDT_F16 ? wtensor_half_to_float(h) : wtensor_bf16_to_float(h);
      break;
    }
    }
  }
}

/* Converts t, whose storage lies in memory. */
static void convert_in_memory(const wtensor *t, float *out) {
  size_t es = wdtype_size(t->dtype);
  if (t->ndim == 0) {
    convert_row(t->dtype, t->storage + (size_t)t->offset * es, 1, 1, out);
    return;
  }
  /* walk the outer dims like an odometer, one innermost row at a time */
  int nd = t->ndim;
  int64_t n = wtensor_numel(t);
  int64_t idx[WTENSOR_MAX_DIMS] = {0}, pos = t->offset, inner = t->shape[nd - 1];
  for (int64_t done = 0; done < n; done += inner) {
    convert_row(t->dtype, t->storage + (size_t)pos * es, t->stride[nd - 1], inner, out + done);
    for (int d = nd - 2; d >= 0; d--) {
      pos += t->stride[d];
      if (++idx[d] < t->shape[d])
        break;
      pos -= t->stride[d] * t->shape[d];
      idx[d] = 0;
    }
  }
}

/* Whether the elements lie row-major and back to back in the storage. */
static bool contiguous(const wtensor *t) {
  int64_t want = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != want)
      return false;
    want *= t->shape[d];
  }
  return true;
}

/* Converts t, whose storage is read through its source. */
static dnl_status convert_from_source(const wtensor *t, float *out) {
  size_t es = wdtype_size(t->dtype);
  int64_t n = wtensor_numel(t);
  if (t->dtype == WDT_F32 && contiguous(t))
    return t->source->read_at(t->source, t->source_id, t->source_off + (uint64_t)t->offset * es,
                              (size_t)n * es, out);
  /* the span from the first element to the last one (wtensor_check bounded it) */
  int64_t last = t->offset;
  for (int d = 0; d < t->ndim; d++)
    last += (t->shape[d] - 1) * t->stride[d];
  size_t span = (size_t)(last - t->offset + 1) * es;
  uint8_t *bytes = malloc(span);
  if (!bytes)
    return dnl_error(DNL_ERR_NOMEM, "%s: %zu bytes of storage", t->name, span);
  dnl_status st = t->source->read_at(t->source, t->source_id,
                                     t->source_off + (uint64_t)t->offset * es, span, bytes);
  if (st == DNL_OK) {
    wtensor view = *t;
    view.storage = bytes;
    view.offset = 0;
    convert_in_memory(&view, out);
  }
  free(bytes);
  return st;
}

dnl_status wtensor_to_f32(const wtensor *t, float *out) {
  if (!wdtype_is_float(t->dtype))
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "%s: dtype %s cannot be imported (float32, float16, bfloat16 and "
                     "float64 can)",
                     t->name, wdtype_name(t->dtype));
  if (wtensor_numel(t) == 0)
    return DNL_OK;
  if (!t->storage)
    return convert_from_source(t, out);
  convert_in_memory(t, out);
  return DNL_OK;
}

dnl_status wtensor_list_add(wtensor_list *l, const char *name, const wtensor *t) {
  if (l->count == l->capacity) {
    int cap = l->capacity ? 2 * l->capacity : 64;
    wtensor *items = realloc(l->items, (size_t)cap * sizeof *items);
    if (!items)
      return dnl_error(DNL_ERR_NOMEM, "list of %d tensors", cap);
    l->items = items;
    l->capacity = cap;
  }
  char *copy = strdup(name);
  if (!copy)
    return dnl_error(DNL_ERR_NOMEM, "tensor name %s", name);
  wtensor *dst = &l->items[l->count++];
  *dst = *t;
  dst->name = copy;
  return DNL_OK;
}

void wtensor_list_free(wtensor_list *l) {
  for (int i = 0; i < l->count; i++)
    free(l->items[i].name);
  free(l->items);
  memset(l, 0, sizeof *l);
}
