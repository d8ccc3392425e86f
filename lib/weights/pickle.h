/* A restricted Python pickle reader for PyTorch checkpoints.
 *
 * It runs only the opcodes that torch.save's pickles use and builds plain data
 * (numbers, strings, tuples, lists, dicts). Globals are looked up in a fixed
 * table of PyTorch names (tensor and parameter rebuilders, storage types,
 * OrderedDict, torch.Size); any other global is an error naming it, so no
 * code is ever imported or run. Calls of the known rebuilders produce storage
 * and tensor descriptions, not tensors. Every length read from the pickle is
 * checked against the bytes that are there before anything is allocated. */
#ifndef DNL_PICKLE_H
#define DNL_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"
#include "lib/weights/wtensor.h"

typedef enum {
  PK_NONE,
  PK_BOOL,
  PK_INT,
  PK_BIGINT, /* an integer wider than 64 bits: its little-endian bytes in str */
  PK_FLOAT,
  PK_STR,
  PK_BYTES,
  PK_TUPLE,
  PK_LIST,
  PK_DICT,
  PK_GLOBAL,
  PK_STORAGE, /* a persistent id naming one storage of the checkpoint */
  PK_TENSOR,  /* what torch._utils._rebuild_tensor_v2 would build */
} pk_kind;

typedef enum {
  PKG_ORDERED_DICT,
  PKG_REBUILD_TENSOR_V2,
  PKG_REBUILD_TENSOR,
  PKG_REBUILD_PARAMETER,
  PKG_REBUILD_PARAMETER_STATE,
  PKG_STORAGE_TYPE,
  PKG_TORCH_SIZE,
} pk_global_kind;

typedef struct pk_value pk_value;
struct pk_value {
  pk_kind kind;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      char *s; /* NUL-terminated; may contain NULs before len */
      size_t len;
    } str; /* PK_STR, PK_BYTES, PK_BIGINT */
    struct {
      pk_value **items;
      size_t count, cap;
    } seq; /* PK_TUPLE, PK_LIST */
    struct {
      pk_value **keys, **values;
      size_t count, cap;
    } dict;
    struct {
      pk_global_kind kind;
      wdtype dtype;     /* storage types */
      const char *name; /* "torch.FloatStorage" */
    } global;
    struct {
      wdtype dtype;
      char *key;         /* storage record name */
      int64_t numel;     /* elements of the whole storage */
      int64_t base, size; /* the view used: elements [base, base + size) */
    } storage;
    struct {
      pk_value *storage;
      int64_t offset;
      int ndim;
      int64_t shape[WTENSOR_MAX_DIMS], stride[WTENSOR_MAX_DIMS];
    } tensor;
  } u;
};

/* Owns every value that runs on it create; values of one run may be shared
 * by the next (the legacy format's pickles refer to each other's storages). */
typedef struct pickle_doc {
  pk_value **nodes;
  size_t count, cap;
} pickle_doc;

void pickle_doc_init(pickle_doc *doc);
void pickle_doc_free(pickle_doc *doc);

/* Runs the pickle starting at buf[0] up to its STOP; *out is its value and
 * *used the bytes it took. where names the data in messages ("f.pth:
 * archive/data.pkl"); errors also give the byte offset. */
dnl_status pickle_run(pickle_doc *doc, const uint8_t *buf, size_t len, const char *where,
                      pk_value **out, size_t *used);

/* The value under a string key of a dict, or NULL. */
pk_value *pickle_dict_get(const pk_value *dict, const char *key);
/* True for a PK_STR equal to s (and without NULs). */
bool pickle_is_str(const pk_value *v, const char *s);
/* "dict", "tensor", ... for messages. */
const char *pickle_kind_name(pk_kind k);

#endif
