/* A tensor of a foreign weight file (PyTorch .pth, safetensors) as the file
 * describes it: dtype, shape, element strides and offset into a storage whose
 * bytes lie in the mapped file or are read on demand (members of a zip
 * archive, through a wsource). Nothing is copied until wtensor_to_f32.
 *
 * The readers fill these from untrusted files; wtensor_check verifies every
 * claim against the bytes really there before anything is read or allocated. */
#ifndef DNL_WTENSOR_H
#define DNL_WTENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

#define WTENSOR_MAX_DIMS 8

typedef enum {
  WDT_F32,
  WDT_F16,
  WDT_BF16,
  WDT_F64,
  WDT_I64,
  WDT_I32,
  WDT_I16,
  WDT_I8,
  WDT_U8,
  WDT_BOOL,
  WDT_C64,
  WDT_C128,
} wdtype;

/* Bytes per element. */
size_t wdtype_size(wdtype t);
/* "float32", "int64", ... */
const char *wdtype_name(wdtype t);
/* Whether wtensor_to_f32 converts this dtype (floats only). */
int wdtype_is_float(wdtype t);

/* Storages whose bytes are read on demand rather than lying in memory. */
typedef struct wsource wsource;
struct wsource {
  /* copies n bytes from byte off of storage id into dst; errors name the file
   * and the storage */
  dnl_status (*read_at)(const wsource *src, int64_t id, uint64_t off, size_t n, void *dst);
  void *ctx;
};

typedef struct wtensor {
  char *name; /* the file's key (malloc'ed) */
  wdtype dtype;
  int ndim;
  int64_t shape[WTENSOR_MAX_DIMS];
  int64_t stride[WTENSOR_MAX_DIMS]; /* in elements */
  int64_t offset;                   /* first element, in elements from the storage start */
  const uint8_t *storage;           /* first byte of the storage in the mapped file, or NULL: */
  const wsource *source;            /* read from storage source_id of source, */
  int64_t source_id;
  uint64_t source_off;   /* its first byte there */
  int64_t storage_numel; /* elements the file really holds there */
} wtensor;

int64_t wtensor_numel(const wtensor *t);
/* "[64, 3, 3, 3]" into buf (returns buf). */
const char *wtensor_shape_str(const wtensor *t, char *buf, size_t len);

/* Rejects (naming the key) negative sizes or strides, more than
 * WTENSOR_MAX_DIMS dims, element counts that overflow, more elements than the
 * storage holds (overlapping or expanded views) and any element past the
 * storage's end. */
dnl_status wtensor_check(const wtensor *t);

/* Gathers the elements in row-major order into out[numel] as float32
 * (float16/bfloat16 exactly, float64 rounded to nearest). Other dtypes: an
 * error naming the key and the dtype. Call wtensor_check first. A contiguous
 * float32 tensor of a wsource is read straight into out; other ones read the
 * span of storage they cover into a temporary buffer first. */
dnl_status wtensor_to_f32(const wtensor *t, float *out);

/* IEEE half and bfloat16 bit patterns to float. */
float wtensor_half_to_float(uint16_t h);
float wtensor_bf16_to_float(uint16_t b);

/* A growable list of tensors. */
typedef struct wtensor_list {
  wtensor *items;
  int count, capacity;
} wtensor_list;

/* Appends a copy of t with its own copy of name. */
dnl_status wtensor_list_add(wtensor_list *l, const char *name, const wtensor *t);
void wtensor_list_free(wtensor_list *l);

#endif
