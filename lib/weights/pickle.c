#include "lib/weights/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the globals a checkpoint may name ---- */

typedef struct known_global {
  const char *module, *name;
  pk_global_kind kind;
  wdtype dtype;
} known_global;

static const known_global known_globals[] = {
    {"collections", "OrderedDict", PKG_ORDERED_DICT, WDT_F32},
    {"torch._utils", "_rebuild_tensor_v2", PKG_REBUILD_TENSOR_V2, WDT_F32},
    {"torch._utils", "_rebuild_tensor", PKG_REBUILD_TENSOR, WDT_F32},
    {"torch._utils", "_rebuild_parameter", PKG_REBUILD_PARAMETER, WDT_F32},
    {"torch._utils", "_rebuild_parameter_with_state", PKG_REBUILD_PARAMETER_STATE, WDT_F32},
    {"torch", "Size", PKG_TORCH_SIZE, WDT_F32},
    {"torch", "FloatStorage", PKG_STORAGE_TYPE, WDT_F32},
    {"torch", "HalfStorage", PKG_STORAGE_TYPE, WDT_F16},
    {"torch", "BFloat16Storage", PKG_STORAGE_TYPE, WDT_BF16},
    {"torch", "DoubleStorage", PKG_STORAGE_TYPE, WDT_F64},
    {"torch", "LongStorage", PKG_STORAGE_TYPE, WDT_I64},
    {"torch", "IntStorage", PKG_STORAGE_TYPE, WDT_I32},
    {"torch", "ShortStorage", PKG_STORAGE_TYPE, WDT_I16},
    {"torch", "CharStorage", PKG_STORAGE_TYPE, WDT_I8},
    {"torch", "ByteStorage", PKG_STORAGE_TYPE, WDT_U8},
    {"torch", "BoolStorage", PKG_STORAGE_TYPE, WDT_BOOL},
    {"torch", "ComplexFloatStorage", PKG_STORAGE_TYPE, WDT_C64},
    {"torch", "ComplexDoubleStorage", PKG_STORAGE_TYPE, WDT_C128},
};

#define GLOBAL_NAME_MAX 256
/* Values, stack slots, marks and memo entries of one document: a state_dict
 * pickle needs about a dozen values per tensor, so this leaves room for
 * hundreds of thousands of tensors while bounding what a hostile pickle of
 * repeated one-byte opcodes can make the reader allocate. */
#define PICKLE_MAX_VALUES (1u << 22)

/* ---- values ---- */

void pickle_doc_init(pickle_doc *doc) { memset(doc, 0, sizeof *doc); }

static void value_free(pk_value *v) {
  switch (v->kind) {
  case PK_STR: case PK_BYTES: case PK_BIGINT: free(v->u.str.s); break;
  case PK_TUPLE: case PK_LIST: free(v->u.seq.items); break;
  case PK_DICT:
    free(v->u.dict.keys);
    free(v->u.dict.values);
    break;
  case PK_STORAGE: free(v->u.storage.key); break;
  default: break;
  }
  free(v);
}

void pickle_doc_free(pickle_doc *doc) {
  for (size_t i = 0; i < doc->count; i++)
    value_free(doc->nodes[i]);
  free(doc->nodes);
  memset(doc, 0, sizeof *doc);
}

const char *pickle_kind_name(pk_kind k) {
  static const char *const names[] = {"None", "bool", "int", "int", "float", "str", "bytes",
                                      "tuple", "list", "dict", "global", "storage", "tensor"};
  return (size_t)k < sizeof names / sizeof names[0] ? names[k] : "value";
}

bool pickle_is_str(const pk_value *v, const char *s) {
  return v && v->kind == PK_STR && strlen(v->u.str.s) == v->u.str.len && !strcmp(v->u.str.s, s);
}

pk_value *pickle_dict_get(const pk_value *dict, const char *key) {
  if (!dict || dict->kind != PK_DICT)
    return NULL;
  for (size_t i = 0; i < dict->u.dict.count; i++)
    if (pickle_is_str(dict->u.dict.keys[i], key))
      return dict->u.dict.values[i];
  return NULL;
}

/* ---- the machine ---- */

typedef struct vm {
  pickle_doc *doc;
  const uint8_t *p;
  size_t len, pos, op_pos;
  const char *where;
  pk_value **stack;
  size_t sp, stack_cap;
  size_t *marks;
  size_t nmarks, marks_cap;
  pk_value **memo;
  size_t memo_cap, puts;
} vm;

static dnl_status bad(const vm *m, const char *what) {
  return dnl_error(DNL_ERR_FORMAT, "%s: pickle byte %zu: %s", m->where, m->op_pos, what);
}

/* Makes room for one more element in an array of elem-sized items. */
static dnl_status grow(void **items, size_t *cap, size_t count, size_t elem) {
  if (count < *cap)
    return DNL_OK;
  size_t ncap = *cap ? 2 * *cap : 16;
  void *n = realloc(*items, ncap * elem);
  if (!n)
    return dnl_error(DNL_ERR_NOMEM, "pickle: %zu values", ncap);
  *items = n;
  *cap = ncap;
  return DNL_OK;
}

static dnl_status too_many(const vm *m) {
  return dnl_error(DNL_ERR_FORMAT, "%s: pickle byte %zu: more than %u values: not a checkpoint",
                   m->where, m->op_pos, PICKLE_MAX_VALUES);
}

static dnl_status new_value(vm *m, pk_kind kind, pk_value **out) {
  *out = NULL;
  if (m->doc->count >= PICKLE_MAX_VALUES)
    return too_many(m);
  DNL_TRY(grow((void **)&m->doc->nodes, &m->doc->cap, m->doc->count, sizeof(pk_value *)));
  pk_value *v = calloc(1, sizeof *v);
  if (!v)
    return dnl_error(DNL_ERR_NOMEM, "pickle: value");
  v->kind = kind;
  m->doc->nodes[m->doc->count++] = v;
  *out = v;
  return DNL_OK;
}

static dnl_status push(vm *m, pk_value *v) {
  if (m->sp >= PICKLE_MAX_VALUES)
    return too_many(m);
  DNL_TRY(grow((void **)&m->stack, &m->stack_cap, m->sp, sizeof(pk_value *)));
  m->stack[m->sp++] = v;
  return DNL_OK;
}

static dnl_status push_new(vm *m, pk_kind kind, pk_value **out) {
  DNL_TRY(new_value(m, kind, out));
  return push(m, *out);
}

static dnl_status pop(vm *m, pk_value **out) {
  *out = NULL;
  size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
  if (m->sp <= floor)
    return bad(m, "stack underflow");
  *out = m->stack[--m->sp];
  return DNL_OK;
}

static dnl_status top(vm *m, pk_value **out) {
  DNL_TRY(pop(m, out));
  m->sp++;
  return DNL_OK;
}

/* Index of the first value above the latest mark; removes the mark. */
static dnl_status pop_mark(vm *m, size_t *start) {
  *start = 0;
  if (!m->nmarks)
    return bad(m, "no mark on the stack");
  *start = m->marks[--m->nmarks];
  return DNL_OK;
}

/* Reads n bytes of operand. */
static dnl_status take(vm *m, size_t n, const uint8_t **out) {
  *out = NULL;
  if (n > m->len - m->pos)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: pickle byte %zu: operand of %zu bytes runs past the end (%zu bytes "
                     "left): truncated?",
                     m->where, m->op_pos, n, m->len - m->pos);
  *out = m->p + m->pos;
  m->pos += n;
  return DNL_OK;
}

static dnl_status take_uint(vm *m, size_t n, uint64_t *out) {
  const uint8_t *b;
  *out = 0;
  DNL_TRY(take(m, n, &b));
  for (size_t i = n; i-- > 0;)
    *out = *out << 8 | b[i];
  return DNL_OK;
}

static dnl_status push_bytes(vm *m, pk_kind kind, size_t n) {
  const uint8_t *b;
  DNL_TRY(take(m, n, &b));
  pk_value *v;
  DNL_TRY(push_new(m, kind, &v));
  v->u.str.s = malloc(n + 1);
  if (!v->u.str.s)
    return dnl_error(DNL_ERR_NOMEM, "pickle: string of %zu bytes", n);
  memcpy(v->u.str.s, b, n);
  v->u.str.s[n] = '\0';
  v->u.str.len = n;
  return DNL_OK;
}

/* A little-endian two's complement integer of n bytes (LONG1, LONG4). */
static dnl_status push_long(vm *m, size_t n) {
  if (n > 8)
    return push_bytes(m, PK_BIGINT, n);
  const uint8_t *b;
  DNL_TRY(take(m, n, &b));
  uint64_t u = 0;
  for (size_t i = n; i-- > 0;)
    u = u << 8 | b[i];
  if (n && n < 8 && (b[n - 1] & 0x80))
    u |= ~(uint64_t)0 << (8 * n);
  pk_value *v;
  DNL_TRY(push_new(m, PK_INT, &v));
  v->u.i = (int64_t)u;
  return DNL_OK;
}

static dnl_status push_tuple_from(vm *m, size_t start) {
  size_t n = m->sp - start;
  pk_value *t;
  DNL_TRY(new_value(m, PK_TUPLE, &t));
  if (n) {
    t->u.seq.items = malloc(n * sizeof(pk_value *));
    if (!t->u.seq.items)
      return dnl_error(DNL_ERR_NOMEM, "pickle: tuple of %zu", n);
    memcpy(t->u.seq.items, m->stack + start, n * sizeof(pk_value *));
  }
  t->u.seq.count = t->u.seq.cap = n;
  m->sp = start;
  return push(m, t);
}

static dnl_status list_append(vm *m, pk_value *list, pk_value *item) {
  if (list->kind != PK_LIST)
    return bad(m, "append to something that is not a list");
  DNL_TRY(grow((void **)&list->u.seq.items, &list->u.seq.cap, list->u.seq.count,
               sizeof(pk_value *)));
  list->u.seq.items[list->u.seq.count++] = item;
  return DNL_OK;
}

static dnl_status dict_set(vm *m, pk_value *dict, pk_value *key, pk_value *value) {
  if (dict->kind != PK_DICT)
    return bad(m, "item assignment to something that is not a dict");
  size_t n = dict->u.dict.count;
  if (n == dict->u.dict.cap) {
    size_t cap = n ? 2 * n : 16;
    pk_value **keys = realloc(dict->u.dict.keys, cap * sizeof *keys);
    if (keys)
      dict->u.dict.keys = keys;
    pk_value **values = keys ? realloc(dict->u.dict.values, cap * sizeof *values) : NULL;
    if (!values)
      return dnl_error(DNL_ERR_NOMEM, "pickle: dict of %zu items", cap);
    dict->u.dict.values = values;
    dict->u.dict.cap = cap;
  }
  dict->u.dict.keys[n] = key;
  dict->u.dict.values[n] = value;
  dict->u.dict.count = n + 1;
  return DNL_OK;
}

/* Items stack[start..sp) into container (pairs for dicts). */
static dnl_status fill_from(vm *m, pk_value *container, size_t start) {
  if (container->kind == PK_DICT) {
    if ((m->sp - start) % 2)
      return bad(m, "odd number of items for a dict");
    for (size_t i = start; i < m->sp; i += 2)
      DNL_TRY(dict_set(m, container, m->stack[i], m->stack[i + 1]));
  } else {
    for (size_t i = start; i < m->sp; i++)
      DNL_TRY(list_append(m, container, m->stack[i]));
  }
  m->sp = start;
  return DNL_OK;
}

static dnl_status push_global(vm *m, const char *module, size_t mlen, const char *name,
                              size_t nlen) {
  for (size_t i = 0; i < sizeof known_globals / sizeof known_globals[0]; i++) {
    const known_global *g = &known_globals[i];
    if (strlen(g->module) == mlen && !memcmp(g->module, module, mlen) &&
        strlen(g->name) == nlen && !memcmp(g->name, name, nlen)) {
      pk_value *v;
      DNL_TRY(push_new(m, PK_GLOBAL, &v));
      v->u.global.kind = g->kind;
      v->u.global.dtype = g->dtype;
      v->u.global.name = g->name;
      return DNL_OK;
    }
  }
  char shown[2 * GLOBAL_NAME_MAX + 2];
  snprintf(shown, sizeof shown, "%.*s.%.*s", (int)mlen, module, (int)nlen, name);
  for (char *c = shown; *c; c++)
    if ((unsigned char)*c < 32 || (unsigned char)*c > 126)
      *c = '?';
  return dnl_error(DNL_ERR_FORMAT,
                   "%s: pickle byte %zu: refers to the global %s, which is not allowed (only "
                   "PyTorch tensor/storage rebuilders, OrderedDict and torch.Size are; nothing "
                   "is executed). Save only the state_dict: torch.save(model.state_dict(), f)",
                   m->where, m->op_pos, shown);
}

/* GLOBAL: "module\nname\n". */
static dnl_status op_global(vm *m) {
  const char *parts[2];
  size_t lens[2];
  for (int k = 0; k < 2; k++) {
    const uint8_t *start = m->p + m->pos;
    size_t left = m->len - m->pos;
    const uint8_t *nl = memchr(start, '\n', left < GLOBAL_NAME_MAX ? left : GLOBAL_NAME_MAX);
    if (!nl)
      return bad(m, "GLOBAL without a newline-terminated name");
    parts[k] = (const char *)start;
    lens[k] = (size_t)(nl - start);
    m->pos += lens[k] + 1;
  }
  return push_global(m, parts[0], lens[0], parts[1], lens[1]);
}

static dnl_status op_stack_global(vm *m) {
  pk_value *name, *module;
  DNL_TRY(pop(m, &name));
  DNL_TRY(pop(m, &module));
  if (name->kind != PK_STR || module->kind != PK_STR ||
      name->u.str.len >= GLOBAL_NAME_MAX || module->u.str.len >= GLOBAL_NAME_MAX)
    return bad(m, "STACK_GLOBAL needs two short strings");
  return push_global(m, module->u.str.s, module->u.str.len, name->u.str.s, name->u.str.len);
}

static bool int_of(const pk_value *v, int64_t *out) {
  if (!v || v->kind != PK_INT)
    return false;
  *out = v->u.i;
  return true;
}

/* A tuple of at most WTENSOR_MAX_DIMS ints into dims; false otherwise. */
static bool dims_of(const pk_value *v, int *n, int64_t *dims) {
  if (!v || v->kind != PK_TUPLE || v->u.seq.count > WTENSOR_MAX_DIMS)
    return false;
  *n = (int)v->u.seq.count;
  for (int i = 0; i < *n; i++)
    if (!int_of(v->u.seq.items[i], &dims[i]))
      return false;
  return true;
}

/* _rebuild_tensor(_v2)(storage, storage_offset, size, stride, ...) */
static dnl_status rebuild_tensor(vm *m, const pk_value *args, pk_value **out) {
  if (args->u.seq.count < 4)
    return bad(m, "_rebuild_tensor_v2 with fewer than 4 arguments");
  pk_value **a = args->u.seq.items;
  pk_value *t;
  DNL_TRY(new_value(m, PK_TENSOR, &t));
  int nsize = 0, nstride = 0;
  if (a[0]->kind != PK_STORAGE || !int_of(a[1], &t->u.tensor.offset) ||
      !dims_of(a[2], &nsize, t->u.tensor.shape) || !dims_of(a[3], &nstride, t->u.tensor.stride) ||
      nsize != nstride) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "_rebuild_tensor_v2 expects (storage, offset, size, stride) with at most %d "
             "matching dims",
             WTENSOR_MAX_DIMS);
    return bad(m, msg);
  }
  t->u.tensor.storage = a[0];
  t->u.tensor.ndim = nsize;
  *out = t;
  return DNL_OK;
}

/* REDUCE and NEWOBJ: callable(*args) for the known callables only. */
static dnl_status op_call(vm *m) {
  pk_value *args, *fn, *result = NULL;
  DNL_TRY(pop(m, &args));
  DNL_TRY(pop(m, &fn));
  if (fn->kind != PK_GLOBAL || args->kind != PK_TUPLE)
    return bad(m, "call of something that is not a known global");
  size_t n = args->u.seq.count;
  switch (fn->u.global.kind) {
  case PKG_ORDERED_DICT:
    if (n != 0)
      return bad(m, "OrderedDict with arguments");
    DNL_TRY(new_value(m, PK_DICT, &result));
    break;
  case PKG_REBUILD_TENSOR_V2:
  case PKG_REBUILD_TENSOR:
    DNL_TRY(rebuild_tensor(m, args, &result));
    break;
  case PKG_REBUILD_PARAMETER:
  case PKG_REBUILD_PARAMETER_STATE:
    if (n < 1 || args->u.seq.items[0]->kind != PK_TENSOR)
      return bad(m, "_rebuild_parameter without a tensor");
    result = args->u.seq.items[0];
    break;
  case PKG_TORCH_SIZE:
    if (n != 1 || args->u.seq.items[0]->kind != PK_TUPLE)
      return bad(m, "torch.Size without a tuple");
    result = args->u.seq.items[0];
    break;
  case PKG_STORAGE_TYPE:
    return bad(m, "a storage type is called");
  }
  return push(m, result);
}

/* BUILD sets an object's state: the _metadata of a state_dict or the state of
 * a parameter carry nothing the import needs. */
static dnl_status op_build(vm *m) {
  pk_value *state, *obj;
  DNL_TRY(pop(m, &state));
  DNL_TRY(top(m, &obj));
  if (obj->kind != PK_DICT && obj->kind != PK_TENSOR)
    return bad(m, "BUILD on something that is neither a dict nor a tensor");
  return DNL_OK;
}

/* ('storage', storage_type, key, location, numel[, view_metadata]) */
static dnl_status op_persid(vm *m) {
  pk_value *pid, *s;
  DNL_TRY(pop(m, &pid));
  pk_value **a = pid->kind == PK_TUPLE ? pid->u.seq.items : NULL;
  size_t n = a ? pid->u.seq.count : 0;
  int64_t numel;
  if ((n != 5 && n != 6) || !pickle_is_str(a[0], "storage") || a[1]->kind != PK_GLOBAL ||
      a[1]->u.global.kind != PKG_STORAGE_TYPE || a[2]->kind != PK_STR ||
      strlen(a[2]->u.str.s) != a[2]->u.str.len || !int_of(a[4], &numel) || numel < 0)
    return bad(m, "persistent id is not ('storage', type, key, location, numel)");
  DNL_TRY(new_value(m, PK_STORAGE, &s));
  s->u.storage.dtype = a[1]->u.global.dtype;
  s->u.storage.key = strdup(a[2]->u.str.s);
  if (!s->u.storage.key)
    return dnl_error(DNL_ERR_NOMEM, "pickle: storage key");
  s->u.storage.numel = numel;
  s->u.storage.base = 0;
  s->u.storage.size = numel;
  if (n == 6 && a[5]->kind != PK_NONE) {
    /* old files: a view (view_key, offset, size) into the root storage */
    pk_value *v = a[5];
    if (v->kind != PK_TUPLE || v->u.seq.count != 3 || !int_of(v->u.seq.items[1], &s->u.storage.base) ||
        !int_of(v->u.seq.items[2], &s->u.storage.size) || s->u.storage.base < 0 ||
        s->u.storage.size < 0 || s->u.storage.base > numel ||
        s->u.storage.size > numel - s->u.storage.base)
      return bad(m, "storage view outside its root storage");
  }
  return push(m, s);
}

static dnl_status memo_put(vm *m, uint64_t idx) {
  pk_value *v;
  DNL_TRY(top(m, &v));
  /* picklers number memo entries densely: an index past the count of stores
   * so far is a corrupt file, not a reason to allocate */
  if (idx > m->puts || idx >= PICKLE_MAX_VALUES)
    return bad(m, "memo index out of range");
  m->puts++;
  if (idx >= m->memo_cap) {
    size_t cap = m->memo_cap ? m->memo_cap : 64;
    while (cap <= idx)
      cap *= 2;
    pk_value **memo = realloc(m->memo, cap * sizeof *memo);
    if (!memo)
      return dnl_error(DNL_ERR_NOMEM, "pickle: memo of %zu", cap);
    memset(memo + m->memo_cap, 0, (cap - m->memo_cap) * sizeof *memo);
    m->memo = memo;
    m->memo_cap = cap;
  }
  m->memo[idx] = v;
  return DNL_OK;
}

static dnl_status memo_get(vm *m, uint64_t idx) {
  if (idx >= m->memo_cap || !m->memo[idx])
    return bad(m, "memo index that was never stored");
  return push(m, m->memo[idx]);
}

static dnl_status push_simple(vm *m, pk_kind kind, int64_t i, double f) {
  pk_value *v;
  DNL_TRY(push_new(m, kind, &v));
  if (kind == PK_BOOL)
    v->u.b = i != 0;
  else if (kind == PK_INT)
    v->u.i = i;
  else if (kind == PK_FLOAT)
    v->u.f = f;
  return DNL_OK;
}

/* One opcode; *stop is set by STOP. */
static dnl_status step(vm *m, bool *stop) {
  m->op_pos = m->pos;
  const uint8_t *b;
  DNL_TRY(take(m, 1, &b));
  uint8_t op = *b;
  uint64_t u;
  pk_value *v, *w;
  size_t start;
  switch (op) {
  case 0x80: /* PROTO */
    DNL_TRY(take_uint(m, 1, &u));
    return u <= 5 ? DNL_OK : bad(m, "pickle protocol above 5");
  case 0x95: /* FRAME: only a read-ahead hint */
    return take_uint(m, 8, &u);
  case '.': /* STOP */
    *stop = true;
    return DNL_OK;
  case '(': /* MARK */
    if (m->nmarks >= PICKLE_MAX_VALUES)
      return too_many(m);
    DNL_TRY(grow((void **)&m->marks, &m->marks_cap, m->nmarks, sizeof(size_t)));
    m->marks[m->nmarks++] = m->sp;
    return DNL_OK;
  case '0': /* POP */
    return pop(m, &v);
  case '1': /* POP_MARK */
    DNL_TRY(pop_mark(m, &start));
    m->sp = start;
    return DNL_OK;
  case '2': /* DUP */
    DNL_TRY(top(m, &v));
    return push(m, v);
  case 'N': return push_simple(m, PK_NONE, 0, 0);
  case 0x88: return push_simple(m, PK_BOOL, 1, 0);
  case 0x89: return push_simple(m, PK_BOOL, 0, 0);
  case 'K': /* BININT1 */
    DNL_TRY(take_uint(m, 1, &u));
    return push_simple(m, PK_INT, (int64_t)u, 0);
  case 'M': /* BININT2 */
    DNL_TRY(take_uint(m, 2, &u));
    return push_simple(m, PK_INT, (int64_t)u, 0);
  case 'J': /* BININT */
    DNL_TRY(take_uint(m, 4, &u));
    return push_simple(m, PK_INT, (int32_t)(uint32_t)u, 0);
  case 0x8a: /* LONG1 */
    DNL_TRY(take_uint(m, 1, &u));
    return push_long(m, (size_t)u);
  case 0x8b: /* LONG4 */
    DNL_TRY(take_uint(m, 4, &u));
    return push_long(m, (size_t)u);
  case 'G': { /* BINFLOAT, big-endian */
    DNL_TRY(take_uint(m, 8, &u));
    uint64_t be = __builtin_bswap64(u);
    double d;
    memcpy(&d, &be, sizeof d);
    return push_simple(m, PK_FLOAT, 0, d);
  }
  case 'X': /* BINUNICODE */
  case 'T': /* BINSTRING */
    DNL_TRY(take_uint(m, 4, &u));
    return push_bytes(m, PK_STR, (size_t)u);
  case 0x8c: /* SHORT_BINUNICODE */
  case 'U':  /* SHORT_BINSTRING */
    DNL_TRY(take_uint(m, 1, &u));
    return push_bytes(m, PK_STR, (size_t)u);
  case 0x8d: /* BINUNICODE8 */
    DNL_TRY(take_uint(m, 8, &u));
    return u > m->len ? bad(m, "string longer than the pickle") : push_bytes(m, PK_STR, u);
  case 'B': /* BINBYTES */
    DNL_TRY(take_uint(m, 4, &u));
    return push_bytes(m, PK_BYTES, (size_t)u);
  case 'C': /* SHORT_BINBYTES */
    DNL_TRY(take_uint(m, 1, &u));
    return push_bytes(m, PK_BYTES, (size_t)u);
  case 0x8e: /* BINBYTES8 */
    DNL_TRY(take_uint(m, 8, &u));
    return u > m->len ? bad(m, "bytes longer than the pickle") : push_bytes(m, PK_BYTES, u);
  case ')': /* EMPTY_TUPLE */
    return push_tuple_from(m, m->sp);
  case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
    size_t n = (size_t)(op - 0x84);
    size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp < floor + n)
      return bad(m, "stack underflow");
    return push_tuple_from(m, m->sp - n);
  }
  case 't': /* TUPLE */
    DNL_TRY(pop_mark(m, &start));
    return push_tuple_from(m, start);
  case ']': return push_new(m, PK_LIST, &v);
  case '}': return push_new(m, PK_DICT, &v);
  case 'l': /* LIST */
  case 'd': /* DICT */
    DNL_TRY(pop_mark(m, &start));
    DNL_TRY(new_value(m, op == 'l' ? PK_LIST : PK_DICT, &v));
    DNL_TRY(fill_from(m, v, start));
    return push(m, v);
  case 'a': /* APPEND */
    DNL_TRY(pop(m, &w));
    DNL_TRY(top(m, &v));
    return list_append(m, v, w);
  case 's': { /* SETITEM */
    pk_value *key;
    DNL_TRY(pop(m, &w));
    DNL_TRY(pop(m, &key));
    DNL_TRY(top(m, &v));
    return dict_set(m, v, key, w);
  }
  case 'e': /* APPENDS */
  case 'u': /* SETITEMS */
    DNL_TRY(pop_mark(m, &start));
    if (start == 0 || start > m->sp)
      return bad(m, "APPENDS/SETITEMS without a container");
    return fill_from(m, m->stack[start - 1], start);
  case 'c': return op_global(m);
  case 0x93: return op_stack_global(m);
  case 'R': /* REDUCE */
  case 0x81: /* NEWOBJ */
    return op_call(m);
  case 'b': return op_build(m);
  case 'Q': return op_persid(m);
  case 'q': /* BINPUT */
    DNL_TRY(take_uint(m, 1, &u));
    return memo_put(m, u);
  case 'r': /* LONG_BINPUT */
    DNL_TRY(take_uint(m, 4, &u));
    return memo_put(m, u);
  case 0x94: { /* MEMOIZE: the next index */
    size_t next = 0;
    while (next < m->memo_cap && m->memo[next])
      next++;
    return memo_put(m, next);
  }
  case 'h': /* BINGET */
    DNL_TRY(take_uint(m, 1, &u));
    return memo_get(m, u);
  case 'j': /* LONG_BINGET */
    DNL_TRY(take_uint(m, 4, &u));
    return memo_get(m, u);
  default: {
    char msg[96];
    snprintf(msg, sizeof msg, "opcode 0x%02x is not supported in a checkpoint pickle", op);
    return bad(m, msg);
  }
  }
}

dnl_status pickle_run(pickle_doc *doc, const uint8_t *buf, size_t len, const char *where,
                      pk_value **out, size_t *used) {
  vm m = {.doc = doc, .p = buf, .len = len, .where = where};
  dnl_status s = DNL_OK;
  bool stop = false;
  while (s == DNL_OK && !stop) {
    if (m.pos >= m.len)
      s = dnl_error(DNL_ERR_FORMAT, "%s: pickle ends at byte %zu without STOP: truncated?",
                    where, m.pos);
    else
      s = step(&m, &stop);
  }
  if (s == DNL_OK && m.sp == 0)
    s = bad(&m, "STOP with an empty stack");
  if (s == DNL_OK) {
    *out = m.stack[m.sp - 1];
    *used = m.pos;
  }
  free(m.stack);
  free(m.marks);
  free(m.memo);
  return s;
}
