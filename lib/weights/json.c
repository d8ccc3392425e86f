#include "lib/weights/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *s;
  size_t len, pos;
  const char *where;
  size_t values;
} parser;

static dnl_status fail(const parser *p, const char *what) {
  return dnl_error(DNL_ERR_FORMAT, "%s: JSON byte %zu: %s", p->where, p->pos, what);
}

static void skip_space(parser *p) {
  while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
    p->pos++;
}

static bool literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
    return false;
  p->pos += n;
  return true;
}

static int hex4(const parser *p, size_t at) {
  if (p->len - at < 4)
    return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[at + (size_t)i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18);
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string starting at the opening quote; the decoded text is never longer
 * than the literal, which bounds the allocation. */
static dnl_status parse_string(parser *p, char **out, size_t *out_len) {
  p->pos++;
  size_t end = p->pos;
  while (end < p->len && p->s[end] != '"')
    end += p->s[end] == '\\' ? 2 : 1;
  if (end >= p->len)
    return fail(p, "unterminated string");
  char *buf = malloc(end - p->pos + 1);
  if (!buf)
    return dnl_error(DNL_ERR_NOMEM, "%s: JSON string", p->where);
  size_t n = 0;
  while (p->pos < end) {
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c < 0x20) {
      free(buf);
      return fail(p, "control character in a string");
    }
    if (c != '\\') {
      buf[n++] = (char)c;
      p->pos++;
      continue;
    }
    char e = p->s[p->pos + 1];
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e && simple) {
      buf[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      p->pos += 2;
      continue;
    }
    int cp = e == 'u' ? hex4(p, p->pos + 2) : -1;
    size_t step = 6;
    if (cp >= 0xd800 && cp < 0xdc00) {
      /* a surrogate pair makes one code point above U+FFFF */
      int lo = p->pos + 8 <= end && p->s[p->pos + 6] == '\\' && p->s[p->pos + 7] == 'u'
                   ? hex4(p, p->pos + 8)
                   : -1;
      cp = lo >= 0xdc00 && lo < 0xe000 ? 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00) : -1;
      step = 12;
    } else if (cp >= 0xdc00 && cp < 0xe000) {
      cp = -1;
    }
    if (cp < 0 || p->pos + step > end) {
      free(buf);
      return fail(p, "bad escape in a string");
    }
    n += put_utf8(buf + n, (uint32_t)cp);
    p->pos += step;
  }
  buf[n] = '\0';
  p->pos = end + 1;
  *out = buf;
  *out_len = n;
  return DNL_OK;
}

static dnl_status parse_number(parser *p, json_value *v) {
  size_t start = p->pos;
  bool integral = true;
  if (p->pos < p->len && p->s[p->pos] == '-')
    p->pos++;
  size_t digits = p->pos;
  while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
    p->pos++;
  if (p->pos == digits || (p->s[digits] == '0' && p->pos - digits > 1))
    return fail(p, "bad number");
  if (p->pos < p->len && p->s[p->pos] == '.') {
    integral = false;
    size_t frac = ++p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      p->pos++;
    if (p->pos == frac)
      return fail(p, "bad number");
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    integral = false;
    p->pos++;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
      p->pos++;
    size_t exp = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      p->pos++;
    if (p->pos == exp)
      return fail(p, "bad number");
  }
  char tmp[64];
  size_t n = p->pos - start;
  if (n >= sizeof tmp)
    return fail(p, "number too long");
  memcpy(tmp, p->s + start, n);
  tmp[n] = '\0';
  v->kind = JSON_NUMBER;
  v->num = strtod(tmp, NULL);
  if (integral) {
    int64_t i = 0;
    bool neg = tmp[0] == '-', fits = true;
    for (const char *c = tmp + neg; *c && fits; c++)
      fits = !__builtin_mul_overflow(i, 10, &i) &&
             !(neg ? __builtin_sub_overflow(i, *c - '0', &i) : __builtin_add_overflow(i, *c - '0', &i));
    v->is_int = fits;
    v->i = fits ? i : 0;
  }
  return DNL_OK;
}

static dnl_status parse_value(parser *p, json_value *v, int depth);

/* Arrays (keys NULL) and objects: members separated by commas up to close. */
static dnl_status parse_members(parser *p, json_value *v, bool object, int depth) {
  char close = object ? '}' : ']';
  size_t cap = 0;
  p->pos++;
  skip_space(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    return DNL_OK;
  }
  for (;;) {
    if (v->count == cap) {
      cap = cap ? 2 * cap : 8;
      json_value *items = realloc(v->items, cap * sizeof *items);
      if (items)
        v->items = items;
      char **keys = items && object ? realloc(v->keys, cap * sizeof *keys) : NULL;
      if (keys)
        v->keys = keys;
      if (!items || (object && !keys))
        return dnl_error(DNL_ERR_NOMEM, "%s: JSON of %zu members", p->where, cap);
    }
    json_value *item = &v->items[v->count];
    memset(item, 0, sizeof *item);
    if (object) {
      skip_space(p);
      if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail(p, "expected a member name");
      size_t klen;
      DNL_TRY(parse_string(p, &v->keys[v->count], &klen));
      v->count++; /* owned from here on, freed with v */
      skip_space(p);
      if (p->pos >= p->len || p->s[p->pos] != ':')
        return fail(p, "expected ':'");
      p->pos++;
      DNL_TRY(parse_value(p, item, depth + 1));
    } else {
      v->count++;
      DNL_TRY(parse_value(p, item, depth + 1));
    }
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == close) {
      p->pos++;
      return DNL_OK;
    }
    return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static dnl_status parse_value(parser *p, json_value *v, int depth) {
  if (depth > JSON_MAX_DEPTH)
    return fail(p, "nested too deeply");
  if (++p->values > JSON_MAX_VALUES)
    return fail(p, "too many values");
  skip_space(p);
  if (p->pos >= p->len)
    return fail(p, "unexpected end");
  char c = p->s[p->pos];
  if (c == '{' || c == '[') {
    v->kind = c == '{' ? JSON_OBJECT : JSON_ARRAY;
    return parse_members(p, v, c == '{', depth);
  }
  if (c == '"') {
    v->kind = JSON_STRING;
    return parse_string(p, &v->str, &v->len);
  }
  if (c == '-' || (c >= '0' && c <= '9'))
    return parse_number(p, v);
  if (literal(p, "true") || literal(p, "false")) {
    v->kind = JSON_BOOL;
    v->b = c == 't';
    return DNL_OK;
  }
  if (literal(p, "null")) {
    v->kind = JSON_NULL;
    return DNL_OK;
  }
  return fail(p, "unexpected character");
}

dnl_status json_parse(const char *text, size_t len, const char *where, json_value *out) {
  memset(out, 0, sizeof *out);
  parser p = {text, len, 0, where, 0};
  dnl_status s = parse_value(&p, out, 0);
  if (s == DNL_OK) {
    skip_space(&p);
    if (p.pos != p.len)
      s = fail(&p, "text after the value");
  }
  if (s != DNL_OK)
    json_free(out);
  return s;
}

void json_free(json_value *v) {
  for (size_t i = 0; i < v->count; i++) {
    json_free(&v->items[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  memset(v, 0, sizeof *v);
}

const json_value *json_get(const json_value *obj, const char *key) {
  if (!obj || obj->kind != JSON_OBJECT)
    return NULL;
  for (size_t i = 0; i < obj->count; i++)
    if (!strcmp(obj->keys[i], key))
      return &obj->items[i];
  return NULL;
}
