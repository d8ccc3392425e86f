/* lib/config/ holds the validated reading of libconfig files that run, sweep
 * and block configs are written in. It depends on lib/core only; the schemas
 * themselves belong to their users (runner/, blocks/).
 *
 * Validated libconfig files.
 *
 * A schema lists every allowed key by dotted path with its type and range;
 * cfg_validate() walks the whole parsed tree and reports the first unknown key,
 * wrong type or out-of-range value as "FILE:LINE: key: what was expected".
 * Getters return the schema's default when a key is absent. */
#ifndef DNL_CFG_H
#define DNL_CFG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/core/status.h"

typedef enum {
  CFG_INT,
  CFG_FLOAT, /* integers are accepted too */
  CFG_BOOL,
  CFG_STRING,
  CFG_INT_ARRAY,
  CFG_FLOAT_ARRAY,
  CFG_STRING_ARRAY,
  CFG_GROUP,
} cfg_type;

typedef struct cfg_key {
  const char *path; /* "solver.lr" */
  cfg_type type;
  double min, max;              /* numbers and array elements; min > max: no range */
  const char *const *choices;   /* strings: NULL-terminated allowed values, or NULL */
  const char *help;             /* one line, printed by `runner config --keys` */
} cfg_key;

typedef struct cfg_schema {
  const cfg_key *keys;
  size_t count;
} cfg_schema;

/* Parses a file (with @include relative to the file's folder). */
dnl_status cfg_load(config_t *c, const char *path);
/* cfg_load, then, when the file has `base = "other.cfg";` (relative to the file's
 * folder), the keys of that file (itself loaded the same way and validated on its
 * own against schema, so its errors keep its file and line) that this file does
 * not set. The `base` key is removed from the result. */
dnl_status cfg_load_layered(config_t *c, const char *path, const cfg_schema *schema);

/* Parses text; `name` is used in messages. */
dnl_status cfg_parse_string(config_t *c, const char *text, const char *name);

dnl_status cfg_validate(const config_t *c, const cfg_schema *schema);

const cfg_key *cfg_schema_find(const cfg_schema *schema, const char *path);

/* Where a setting was defined: "FILE:LINE" (or the name when unknown). */
const char *cfg_where(const config_setting_t *s, char *buf, size_t len);

/* Getters (absent -> def). Types were checked by cfg_validate. */
long cfg_get_int(const config_t *c, const char *path, long def);
double cfg_get_float(const config_t *c, const char *path, double def);
bool cfg_get_bool(const config_t *c, const char *path, bool def);
const char *cfg_get_string(const config_t *c, const char *path, const char *def);
/* Copies up to max elements; returns the count (0 when absent). */
int cfg_get_float_array(const config_t *c, const char *path, double *out, int max);
int cfg_get_int_array(const config_t *c, const char *path, long *out, int max);
/* The strings stay owned by c; returns the count (0 when absent). */
int cfg_get_string_array(const config_t *c, const char *path, const char **out, int max);

/* Sets path (creating groups) to a copy of a scalar or array setting. */
dnl_status cfg_set_from(config_t *c, const char *path, const config_setting_t *value);

/* The whole configuration as libconfig text (malloc'd). */
dnl_status cfg_to_string(const config_t *c, char **out);

#endif
