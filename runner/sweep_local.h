/* runner sweep on one machine: the plan's jobs as child processes, --jobs at a
 * time, stage runs before the runs that start from them. */
#ifndef DNL_SWEEP_LOCAL_H
#define DNL_SWEEP_LOCAL_H

#include <stdbool.h>

#include "runner/sweep.h"
#include "runner/sweep_plan.h"

#define SWEEP_MAX_JOBS 64

typedef struct sweep_local_opts {
  int jobs;    /* at a time */
  int threads; /* in all */
  bool quiet;
} sweep_local_opts;

/* Runs every selected unfinished job; returns the exit status (1 when a job
 * failed or was skipped because the stage run it starts from failed). */
int sweep_run_local(const sweep *sw, const sweep_plan *p, const sweep_local_opts *o);

#endif
