/* What a sweep has to do now: every job (stage runs first, then the matrix
 * runs) with its files, the stage run it starts from, whether it is finished
 * and whether it is selected (by --only, or as the stage run of a selected
 * run that still has to train). The sweep command's modes share it. */
#ifndef DNL_SWEEP_PLAN_H
#define DNL_SWEEP_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "runner/sweep.h"

typedef struct sweep_job {
  char name[256];
  bool stage;    /* a stage run (files under stages/) */
  long after;    /* the job it starts from, -1: none */
  bool on_gpu;   /* device = "cuda" */
  bool finished; /* its result says finished (a stage run: and its checkpoint is there) */
  bool selected;
  char cfg[1400], result[1400], ckpt[1400], log[1400];
} sweep_job;

typedef struct sweep_plan {
  sweep_job *jobs;
  long njobs;
  long selected, finished, stage_runs; /* counts among the selected jobs */
  char dir[1200];                      /* <out_dir>/<sweep> */
} sweep_plan;

/* Builds the plan; only: --only's pattern or NULL (an error when nothing
 * matches). */
dnl_status sweep_plan_make(const sweep *sw, const char *out_dir, const char *only, sweep_plan *p);
/* Writes each selected unfinished job's config file beside its result and
 * generates the synthetic datasets they use. */
dnl_status sweep_plan_prepare(const sweep *sw, const char *out_dir, const sweep_plan *p);
void sweep_plan_free(sweep_plan *p);

/* The results folder belongs to one sweep: <dir>/sweep.id keeps a hash of
 * every job's resolved config and the sweep file's name. Writes it when
 * absent; an error naming both sweep files when it holds another hash. */
dnl_status sweep_plan_check_folder(const sweep *sw, const sweep_plan *p);

/* Whether a result file says finished. */
bool sweep_result_finished(const char *result_path);
/* The status attribute of a result file (running, finished, failed: ...);
 * false when there is no readable result. */
bool sweep_result_status(const char *result_path, char *status, size_t len);

/* Writes text to path through a temporary file of this process and a rename. */
dnl_status sweep_write_atomic(const char *path, const char *text);

#endif
