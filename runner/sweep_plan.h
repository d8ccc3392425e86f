/* What a sweep has to do now: every job (stage runs first, then the matrix
 * runs) with its files, the stage run it starts from, whether it is finished
 * and whether it is selected (by --only, or as the stage run of a selected
 * run that still has to train). The sweep command's modes share it. */
#ifndef DNL_SWEEP_PLAN_H
#define DNL_SWEEP_PLAN_H

#include <stdbool.h>

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
 * matches). prepare: also write each selected unfinished job's config file
 * beside its result and generate the synthetic datasets they use. */
dnl_status sweep_plan_make(const sweep *sw, const char *out_dir, const char *only, bool prepare,
                           sweep_plan *p);
void sweep_plan_free(sweep_plan *p);

/* Whether a result file says finished. */
bool sweep_result_finished(const char *result_path);

/* Writes text to path through a temporary file and a rename. */
dnl_status sweep_write_atomic(const char *path, const char *text);

#endif
