#include "runner/sweep_stages.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/config/cfg.h"

/* "FILE:LINE: stage "NAME": <message>" (name NULL: without the stage). */
static dnl_status stage_error(const config_setting_t *s, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dnl_status stage_error(const config_setting_t *s, const char *stage, const char *fmt, ...) {
  char where[512], msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cfg_where(s, where, sizeof where);
  if (stage)
    return dnl_error(DNL_ERR_ARG, "%s: stage \"%s\": %s", where, stage, msg);
  return dnl_error(DNL_ERR_ARG, "%s: %s", where, msg);
}

static void stage_names(const sweep *sw, char *out, size_t len) {
  size_t u = 0;
  out[0] = '\0';
  for (int i = 0; i < sw->nstages && u < len; i++)
    u += (size_t)snprintf(out + u, len - u, "%s%s", i ? ", " : "", sw->stages[i].name);
  if (!sw->nstages)
    snprintf(out, len, "none");
}

static int find_stage(const sweep *sw, const char *name) {
  for (int i = 0; i < sw->nstages; i++)
    if (!strcmp(sw->stages[i].name, name))
      return i;
  return -1;
}

/* Resolves an `after` string (s) to a stage index; "" is none (-1). */
static dnl_status resolve_after(const sweep *sw, const config_setting_t *s, const char *stage,
                                int *out) {
  const char *name = config_setting_get_string(s);
  *out = -1;
  if (!name[0])
    return DNL_OK;
  *out = find_stage(sw, name);
  if (*out >= 0)
    return DNL_OK;
  char known[512];
  stage_names(sw, known, sizeof known);
  return stage_error(s, stage, "after = \"%s\" names no stage (stages: %s)", name, known);
}

static dnl_status check_strings(const config_setting_t *s, const char *stage, const char *what) {
  int t = config_setting_type(s);
  bool ok = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
  for (int i = 0; ok && i < config_setting_length(s); i++)
    ok = config_setting_type(config_setting_get_elem(s, (unsigned)i)) == CONFIG_TYPE_STRING;
  if (!ok)
    return stage_error(s, stage, "%s must be an array of strings [\"...\", ...]", what);
  return DNL_OK;
}

static bool plain_name(const char *n) {
  if (!n[0])
    return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.'))
      return false;
  return true;
}

static dnl_status read_over(sweep *sw, sweep_stage *st, const config_setting_t *over) {
  DNL_TRY(check_strings(over, st->name, "over"));
  for (int a = 0; a < sw->naxes; a++) {
    for (int i = 0; i < config_setting_length(over); i++) {
      if (!strcmp(config_setting_get_string_elem(over, i), sw->axes[a].key)) {
        st->over[st->nover++] = a;
        break;
      }
    }
  }
  for (int i = 0; i < config_setting_length(over); i++) {
    const char *key = config_setting_get_string_elem(over, i);
    bool found = false;
    for (int a = 0; a < sw->naxes && !found; a++)
      found = key[0] && !strcmp(key, sw->axes[a].key);
    if (found)
      continue;
    char axes[512];
    size_t u = 0;
    axes[0] = '\0';
    for (int a = 0; a < sw->naxes && u < sizeof axes; a++)
      if (sw->axes[a].key[0])
        u += (size_t)snprintf(axes + u, sizeof axes - u, "%s%s", u ? ", " : "", sw->axes[a].key);
    return stage_error(over, st->name, "over names \"%s\", which is no matrix axis (axes: %s)", key,
                       u ? axes : "none with a key");
  }
  st->nruns = 1;
  for (int i = 0; i < st->nover; i++)
    st->nruns *= sw->axes[st->over[i]].count;
  return DNL_OK;
}

/* One entry of `stages`; `after` is resolved once all names are known. */
static dnl_status read_stage(sweep *sw, const config_setting_t *e) {
  if (sw->nstages == SWEEP_MAX_STAGES)
    return stage_error(e, NULL, "too many stages, at most %d", SWEEP_MAX_STAGES);
  if (config_setting_type(e) != CONFIG_TYPE_GROUP)
    return stage_error(e, NULL, "a stage needs { name = \"...\"; set = { ... }; over = [...]; }");
  sweep_stage *st = &sw->stages[sw->nstages];
  memset(st, 0, sizeof *st);
  st->where = e;
  st->after = -1;
  const char *name = NULL;
  if (!config_setting_lookup_string(e, "name", &name) || !plain_name(name) ||
      strlen(name) >= sizeof st->name)
    return stage_error(e, NULL,
                       "a stage needs name = \"...\" (letters, digits, _ - . only; at "
                       "most %zu characters)",
                       sizeof st->name - 1);
  if (find_stage(sw, name) >= 0)
    return stage_error(e, name, "a second stage of that name");
  snprintf(st->name, sizeof st->name, "%s", name);
  for (int i = 0; i < config_setting_length(e); i++) {
    const config_setting_t *m = config_setting_get_elem(e, (unsigned)i);
    const char *n = config_setting_name(m);
    if (!strcmp(n, "set")) {
      if (config_setting_type(m) != CONFIG_TYPE_GROUP)
        return stage_error(m, name, "set must be a group { ... }");
      st->set = m;
    } else if (!strcmp(n, "over")) {
      DNL_TRY(read_over(sw, st, m));
    } else if (!strcmp(n, "init_only")) {
      DNL_TRY(check_strings(m, name, "init_only"));
      st->init_only = m;
    } else if (!strcmp(n, "after")) {
      if (config_setting_type(m) != CONFIG_TYPE_STRING)
        return stage_error(m, name, "after must be the name of one stage, \"...\"");
    } else if (strcmp(n, "name")) {
      return stage_error(m, name, "unknown stage key %s (name, set, over, after, init_only)", n);
    }
  }
  if (!config_setting_get_member(e, "over"))
    st->nruns = 1;
  sw->nstages++;
  return DNL_OK;
}

static bool over_includes(const sweep_stage *outer, const sweep_stage *inner) {
  for (int i = 0; i < inner->nover; i++) {
    bool found = false;
    for (int j = 0; j < outer->nover && !found; j++)
      found = outer->over[j] == inner->over[i];
    if (!found)
      return false;
  }
  return true;
}

/* Resolves every stage's `after`, refuses cycles and chains whose runs
 * cannot be matched, and gives each stage its first job. */
static dnl_status link_stages(sweep *sw) {
  for (int i = 0; i < sw->nstages; i++) {
    sweep_stage *st = &sw->stages[i];
    const config_setting_t *after = config_setting_get_member(st->where, "after");
    if (after)
      DNL_TRY(resolve_after(sw, after, st->name, &st->after));
  }
  int depth[SWEEP_MAX_STAGES];
  for (int i = 0; i < sw->nstages; i++) {
    const sweep_stage *st = &sw->stages[i];
    char chain[1024];
    size_t u = (size_t)snprintf(chain, sizeof chain, "%s", st->name);
    int at = st->after, steps = 0;
    while (at >= 0 && steps <= sw->nstages) {
      if (u < sizeof chain)
        u += (size_t)snprintf(chain + u, sizeof chain - u, " -> %s", sw->stages[at].name);
      if (at == i)
        return stage_error(config_setting_get_member(st->where, "after"), st->name,
                           "stages start from each other in a cycle: %s", chain);
      at = sw->stages[at].after;
      steps++;
    }
    if (at >= 0) /* a cycle that does not pass through i: reported at its own stage */
      continue;
    depth[i] = steps;
    if (st->after >= 0 && !over_includes(st, &sw->stages[st->after]))
      return stage_error(config_setting_get_member(st->where, "after"), st->name,
                         "starts from stage \"%s\", so its over must include that stage's "
                         "axes (one run of \"%s\" per run of this stage)",
                         sw->stages[st->after].name, sw->stages[st->after].name);
  }
  long first = 0;
  for (int d = 0; d <= sw->nstages; d++) {
    for (int i = 0; i < sw->nstages; i++) {
      if (depth[i] != d)
        continue;
      sw->stages[i].first = first;
      first += sw->stages[i].nruns;
    }
  }
  sw->nstage_runs = first;
  return DNL_OK;
}

/* The `after` members of values of axes without key name known stages. */
static dnl_status check_value_afters(const sweep *sw) {
  for (int a = 0; a < sw->naxes; a++) {
    for (int v = 0; v < sw->axes[a].count; v++) {
      const config_setting_t *val = config_setting_get_elem(sw->axes[a].values, (unsigned)v);
      const config_setting_t *after = config_setting_type(val) == CONFIG_TYPE_GROUP
                                          ? config_setting_get_member(val, "after")
                                          : NULL;
      if (!after)
        continue;
      if (sw->axes[a].key[0])
        continue; /* a member of a keyed group value is a config key, checked as one */
      if (config_setting_type(after) != CONFIG_TYPE_STRING)
        return stage_error(after, NULL, "after must be the name of one stage, \"...\"");
      int s;
      DNL_TRY(resolve_after(sw, after, NULL, &s));
    }
  }
  return DNL_OK;
}

dnl_status sweep_stages_load(sweep *sw, const config_setting_t *root) {
  sw->after = -1;
  sw->nstage_runs = 0;
  const config_setting_t *stages = config_setting_get_member(root, "stages");
  if (stages) {
    if (config_setting_type(stages) != CONFIG_TYPE_LIST)
      return stage_error(stages, NULL, "stages must be a list ( { name = \"...\"; ... }, ... )");
    for (int i = 0; i < config_setting_length(stages); i++)
      DNL_TRY(read_stage(sw, config_setting_get_elem(stages, (unsigned)i)));
    DNL_TRY(link_stages(sw));
  }
  const config_setting_t *after = config_setting_get_member(root, "after");
  if (after) {
    if (config_setting_type(after) != CONFIG_TYPE_STRING)
      return stage_error(after, NULL, "after must be the name of one stage, \"...\"");
    DNL_TRY(resolve_after(sw, after, NULL, &sw->after));
  }
  DNL_TRY(check_value_afters(sw));
  sw->init_only = config_setting_get_member(root, "init_only");
  if (sw->init_only) {
    DNL_TRY(check_strings(sw->init_only, NULL, "init_only"));
    if (!sw->nstages)
      return stage_error(sw->init_only, NULL,
                         "init_only applies to runs that start from a "
                         "stage, and this sweep has no stages");
  }
  return DNL_OK;
}

void sweep_stage_positions(const sweep *sw, int stage, long index, int *pos) {
  const sweep_stage *st = &sw->stages[stage];
  for (int i = st->nover - 1; i >= 0; i--) {
    const int a = st->over[i];
    pos[a] = (int)(index % sw->axes[a].count);
    index /= sw->axes[a].count;
  }
}

long sweep_stage_job(const sweep *sw, int stage, const int *pos) {
  const sweep_stage *st = &sw->stages[stage];
  long index = 0;
  for (int i = 0; i < st->nover; i++)
    index = index * sw->axes[st->over[i]].count + pos[st->over[i]];
  return st->first + index;
}

const char *sweep_value_after(const sweep_axis *a, const config_setting_t *v) {
  const char *after = NULL;
  if (!a->key[0] && config_setting_type(v) == CONFIG_TYPE_GROUP &&
      config_setting_lookup_string(v, "after", &after))
    return after;
  return NULL;
}

int sweep_run_stage(const sweep *sw, const int *pos) {
  int stage = sw->after;
  for (int i = 0; i < sw->naxes; i++) {
    const char *after = sweep_value_after(
        &sw->axes[i], config_setting_get_elem(sw->axes[i].values, (unsigned)pos[i]));
    if (after)
      stage = after[0] ? find_stage(sw, after) : -1;
  }
  return stage;
}
