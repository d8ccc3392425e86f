#include "runner/sweep.h"

#include <fnmatch.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config/cfg.h"
#include "runner/run_config.h"
#include "runner/sweep_stages.h"

static dnl_status at(const config_setting_t *s, const char *fmt, const char *what) {
  char where[512];
  return dnl_error(DNL_ERR_ARG, "%s: %s %s", cfg_where(s, where, sizeof where), fmt, what);
}

/* Members of a value of an axis without key that are not config keys. */
static bool is_value_own(const char *member) {
  return !strcmp(member, "base") || !strcmp(member, "after");
}

static dnl_status check_key(const config_setting_t *where, const char *key) {
  if (!cfg_schema_find(run_config_schema(), key))
    return at(where, "unknown config key", key);
  return DNL_OK;
}

/* Checks every member of a group value under prefix ("" = the config's root);
 * skip_name leaves out a matrix value's own `name`. */
static dnl_status check_group(const config_setting_t *g, const char *prefix, bool skip_name) {
  for (int m = 0; m < config_setting_length(g); m++) {
    const config_setting_t *mem = config_setting_get_elem(g, (unsigned)m);
    const char *mn = config_setting_name(mem);
    if (skip_name && (!strcmp(mn, "name") || (!prefix[0] && is_value_own(mn))))
      continue;
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "." : "", mn);
    if (config_setting_type(mem) == CONFIG_TYPE_GROUP &&
        cfg_schema_find(run_config_schema(), full) &&
        cfg_schema_find(run_config_schema(), full)->type == CFG_GROUP)
      DNL_TRY(check_group(mem, full, false));
    else
      DNL_TRY(check_key(mem, full));
  }
  return DNL_OK;
}

static dnl_status load_axis(sweep *sw, const config_setting_t *ax) {
  if (sw->naxes == SWEEP_MAX_AXES)
    return at(ax, "too many matrix axes, at most", "8");
  sweep_axis *a = &sw->axes[sw->naxes];
  const char *key = "";
  if (config_setting_type(ax) != CONFIG_TYPE_GROUP)
    return at(ax, "matrix entry needs", "{ key = \"...\"; values = ...; }");
  config_setting_lookup_string(ax, "key", &key);
  if (strlen(key) >= sizeof a->key)
    return at(ax, "key too long:", key);
  strcpy(a->key, key);
  a->values = config_setting_get_member(ax, "values");
  if (!a->values || (config_setting_type(a->values) != CONFIG_TYPE_ARRAY &&
                     config_setting_type(a->values) != CONFIG_TYPE_LIST))
    return at(ax, "matrix entry needs values = [ ... ] or ( ... ) for", key);
  a->count = config_setting_length(a->values);
  if (a->count == 0)
    return at(a->values, "empty values for", key);
  for (int i = 0; i < a->count; i++) {
    const config_setting_t *v = config_setting_get_elem(a->values, (unsigned)i);
    if (config_setting_type(v) == CONFIG_TYPE_GROUP)
      DNL_TRY(check_group(v, key, true));
    else if (!key[0])
      return at(v, "a matrix entry without key needs group values", "{ ... }");
    else
      DNL_TRY(check_key(v, key));
  }
  sw->naxes++;
  return DNL_OK;
}

dnl_status sweep_load(sweep *sw, const char *path) {
  memset(sw, 0, sizeof *sw);
  DNL_TRY(cfg_load(&sw->file, path));
  snprintf(sw->path, sizeof sw->path, "%s", path);
  const config_setting_t *root = config_lookup(&sw->file, "sweep");
  if (!root || config_setting_type(root) != CONFIG_TYPE_GROUP)
    return dnl_error(DNL_ERR_ARG,
                     "%s: no sweep = { ... } group (is it a run config? use "
                     "runner train)",
                     path);
  for (int i = 0; i < config_setting_length(root); i++) {
    const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
    const char *n = config_setting_name(m);
    if (strcmp(n, "name") && strcmp(n, "base") && strcmp(n, "set") && strcmp(n, "matrix") &&
        strcmp(n, "stages") && strcmp(n, "after") && strcmp(n, "init_only"))
      return at(m, "unknown sweep key", n);
  }
  const char *name = NULL, *base = NULL;
  if (!config_setting_lookup_string(root, "name", &name) || !name[0])
    return at(root, "sweep needs", "name = \"...\"");
  if (!config_setting_lookup_string(root, "base", &base))
    return at(root, "sweep needs", "base = \"path/to/config.cfg\"");
  snprintf(sw->name, sizeof sw->name, "%s", name);
  char *copy = strdup(path);
  if (!copy)
    return dnl_error(DNL_ERR_NOMEM, "sweep path");
  if (base[0] == '/')
    snprintf(sw->base, sizeof sw->base, "%s", base);
  else
    snprintf(sw->base, sizeof sw->base, "%s/%s", dirname(copy), base);
  free(copy);
  sw->set = config_setting_get_member(root, "set");
  if (sw->set && config_setting_type(sw->set) != CONFIG_TYPE_GROUP)
    return at(sw->set, "sweep key set must be", "a group { ... }");
  if (sw->set)
    DNL_TRY(check_group(sw->set, "", false));
  const config_setting_t *matrix = config_setting_get_member(root, "matrix");
  if (!matrix || config_setting_type(matrix) != CONFIG_TYPE_LIST ||
      config_setting_length(matrix) == 0)
    return at(root, "sweep needs a non-empty", "matrix = ( { key = ...; values = ...; }, ... )");
  for (int i = 0; i < config_setting_length(matrix); i++)
    DNL_TRY(load_axis(sw, config_setting_get_elem(matrix, (unsigned)i)));
  sw->nruns = 1;
  for (int i = 0; i < sw->naxes; i++)
    sw->nruns *= sw->axes[i].count;
  DNL_TRY(sweep_stages_load(sw, root));
  for (int i = 0; i < sw->nstages; i++)
    if (sw->stages[i].set)
      DNL_TRY(check_group(sw->stages[i].set, "", false));
  sw->njobs = sw->nstage_runs + sw->nruns;
  /* every run must make a valid config: check them all now */
  for (long j = 0; j < sw->njobs; j++) {
    sweep_run run;
    dnl_status st = sweep_job_make(sw, j, "results", &run);
    sweep_run_free(&run);
    if (st != DNL_OK)
      return st;
  }
  return DNL_OK;
}

void sweep_free(sweep *sw) { config_destroy(&sw->file); }

/* Applies every member of a group setting under prefix; skip_name leaves out
 * the group's own `name` member (a matrix value's label). */
static dnl_status apply_group(config_t *c, const char *prefix, const config_setting_t *g,
                              bool skip_name) {
  for (int i = 0; i < config_setting_length(g); i++) {
    const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
    const char *n = config_setting_name(m);
    if (skip_name && (!strcmp(n, "name") || (!prefix[0] && is_value_own(n))))
      continue;
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "." : "", n);
    if (config_setting_type(m) == CONFIG_TYPE_GROUP)
      DNL_TRY(apply_group(c, full, m, false));
    else
      DNL_TRY(cfg_set_from(c, full, m));
  }
  return DNL_OK;
}

static void value_label(const sweep_axis *a, const config_setting_t *v, char *out, size_t len) {
  const char *tail = strrchr(a->key, '.');
  tail = tail ? tail + 1 : a->key;
  switch (config_setting_type(v)) {
  case CONFIG_TYPE_STRING:
    snprintf(out, len, "%s", config_setting_get_string(v));
    break;
  case CONFIG_TYPE_INT:
  case CONFIG_TYPE_INT64:
    snprintf(out, len, "%.60s%lld", tail, (long long)config_setting_get_int64(v));
    break;
  case CONFIG_TYPE_FLOAT:
    snprintf(out, len, "%.60s%g", tail, config_setting_get_float(v));
    break;
  case CONFIG_TYPE_BOOL:
    snprintf(out, len, "%.60s-%s", tail, config_setting_get_bool(v) ? "on" : "off");
    break;
  case CONFIG_TYPE_GROUP: {
    const char *n = NULL;
    if (config_setting_lookup_string(v, "name", &n)) {
      snprintf(out, len, "%s", n);
      break;
    }
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < config_setting_length(v) && used < len; i++) {
      const config_setting_t *m = config_setting_get_elem(v, (unsigned)i);
      char sub[64];
      sweep_axis fake;
      snprintf(fake.key, sizeof fake.key, "%s", config_setting_name(m));
      value_label(&fake, m, sub, sizeof sub);
      used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "-" : "", sub);
    }
    break;
  }
  default:
    snprintf(out, len, "%s", tail);
  }
  /* names become file names: keep them plain */
  for (char *p = out; *p; p++)
    if (*p == '/' || *p == ' ')
      *p = '_';
}

static bool is_seed_axis(const sweep_axis *a) { return !strcmp(a->key, "seed"); }

/* A run's base config: the sweep's, or a `base` member of one of its values
 * (in an axis without key), relative to the sweep file's folder; use[i] says
 * whether axis i takes part. */
static void run_base(const sweep *sw, const int *pos, const bool *use, char *out, size_t len) {
  snprintf(out, len, "%s", sw->base);
  for (int i = 0; i < sw->naxes; i++) {
    if (!use[i])
      continue;
    const config_setting_t *v = config_setting_get_elem(sw->axes[i].values, (unsigned)pos[i]);
    const char *b = NULL;
    if (!sw->axes[i].key[0] && config_setting_type(v) == CONFIG_TYPE_GROUP &&
        config_setting_lookup_string(v, "base", &b)) {
      char *copy = strdup(sw->path);
      if (b[0] == '/' || !copy)
        snprintf(out, len, "%s", b);
      else
        snprintf(out, len, "%s/%s", dirname(copy), b);
      free(copy);
    }
  }
}

/* Sets path to a string value. */
static dnl_status set_string(config_t *c, const char *path, const char *value) {
  config_t tmp;
  config_init(&tmp);
  config_setting_t *s = config_setting_add(config_root_setting(&tmp), "v", CONFIG_TYPE_STRING);
  dnl_status st = s && config_setting_set_string(s, value) == CONFIG_TRUE
                      ? cfg_set_from(c, path, s)
                      : dnl_error(DNL_ERR_NOMEM, "config string %s", path);
  config_destroy(&tmp);
  return st;
}

/* The config of a job: base, the sweep's set, the values of the axes in use,
 * the stage's own set; the names; the weights of the stage run it starts from. */
static dnl_status make_config(const sweep *sw, const int *pos, const bool *use,
                              const config_setting_t *stage_set, const char *out_dir,
                              sweep_run *out) {
  char base[1024];
  run_base(sw, pos, use, base, sizeof base);
  dnl_status st = cfg_load_layered(&out->config, base, run_config_schema());
  if (st != DNL_OK)
    return dnl_error_context(st, "%s: base config", sw->path);
  if (sw->set)
    DNL_TRY(apply_group(&out->config, "", sw->set, false));
  size_t nu = strlen(out->name), lu = 0;
  bool explicit_label = false;
  for (int i = 0; i < sw->naxes; i++) {
    if (!use[i])
      continue;
    const sweep_axis *a = &sw->axes[i];
    const config_setting_t *v = config_setting_get_elem(a->values, (unsigned)pos[i]);
    if (config_setting_type(v) == CONFIG_TYPE_GROUP) {
      DNL_TRY(apply_group(&out->config, a->key, v, true));
    } else {
      DNL_TRY(cfg_set_from(&out->config, a->key, v));
    }
    char lab[128];
    value_label(a, v, lab, sizeof lab);
    nu += (size_t)snprintf(out->name + nu, sizeof out->name - nu, "%s%s", nu ? "-" : "", lab);
    if (config_setting_type(v) == CONFIG_TYPE_GROUP &&
        config_setting_lookup((config_setting_t *)v, "output.label"))
      explicit_label = true; /* the value names the group itself */
    if (out->stage < 0 && !is_seed_axis(a) && lu < sizeof out->label)
      lu += (size_t)snprintf(out->label + lu, sizeof out->label - lu, "%s%s", lu ? "-" : "", lab);
  }
  if (stage_set)
    DNL_TRY(apply_group(&out->config, "", stage_set, false));
  char sub[160];
  snprintf(sub, sizeof sub, "%s%s", sw->name, out->stage >= 0 ? "/stages" : "");
  DNL_TRY(set_string(&out->config, "name", out->name));
  DNL_TRY(set_string(&out->config, "output.sweep", sub));
  DNL_TRY(set_string(&out->config, "output.dir", out_dir));
  if (out->label[0] && !explicit_label)
    DNL_TRY(set_string(&out->config, "output.label", out->label));
  return DNL_OK;
}

/* model.init: the final weights (checkpoint) of the stage run `after`. */
static dnl_status set_init(const sweep *sw, long after, const config_setting_t *only,
                           const char *out_dir, sweep_run *out) {
  out->after = after;
  if (after < 0)
    return DNL_OK;
  sweep_run dep;
  DNL_TRY(sweep_job_make(sw, after, out_dir, &dep));
  char ckpt[1400];
  sweep_job_path(sw, out_dir, dep.name, true, ".ckpt", ckpt, sizeof ckpt);
  sweep_run_free(&dep);
  DNL_TRY(set_string(&out->config, "model.init", ckpt));
  return only ? cfg_set_from(&out->config, "model.init_only", only) : DNL_OK;
}

static int stage_of_job(const sweep *sw, long job) {
  for (int s = 0; s < sw->nstages; s++)
    if (job >= sw->stages[s].first && job < sw->stages[s].first + sw->stages[s].nruns)
      return s;
  return -1;
}

dnl_status sweep_job_make(const sweep *sw, long job, const char *out_dir, sweep_run *out) {
  memset(out, 0, sizeof *out); /* the config is initialised by cfg_load_layered */
  out->stage = -1;
  out->after = -1;
  int pos[SWEEP_MAX_AXES] = {0};
  bool use[SWEEP_MAX_AXES] = {false};
  dnl_status st;
  if (job < sw->nstage_runs) {
    const int s = stage_of_job(sw, job);
    const sweep_stage *stage = &sw->stages[s];
    out->stage = s;
    sweep_stage_positions(sw, s, job - stage->first, pos);
    for (int i = 0; i < stage->nover; i++)
      use[stage->over[i]] = true;
    snprintf(out->name, sizeof out->name, "%s", stage->name);
    snprintf(out->label, sizeof out->label, "%s", stage->name);
    st = make_config(sw, pos, use, stage->set, out_dir, out);
    if (st == DNL_OK)
      st = set_init(sw, stage->after >= 0 ? sweep_stage_job(sw, stage->after, pos) : -1,
                    stage->init_only, out_dir, out);
  } else {
    long rest = job - sw->nstage_runs;
    for (int i = sw->naxes - 1; i >= 0; i--) {
      pos[i] = (int)(rest % sw->axes[i].count);
      rest /= sw->axes[i].count;
      use[i] = true;
    }
    st = make_config(sw, pos, use, NULL, out_dir, out);
    const int s = sweep_run_stage(sw, pos);
    if (st == DNL_OK)
      st = set_init(sw, s >= 0 ? sweep_stage_job(sw, s, pos) : -1, sw->init_only, out_dir, out);
  }
  run_config rc;
  if (st == DNL_OK)
    st = run_config_read(&out->config, &rc);
  if (st != DNL_OK)
    return dnl_error_context(st, "%s: %s%s", sw->path, out->stage >= 0 ? "stage run " : "run ",
                             out->name);
  return DNL_OK;
}

dnl_status sweep_run_make(const sweep *sw, long index, const char *out_dir, sweep_run *out) {
  return sweep_job_make(sw, sw->nstage_runs + index, out_dir, out);
}

void sweep_job_path(const sweep *sw, const char *out_dir, const char *name, bool stage,
                    const char *ext, char *out, size_t len) {
  snprintf(out, len, "%s/%s/%s%s%s", out_dir, sw->name, stage ? "stages/" : "", name, ext);
}

void sweep_run_free(sweep_run *r) { config_destroy(&r->config); }

int sweep_name_matches(const char *name, const char *pattern) {
  return fnmatch(pattern, name, 0) == 0;
}
