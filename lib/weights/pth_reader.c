#include "lib/weights/pth_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/weights/pickle.h"
#include "lib/weights/wzip.h"

/* torch's legacy magic number 0x1950a86a20f9469cfc6c as LONG1 bytes */
static const uint8_t legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                         0x20, 0x6a, 0xa8, 0x50, 0x19};
#define LEGACY_PROTOCOL_VERSION 1001
/* how deep "state_dict" / "model" entries are followed */
#define MAX_NESTING 4

static bool sniff_legacy(const uint8_t *buf, size_t len) {
  size_t n = len < 32 ? len : 32;
  if (n < 2 || buf[0] != 0x80)
    return false;
  for (size_t i = 0; i + 12 <= n; i++)
    if (buf[i] == 0x8a && buf[i + 1] == 10 && !memcmp(buf + i + 2, legacy_magic, 10))
      return true;
  return false;
}

/* Finds where the bytes of one storage lie: sets w->storage (in memory) or
 * w->source and w->source_id (read on demand), and the storage's *numel. */
typedef dnl_status (*storage_resolver)(void *ctx, const pk_value *storage, const char *tensor,
                                       wtensor *w, int64_t *numel);

/* The dict holding the tensors: the object, or its "state_dict" / "model"
 * entry, followed down while such an entry is a dict. */
static const pk_value *find_container(const pk_value *root, char *name, size_t len) {
  name[0] = '\0';
  const pk_value *d = root;
  for (int depth = 0; depth < MAX_NESTING; depth++) {
    static const char *const keys[] = {"state_dict", "model"};
    const pk_value *next = NULL;
    const char *key = NULL;
    for (int k = 0; k < 2 && !next; k++) {
      const pk_value *v = pickle_dict_get(d, keys[k]);
      if (v && v->kind == PK_DICT) {
        next = v;
        key = keys[k];
      }
    }
    if (!next)
      break;
    size_t used = strlen(name);
    snprintf(name + used, len - used, "%s%s", used ? "." : "", key);
    d = next;
  }
  return d;
}

/* "a, b, c, ..." of a dict's first string keys, for messages. */
static void key_sample(const pk_value *d, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < d->u.dict.count && i < 6 && n < len; i++) {
    const pk_value *k = d->u.dict.keys[i];
    n += (size_t)snprintf(buf + n, len - n, "%s%.40s", i ? ", " : "",
                          k->kind == PK_STR ? k->u.str.s : pickle_kind_name(k->kind));
  }
  if (d->u.dict.count > 6 && n < len)
    snprintf(buf + n, len - n, ", ...");
}

static dnl_status add_tensor(weight_file *wf, const char *name, const pk_value *t,
                             storage_resolver resolve, void *ctx) {
  const pk_value *st = t->u.tensor.storage;
  wtensor w = {.name = (char *)name,
               .dtype = st->u.storage.dtype,
               .ndim = t->u.tensor.ndim,
               .offset = t->u.tensor.offset};
  memcpy(w.shape, t->u.tensor.shape, sizeof w.shape);
  memcpy(w.stride, t->u.tensor.stride, sizeof w.stride);
  int64_t numel;
  DNL_TRY(resolve(ctx, st, name, &w, &numel));
  if (st->u.storage.base + st->u.storage.size > numel)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: %s: storage %s holds %lld elements of %s, the checkpoint declares %lld",
                     wf->path, name, st->u.storage.key, (long long)numel,
                     wdtype_name(st->u.storage.dtype),
                     (long long)(st->u.storage.base + st->u.storage.size));
  const size_t base = (size_t)st->u.storage.base * wdtype_size(w.dtype);
  if (w.storage)
    w.storage += base;
  else
    w.source_off = base;
  w.storage_numel = st->u.storage.size;
  dnl_status s = wtensor_check(&w);
  if (s != DNL_OK)
    return dnl_error_context(s, "%s", wf->path);
  return wtensor_list_add(&wf->tensors, name, &w);
}

/* Lists the tensors of the checkpoint's object into wf. */
static dnl_status collect(weight_file *wf, const pk_value *root, storage_resolver resolve,
                          void *ctx) {
  if (root->kind != PK_DICT)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: the checkpoint holds a %s, expected a dict of tensors (a state_dict)",
                     wf->path, pickle_kind_name(root->kind));
  const pk_value *d = find_container(root, wf->container, sizeof wf->container);
  for (size_t i = 0; i < d->u.dict.count; i++) {
    const pk_value *k = d->u.dict.keys[i], *v = d->u.dict.values[i];
    if (v->kind != PK_TENSOR) {
      wf->ignored++;
      continue;
    }
    if (k->kind != PK_STR || strlen(k->u.str.s) != k->u.str.len || !k->u.str.len)
      return dnl_error(DNL_ERR_FORMAT, "%s: a tensor under a %s key, expected a non-empty name",
                       wf->path, k->kind == PK_STR ? "str with NUL" : pickle_kind_name(k->kind));
    DNL_TRY(add_tensor(wf, k->u.str.s, v, resolve, ctx));
  }
  if (wf->tensors.count == 0) {
    char keys[320];
    key_sample(d, keys, sizeof keys);
    return dnl_error(DNL_ERR_FORMAT, "%s: no tensors in the checkpoint's %s%s (keys: %s)", wf->path,
                     wf->container[0] ? wf->container : "top-level dict",
                     wf->container[0] ? " entry" : "", keys[0] ? keys : "none");
  }
  return DNL_OK;
}

/* ---- zip format ---- */

/* The archive, kept open while the file is: its storage records are read on
 * demand (wtensor_to_f32), straight into the caller's buffer. */
typedef struct zip_storages {
  wsource src; /* first: the wsource the tensors hold is this struct */
  wzip zip;
  bool *verified; /* per member: its CRC-32 was checked */
} zip_storages;

static dnl_status zip_read_at(const wsource *src, int64_t id, uint64_t off, size_t n, void *dst) {
  const zip_storages *zs = (const zip_storages *)src;
  return wzip_read_at(&zs->zip, id, off, n, dst);
}

static void zip_storages_free(wsource *src) {
  zip_storages *zs = (zip_storages *)src;
  wzip_close(&zs->zip);
  free(zs->verified);
  free(zs);
}

typedef struct zip_ctx {
  weight_file *wf;
  zip_storages *zs;
  char prefix[256]; /* "archive/" */
} zip_ctx;

static dnl_status zip_resolve(void *ctx, const pk_value *storage, const char *tensor, wtensor *w,
                              int64_t *numel) {
  zip_ctx *z = ctx;
  char name[512];
  snprintf(name, sizeof name, "%sdata/%s", z->prefix, storage->u.storage.key);
  int64_t i = wzip_find(&z->zs->zip, name);
  if (i < 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: %s: storage record %s is missing from the archive",
                     z->wf->path, tensor, name);
  uint64_t size = 0;
  DNL_TRY(wzip_stored_size(&z->zs->zip, i, &size));
  /* corruption shows when the file is opened, not halfway through a conversion */
  if (!z->zs->verified[i]) {
    DNL_TRY(wzip_verify(&z->zs->zip, i));
    z->zs->verified[i] = true;
  }
  w->source = &z->zs->src;
  w->source_id = i;
  *numel = (int64_t)(size / wdtype_size(storage->u.storage.dtype));
  return DNL_OK;
}

/* The archive's folder: the one holding data.pkl. */
static dnl_status zip_prefix(zip_ctx *z) {
  const int64_t count = wzip_count(&z->zs->zip);
  for (int64_t i = 0; i < count; i++) {
    const char *n = wzip_name(&z->zs->zip, i);
    const char *slash = n ? strchr(n, '/') : NULL;
    if (slash && !strcmp(slash, "/data.pkl") && (size_t)(slash - n) + 2 < sizeof z->prefix) {
      snprintf(z->prefix, sizeof z->prefix, "%.*s/", (int)(slash - n), n);
      return DNL_OK;
    }
  }
  return dnl_error(DNL_ERR_FORMAT,
                   "%s: zip archive without <name>/data.pkl: not a PyTorch checkpoint",
                   z->wf->path);
}

static dnl_status zip_check_byteorder(zip_ctx *z) {
  char name[300];
  snprintf(name, sizeof name, "%sbyteorder", z->prefix);
  int64_t i = wzip_find(&z->zs->zip, name);
  if (i < 0)
    return DNL_OK;
  uint8_t *data;
  size_t size;
  DNL_TRY(wzip_read_all(&z->zs->zip, i, &data, &size));
  const bool little = size == 6 && memcmp(data, "little", 6) == 0;
  free(data);
  if (!little)
    return dnl_error(DNL_ERR_UNSUPPORTED, "%s: saved on a big-endian machine (%s is not 'little')",
                     z->wf->path, name);
  return DNL_OK;
}

/* Opens the archive into wf->source. */
static dnl_status zip_storages_open(weight_file *wf, zip_storages **out) {
  zip_storages *zs = calloc(1, sizeof *zs);
  if (!zs)
    return dnl_error(DNL_ERR_NOMEM, "%s: zip reader", wf->path);
  zs->src = (wsource){.read_at = zip_read_at};
  dnl_status s = wzip_open(&zs->zip, wf->map, wf->len, wf->path);
  if (s != DNL_OK) {
    free(zs);
    return s;
  }
  wf->source = &zs->src;
  wf->source_free = zip_storages_free;
  const int64_t count = wzip_count(&zs->zip);
  zs->verified = calloc(count > 0 ? (size_t)count : 1, sizeof *zs->verified);
  if (!zs->verified)
    return dnl_error(DNL_ERR_NOMEM, "%s: %lld zip entries", wf->path, (long long)count);
  *out = zs;
  return DNL_OK;
}

static dnl_status read_zip(weight_file *wf) {
  zip_ctx z = {.wf = wf};
  DNL_TRY(zip_storages_open(wf, &z.zs));
  pickle_doc doc;
  pickle_doc_init(&doc);
  uint8_t *data = NULL;
  dnl_status s = zip_prefix(&z);
  if (s == DNL_OK)
    s = zip_check_byteorder(&z);
  if (s == DNL_OK) {
    char name[300], where[1200];
    snprintf(name, sizeof name, "%sdata.pkl", z.prefix);
    snprintf(where, sizeof where, "%s: %s", wf->path, name);
    size_t size, used;
    pk_value *root;
    s = wzip_read_all(&z.zs->zip, wzip_find(&z.zs->zip, name), &data, &size);
    if (s == DNL_OK)
      s = pickle_run(&doc, data, size, where, &root, &used);
    if (s == DNL_OK)
      s = collect(wf, root, zip_resolve, &z);
  }
  free(data);
  pickle_doc_free(&doc);
  return s;
}

/* ---- legacy format ---- */

typedef struct raw_storage {
  const char *key;
  const uint8_t *bytes;
  size_t nbytes;
} raw_storage;

typedef struct legacy_ctx {
  weight_file *wf;
  raw_storage *raw;
  size_t nraw;
} legacy_ctx;

static dnl_status legacy_resolve(void *ctx, const pk_value *storage, const char *tensor, wtensor *w,
                                 int64_t *numel) {
  legacy_ctx *l = ctx;
  for (size_t i = 0; i < l->nraw; i++) {
    if (!strcmp(l->raw[i].key, storage->u.storage.key)) {
      /* in the requesting storage's own element size: a corrupt file may
       * give one key two dtypes */
      w->storage = l->raw[i].bytes;
      *numel = (int64_t)(l->raw[i].nbytes / wdtype_size(storage->u.storage.dtype));
      return DNL_OK;
    }
  }
  return dnl_error(DNL_ERR_FORMAT, "%s: %s: storage %s is not among the file's storages",
                   l->wf->path, tensor, storage->u.storage.key);
}

/* The storage type of the first storage with this key in the object. */
static const pk_value *storage_with_key(const pickle_doc *doc, const char *key) {
  for (size_t i = 0; i < doc->count; i++)
    if (doc->nodes[i]->kind == PK_STORAGE && !strcmp(doc->nodes[i]->u.storage.key, key))
      return doc->nodes[i];
  return NULL;
}

/* The magic, protocol and system-info pickles in front of the object. */
static dnl_status legacy_header(weight_file *wf, pickle_doc *doc, size_t *pos) {
  char where[1100];
  snprintf(where, sizeof where, "%s: header", wf->path);
  pk_value *v[3];
  for (int i = 0; i < 3; i++) {
    size_t used;
    DNL_TRY(pickle_run(doc, wf->map + *pos, wf->len - *pos, where, &v[i], &used));
    *pos += used;
  }
  if (v[0]->kind != PK_BIGINT || v[0]->u.str.len != 10 ||
      memcmp(v[0]->u.str.s, legacy_magic, 10) != 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: wrong magic number: not a PyTorch checkpoint", wf->path);
  if (v[1]->kind != PK_INT || v[1]->u.i != LEGACY_PROTOCOL_VERSION)
    return dnl_error(DNL_ERR_FORMAT, "%s: legacy protocol version is not %d", wf->path,
                     LEGACY_PROTOCOL_VERSION);
  const pk_value *little = pickle_dict_get(v[2], "little_endian");
  if (v[2]->kind != PK_DICT || (little && (little->kind != PK_BOOL || !little->u.b)))
    return dnl_error(DNL_ERR_UNSUPPORTED, "%s: saved on a big-endian machine", wf->path);
  return DNL_OK;
}

/* After the key list: per key an int64 element count and the elements. */
static dnl_status legacy_storages(legacy_ctx *l, const pickle_doc *doc, const pk_value *keys,
                                  size_t pos) {
  weight_file *wf = l->wf;
  if (keys->kind != PK_LIST)
    return dnl_error(DNL_ERR_FORMAT, "%s: the storage key list is a %s", wf->path,
                     pickle_kind_name(keys->kind));
  size_t n = keys->u.seq.count;
  l->raw = calloc(n ? n : 1, sizeof *l->raw);
  if (!l->raw)
    return dnl_error(DNL_ERR_NOMEM, "%s: %zu storages", wf->path, n);
  for (size_t i = 0; i < n; i++) {
    const pk_value *k = keys->u.seq.items[i];
    const pk_value *st = k->kind == PK_STR ? storage_with_key(doc, k->u.str.s) : NULL;
    if (!st)
      return dnl_error(DNL_ERR_FORMAT, "%s: storage key %zu of the list names no storage", wf->path,
                       i);
    int64_t numel;
    size_t es = wdtype_size(st->u.storage.dtype);
    if (wf->len - pos < 8)
      return dnl_error(DNL_ERR_FORMAT, "%s: file ends before storage %s: truncated?", wf->path,
                       st->u.storage.key);
    memcpy(&numel, wf->map + pos, 8);
    pos += 8;
    if (numel < 0 || (uint64_t)numel > (wf->len - pos) / es)
      return dnl_error(DNL_ERR_FORMAT,
                       "%s: storage %s claims %lld elements of %s, the file has %zu bytes left: "
                       "truncated?",
                       wf->path, st->u.storage.key, (long long)numel,
                       wdtype_name(st->u.storage.dtype), wf->len - pos);
    l->raw[i] = (raw_storage){st->u.storage.key, wf->map + pos, (size_t)numel * es};
    l->nraw = i + 1;
    pos += (size_t)numel * es;
  }
  return DNL_OK;
}

static dnl_status read_legacy(weight_file *wf) {
  pickle_doc doc;
  pickle_doc_init(&doc);
  legacy_ctx l = {.wf = wf};
  size_t pos = 0, used;
  pk_value *root = NULL, *keys = NULL;
  char where[1100];
  snprintf(where, sizeof where, "%s: object", wf->path);
  dnl_status s = legacy_header(wf, &doc, &pos);
  if (s == DNL_OK)
    s = pickle_run(&doc, wf->map + pos, wf->len - pos, where, &root, &used);
  if (s == DNL_OK) {
    pos += used;
    snprintf(where, sizeof where, "%s: storage keys", wf->path);
    s = pickle_run(&doc, wf->map + pos, wf->len - pos, where, &keys, &used);
  }
  if (s == DNL_OK)
    s = legacy_storages(&l, &doc, keys, pos + used);
  if (s == DNL_OK)
    s = collect(wf, root, legacy_resolve, &l);
  free(l.raw);
  pickle_doc_free(&doc);
  return s;
}

const weight_format pth_zip_format = {.name = "pytorch-zip", .sniff = wzip_sniff, .read = read_zip};
const weight_format pth_legacy_format = {
    .name = "pytorch-legacy", .sniff = sniff_legacy, .read = read_legacy};
