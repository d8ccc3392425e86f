/* A small strict JSON parser (RFC 8259) for headers of weight files: the
 * whole text becomes a tree of values. Nesting depth and value count are
 * limited so that hostile input cannot exhaust the stack or the memory;
 * integers are kept exactly when they fit in 64 bits. */
#ifndef DNL_JSON_H
#define DNL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

#define JSON_MAX_DEPTH 64
/* Values in one text: a safetensors header needs about 15 per tensor. */
#define JSON_MAX_VALUES (1u << 20)

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct json_value json_value;
struct json_value {
  json_kind kind;
  bool b;
  double num;
  bool is_int; /* an integer literal that fits int64: its value in i */
  int64_t i;
  char *str; /* strings: UTF-8, NUL-terminated (len excludes the NUL; may contain \u0000) */
  size_t len;
  json_value *items; /* array elements, or object member values */
  char **keys;       /* object member names (count of them) */
  size_t count;
};

/* Parses exactly len bytes of text (one value, surrounding whitespace
 * allowed). where names the text in messages; errors give the byte offset. */
dnl_status json_parse(const char *text, size_t len, const char *where, json_value *out);
void json_free(json_value *v);

/* The member called key of an object, or NULL (also for non-objects). */
const json_value *json_get(const json_value *obj, const char *key);

#endif
