#include "lib/config/cfg.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dnl_status parse_error(const config_t *c, const char *name) {
  const char *file = config_error_file(c);
  return dnl_error(DNL_ERR_FORMAT, "%s:%d: %s", file ? file : name, config_error_line(c),
                   config_error_text(c));
}

dnl_status cfg_load(config_t *c, const char *path) {
  config_init(c);
  char *copy = strdup(path);
  if (!copy)
    return dnl_error(DNL_ERR_NOMEM, "%s: out of memory", path);
  config_set_include_dir(c, dirname(copy));
  free(copy);
  FILE *f = fopen(path, "r");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot open the config file", path);
  fclose(f);
  if (config_read_file(c, path) != CONFIG_TRUE)
    return parse_error(c, path);
  return DNL_OK;
}

/* Copies every leaf of src that dst lacks (groups are merged member by member). */
static dnl_status merge_missing(config_t *dst, const config_setting_t *src, const char *prefix) {
  for (int i = 0; i < config_setting_length(src); i++) {
    const config_setting_t *m = config_setting_get_elem(src, (unsigned)i);
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", config_setting_name(m));
    const config_setting_t *have = config_lookup(dst, path);
    if (config_setting_type(m) == CONFIG_TYPE_GROUP) {
      if (have && config_setting_type(have) != CONFIG_TYPE_GROUP)
        continue;
      if (!have && config_setting_length(m) == 0) {
        config_setting_t *parent =
            prefix[0] ? config_lookup(dst, prefix) : config_root_setting(dst);
        if (!parent || !config_setting_add(parent, config_setting_name(m), CONFIG_TYPE_GROUP))
          return dnl_error(DNL_ERR_ARG, "config: cannot merge group %s", path);
        continue;
      }
      DNL_TRY(merge_missing(dst, m, path));
    } else if (!have) {
      DNL_TRY(cfg_set_from(dst, path, m));
    }
  }
  return DNL_OK;
}

/* The files of a base chain, outermost first, to name a cycle. */
#define BASE_CHAIN_MAX 16
typedef struct base_chain {
  char *real[BASE_CHAIN_MAX]; /* realpath of each file (or the path as given) */
  const char *given[BASE_CHAIN_MAX];
  int n;
} base_chain;

/* "a.cfg -> b.cfg -> a.cfg" from the file at index `from` to the repeated one */
static dnl_status cycle_error(const base_chain *ch, int from, const char *again) {
  char text[2048];
  size_t n = 0;
  for (int i = from; i < ch->n && n < sizeof text; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%s -> ", ch->given[i]);
  if (n < sizeof text)
    snprintf(text + n, sizeof text - n, "%s", again);
  return dnl_error(DNL_ERR_ARG, "%s: config bases form a cycle: %s", ch->given[0], text);
}

static dnl_status load_layered(config_t *c, const char *path, const cfg_schema *schema,
                               base_chain *ch) {
  /* c is initialised on every path, so that callers can always destroy it */
  config_init(c);
  char *real = realpath(path, NULL);
  if (!real)
    real = strdup(path);
  if (!real)
    return dnl_error(DNL_ERR_NOMEM, "%s: out of memory", path);
  for (int i = 0; i < ch->n; i++)
    if (!strcmp(ch->real[i], real)) {
      free(real);
      return cycle_error(ch, i, path);
    }
  if (ch->n == BASE_CHAIN_MAX) {
    free(real);
    return dnl_error(DNL_ERR_ARG, "%s: base chain deeper than %d files", ch->given[0],
                     BASE_CHAIN_MAX);
  }
  ch->real[ch->n] = real;
  ch->given[ch->n++] = path;
  config_destroy(c);
  DNL_TRY(cfg_load(c, path));
  config_setting_t *b = config_lookup(c, "base");
  if (!b)
    return DNL_OK;
  char where[512];
  if (config_setting_type(b) != CONFIG_TYPE_STRING)
    return dnl_error(DNL_ERR_ARG, "%s: base must be a string (a config file)",
                     cfg_where(b, where, sizeof where));
  char *copy = strdup(path);
  if (!copy)
    return dnl_error(DNL_ERR_NOMEM, "%s: out of memory", path);
  const char *name = config_setting_get_string(b);
  size_t len = strlen(copy) + strlen(name) + 2;
  char *base_path = malloc(len);
  if (!base_path) {
    free(copy);
    return dnl_error(DNL_ERR_NOMEM, "%s: out of memory", path);
  }
  if (name[0] == '/')
    snprintf(base_path, len, "%s", name);
  else
    snprintf(base_path, len, "%s/%s", dirname(copy), name);
  free(copy);
  config_t base;
  dnl_status st = load_layered(&base, base_path, schema, ch);
  if (st == DNL_OK)
    st = cfg_validate(&base, schema);
  if (st == DNL_OK)
    st = merge_missing(c, config_root_setting(&base), "");
  config_destroy(&base);
  if (st != DNL_OK) {
    /* a cycle's message names the whole chain already */
    if (!strstr(dnl_last_error(), "form a cycle"))
      dnl_error_context(st, "%s", cfg_where(b, where, sizeof where));
    free(base_path);
    return st;
  }
  free(base_path);
  config_setting_remove(config_root_setting(c), "base");
  return DNL_OK;
}

dnl_status cfg_load_layered(config_t *c, const char *path, const cfg_schema *schema) {
  base_chain ch = {.n = 0};
  dnl_status st = load_layered(c, path, schema, &ch);
  for (int i = 0; i < ch.n; i++)
    free(ch.real[i]);
  return st;
}

dnl_status cfg_parse_string(config_t *c, const char *text, const char *name) {
  config_init(c);
  if (config_read_string(c, text) != CONFIG_TRUE)
    return parse_error(c, name);
  return DNL_OK;
}

const char *cfg_where(const config_setting_t *s, char *buf, size_t len) {
  const char *file = config_setting_source_file(s);
  unsigned line = config_setting_source_line(s);
  if (line == 0) /* set in memory: a --set option or a sweep value */
    snprintf(buf, len, "override");
  else
    snprintf(buf, len, "%s:%u", file ? file : "<config>", line);
  return buf;
}

const cfg_key *cfg_schema_find(const cfg_schema *schema, const char *path) {
  for (size_t i = 0; i < schema->count; i++)
    if (strcmp(schema->keys[i].path, path) == 0)
      return &schema->keys[i];
  return NULL;
}

static const char *type_name(cfg_type t) {
  switch (t) {
  case CFG_INT:
    return "an integer";
  case CFG_FLOAT:
    return "a number";
  case CFG_BOOL:
    return "true or false";
  case CFG_STRING:
    return "a string";
  case CFG_INT_ARRAY:
    return "an array of integers";
  case CFG_FLOAT_ARRAY:
    return "an array of numbers";
  case CFG_STRING_ARRAY:
    return "an array of strings";
  case CFG_GROUP:
    return "a group { ... }";
  }
  return "?";
}

static bool has_range(const cfg_key *k) { return k->min <= k->max; }

static dnl_status check_number(const cfg_key *k, const char *where, const char *path, double v) {
  if (has_range(k) && (v < k->min || v > k->max))
    return dnl_error(DNL_ERR_ARG, "%s: %s = %g is out of range, expected %g..%g", where, path, v,
                     k->min, k->max);
  return DNL_OK;
}

static bool is_int(int type) { return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64; }
static bool is_number(int type) { return is_int(type) || type == CONFIG_TYPE_FLOAT; }

static dnl_status check_setting(const config_setting_t *s, const cfg_key *k, const char *path) {
  char where[512];
  cfg_where(s, where, sizeof where);
  int t = config_setting_type(s);
  bool ok;
  switch (k->type) {
  case CFG_INT:
    ok = is_int(t);
    break;
  case CFG_FLOAT:
    ok = is_number(t);
    break;
  case CFG_BOOL:
    ok = t == CONFIG_TYPE_BOOL;
    break;
  case CFG_STRING:
    ok = t == CONFIG_TYPE_STRING;
    break;
  case CFG_INT_ARRAY:
  case CFG_FLOAT_ARRAY:
  case CFG_STRING_ARRAY:
    ok = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
    break;
  case CFG_GROUP:
    ok = t == CONFIG_TYPE_GROUP;
    break;
  default:
    ok = false;
  }
  if (!ok)
    return dnl_error(DNL_ERR_ARG, "%s: %s has the wrong type, expected %s", where, path,
                     type_name(k->type));
  if (k->type == CFG_INT || k->type == CFG_FLOAT)
    return check_number(k, where, path,
                        is_int(t) ? (double)config_setting_get_int64(s)
                                  : config_setting_get_float(s));
  if (k->type == CFG_STRING && k->choices) {
    const char *v = config_setting_get_string(s);
    for (const char *const *c = k->choices; *c; c++)
      if (strcmp(*c, v) == 0)
        return DNL_OK;
    char allowed[512] = "";
    for (const char *const *c = k->choices; *c; c++) {
      strncat(allowed, *c, sizeof allowed - strlen(allowed) - 1);
      if (c[1])
        strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
    }
    return dnl_error(DNL_ERR_ARG, "%s: %s = \"%s\" is not allowed, expected one of: %s", where,
                     path, v, allowed);
  }
  if (k->type == CFG_INT_ARRAY || k->type == CFG_FLOAT_ARRAY) {
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
      const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
      int et = config_setting_type(e);
      bool eok = k->type == CFG_INT_ARRAY ? is_int(et) : is_number(et);
      if (!eok)
        return dnl_error(DNL_ERR_ARG, "%s: %s[%d] has the wrong type, expected %s", where, path, i,
                         k->type == CFG_INT_ARRAY ? "an integer" : "a number");
      double v = is_int(et) ? (double)config_setting_get_int64(e) : config_setting_get_float(e);
      DNL_TRY(check_number(k, where, path, v));
    }
  }
  if (k->type == CFG_STRING_ARRAY) {
    for (int i = 0; i < config_setting_length(s); i++)
      if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
        return dnl_error(DNL_ERR_ARG, "%s: %s[%d] has the wrong type, expected a string", where,
                         path, i);
  }
  return DNL_OK;
}

static dnl_status walk(const config_setting_t *group, const char *prefix,
                       const cfg_schema *schema) {
  int n = config_setting_length(group);
  for (int i = 0; i < n; i++) {
    const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
    const char *name = config_setting_name(s);
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name ? name : "?");
    const cfg_key *k = cfg_schema_find(schema, path);
    if (!k) {
      char where[512];
      return dnl_error(DNL_ERR_ARG, "%s: unknown key %s", cfg_where(s, where, sizeof where), path);
    }
    DNL_TRY(check_setting(s, k, path));
    if (k->type == CFG_GROUP)
      DNL_TRY(walk(s, path, schema));
  }
  return DNL_OK;
}

dnl_status cfg_validate(const config_t *c, const cfg_schema *schema) {
  return walk(config_root_setting(c), "", schema);
}

long cfg_get_int(const config_t *c, const char *path, long def) {
  const config_setting_t *s = config_lookup(c, path);
  return s ? (long)config_setting_get_int64(s) : def;
}

double cfg_get_float(const config_t *c, const char *path, double def) {
  const config_setting_t *s = config_lookup(c, path);
  if (!s)
    return def;
  return is_int(config_setting_type(s)) ? (double)config_setting_get_int64(s)
                                        : config_setting_get_float(s);
}

bool cfg_get_bool(const config_t *c, const char *path, bool def) {
  const config_setting_t *s = config_lookup(c, path);
  return s ? config_setting_get_bool(s) != 0 : def;
}

const char *cfg_get_string(const config_t *c, const char *path, const char *def) {
  const config_setting_t *s = config_lookup(c, path);
  return s ? config_setting_get_string(s) : def;
}

int cfg_get_float_array(const config_t *c, const char *path, double *out, int max) {
  const config_setting_t *s = config_lookup(c, path);
  if (!s)
    return 0;
  int n = config_setting_length(s);
  for (int i = 0; i < n && i < max; i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    out[i] = is_int(config_setting_type(e)) ? (double)config_setting_get_int64(e)
                                            : config_setting_get_float(e);
  }
  return n < max ? n : max;
}

int cfg_get_int_array(const config_t *c, const char *path, long *out, int max) {
  const config_setting_t *s = config_lookup(c, path);
  if (!s)
    return 0;
  int n = config_setting_length(s);
  for (int i = 0; i < n && i < max; i++)
    out[i] = (long)config_setting_get_int64(config_setting_get_elem(s, (unsigned)i));
  return n < max ? n : max;
}

int cfg_get_string_array(const config_t *c, const char *path, const char **out, int max) {
  const config_setting_t *s = config_lookup(c, path);
  if (!s)
    return 0;
  int n = config_setting_length(s);
  for (int i = 0; i < n && i < max; i++)
    out[i] = config_setting_get_string(config_setting_get_elem(s, (unsigned)i));
  return n < max ? n : max;
}

static dnl_status copy_scalar(config_setting_t *dst, const config_setting_t *src) {
  int ok = CONFIG_FALSE;
  switch (config_setting_type(src)) {
  case CONFIG_TYPE_INT:
    ok = config_setting_set_int(dst, config_setting_get_int(src));
    break;
  case CONFIG_TYPE_INT64:
    ok = config_setting_set_int64(dst, config_setting_get_int64(src));
    break;
  case CONFIG_TYPE_FLOAT:
    ok = config_setting_set_float(dst, config_setting_get_float(src));
    break;
  case CONFIG_TYPE_BOOL:
    ok = config_setting_set_bool(dst, config_setting_get_bool(src));
    break;
  case CONFIG_TYPE_STRING:
    ok = config_setting_set_string(dst, config_setting_get_string(src));
    break;
  default:
    break;
  }
  return ok == CONFIG_TRUE ? DNL_OK : dnl_error(DNL_ERR_ARG, "config: cannot copy a value");
}

dnl_status cfg_set_from(config_t *c, const char *path, const config_setting_t *value) {
  char buf[256];
  if (strlen(path) >= sizeof buf)
    return dnl_error(DNL_ERR_ARG, "config key too long: %s", path);
  strcpy(buf, path);
  config_setting_t *group = config_root_setting(c);
  char *save = NULL;
  char *part = strtok_r(buf, ".", &save);
  while (part) {
    char *next = strtok_r(NULL, ".", &save);
    config_setting_t *child = config_setting_get_member(group, part);
    if (next) {
      if (!child)
        child = config_setting_add(group, part, CONFIG_TYPE_GROUP);
      else if (config_setting_type(child) != CONFIG_TYPE_GROUP)
        return dnl_error(DNL_ERR_ARG, "config: %s: %s is not a group", path, part);
      if (!child)
        return dnl_error(DNL_ERR_ARG, "config: cannot create group %s in %s", part, path);
      group = child;
    } else {
      int type = config_setting_type(value);
      if (child)
        config_setting_remove(group, part);
      child = config_setting_add(group, part, type);
      if (!child)
        return dnl_error(DNL_ERR_ARG, "config: cannot set %s", path);
      if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
        int n = config_setting_length(value);
        for (int i = 0; i < n; i++) {
          const config_setting_t *e = config_setting_get_elem(value, (unsigned)i);
          config_setting_t *d = config_setting_add(child, NULL, config_setting_type(e));
          if (!d)
            return dnl_error(DNL_ERR_ARG, "config: %s: mixed element types", path);
          DNL_TRY(copy_scalar(d, e));
        }
      } else {
        DNL_TRY(copy_scalar(child, value));
      }
    }
    part = next;
  }
  return DNL_OK;
}

dnl_status cfg_to_string(const config_t *c, char **out) {
  size_t len = 0;
  *out = NULL;
  FILE *f = open_memstream(out, &len);
  if (!f)
    return dnl_error(DNL_ERR_NOMEM, "config: cannot open a memory stream");
  config_write(c, f);
  fclose(f);
  return DNL_OK;
}
