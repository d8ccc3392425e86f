/* A sweep: a base config and a matrix of values to vary, expanded into runs.
 *
 *   sweep = {
 *     name = "ablation";                 # results/<name>/
 *     base = "base/synth_tiny.cfg";      # relative to the sweep file
 *     set = { solver = { iterations = 300; }; };   # optional: applied to every run
 *     matrix = (
 *       { key = "block"; values = (       # group values: members set under key
 *           { name = "none"; variant = "none"; },
 *           { name = "dnl-ln"; variant = "dnl"; whiten = "ln"; } ); },
 *       { key = "seed"; values = [1, 2, 3]; }        # scalar values
 *     );
 *   };
 *
 * An axis without key has group values holding full key paths, and a value may
 * name its own `base` config (experiments/readme.cfg: one row per dataset).
 * The runs are the product of the axes, in order (the last axis varies
 * fastest). A run's name joins one label per axis: a group's `name`, a
 * string value as it is, a number as <key's last part><value> (seed1). */
#ifndef DNL_SWEEP_H
#define DNL_SWEEP_H

#include <libconfig.h>

#include "lib/core/status.h"

#define SWEEP_MAX_AXES 8

typedef struct sweep_axis {
  char key[128];
  const config_setting_t *values; /* array or list inside the sweep file's config */
  int count;
} sweep_axis;

typedef struct sweep {
  config_t file;      /* the parsed sweep file */
  char path[1024];    /* of the sweep file */
  char name[128];
  char base[1024];    /* base config path, resolved against the sweep file's folder */
  const config_setting_t *set; /* or NULL */
  sweep_axis axes[SWEEP_MAX_AXES];
  int naxes;
  long nruns;
} sweep;

/* One expanded run. */
typedef struct sweep_run {
  char name[256];
  char label[128];  /* the group the plots draw it in: the label of the non-seed axes */
  config_t config;  /* base + set + this run's values + name/output.sweep/output.label */
} sweep_run;

/* Parses and checks the sweep file: every axis key (and every member of a group
 * value) must be a config key; errors name the file, line and key. */
dnl_status sweep_load(sweep *sw, const char *path);
void sweep_free(sweep *sw);

/* Run `index` (0 <= index < nruns), its config validated. */
dnl_status sweep_run_make(const sweep *sw, long index, const char *out_dir, sweep_run *out);
void sweep_run_free(sweep_run *r);

/* Whether a run's name matches a shell-style pattern (fnmatch), e.g. "dnl*". */
int sweep_name_matches(const char *name, const char *pattern);

#endif
