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
 * string value as it is, a number as <key's last part><value> (seed1).
 *
 * Stages: runs trained first, whose final weights other runs start from
 * (model.init), as the paper's runs start from an ImageNet backbone:
 *
 *     stages = (
 *       { name = "backbone";               # its runs: results/<name>/stages/
 *         set = { block = { variant = "none"; }; };  # over base + the sweep's set
 *         over = ["seed"];                 # one stage run per value of these axes
 *         after = "other";                 # optional: itself starts from a stage
 *         init_only = ["backbone."]; }     # optional: what it takes from that one
 *     );
 *     after = "backbone";                  # the matrix runs start from this stage
 *     init_only = ["backbone."];           # model.init_only of the runs started so
 *
 * A stage run is named <stage>-<labels of its `over` values> (backbone-seed1)
 * and applies the base, the sweep's `set`, its `over` axes' values and its own
 * `set`, in that order. A run starts from the stage run with the same values
 * of that stage's `over` axes; a chained stage's `over` must therefore include
 * the `over` of the stage it starts from. A value of an axis without key may
 * carry its own `after` ("" = no stage) for the runs with that value, e.g. an
 * axis { name = "scratch"; after = ""; }, { name = "pretrained"; }.
 *
 * Jobs: the stage runs come first (each stage after the one it starts from),
 * then the matrix runs; sweep_job_make builds any of them. */
#ifndef DNL_SWEEP_H
#define DNL_SWEEP_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/core/status.h"
#include "runner/sweep_types.h"

/* One expanded job: a stage run or a matrix run. */
typedef struct sweep_run {
  char name[256];
  char label[128]; /* the group the plots draw it in: the label of the non-seed axes */
  int stage;       /* the stage of a stage run, -1 for a matrix run */
  long after;      /* the job (a stage run) whose weights it starts from, -1: none */
  config_t config; /* base + set + this run's values + name/output.sweep/output.label */
} sweep_run;

/* Parses and checks the sweep file: every axis key (and every member of a group
 * value) must be a config key, stages must name known stages and axes and form
 * no cycle; errors name the file, line and key or stage. */
dnl_status sweep_load(sweep *sw, const char *path);
void sweep_free(sweep *sw);

/* Job `job` (0 <= job < njobs), its config validated. */
dnl_status sweep_job_make(const sweep *sw, long job, const char *out_dir, sweep_run *out);
/* Matrix run `index` (0 <= index < nruns): job nstage_runs + index. */
dnl_status sweep_run_make(const sweep *sw, long index, const char *out_dir, sweep_run *out);
void sweep_run_free(sweep_run *r);

/* <out_dir>/<sweep>/[stages/]<name><ext>: where a job's files are. */
void sweep_job_path(const sweep *sw, const char *out_dir, const char *name, bool stage,
                    const char *ext, char *out, size_t len);

/* Whether a run's name matches a shell-style pattern (fnmatch), e.g. "dnl*". */
int sweep_name_matches(const char *name, const char *pattern);

#endif
