/* runner sweep --worker: claims one pending run at a time (runner/sweep_claim.h)
 * and trains and evaluates it, until no run is left; any number of workers on
 * any number of machines may share one results folder (docs/cluster.md). */
#ifndef DNL_SWEEP_WORKER_H
#define DNL_SWEEP_WORKER_H

#include <stdbool.h>

#include "runner/sweep.h"
#include "runner/sweep_plan.h"

/* The exit status of a worker stopped by SIGTERM or SIGINT before every run
 * was done (its run checkpointed): the Slurm script requeues on it. */
#define SWEEP_EXIT_INTERRUPTED 75

typedef struct sweep_worker_opts {
  int threads;          /* per run; 0: the Slurm task's CPUs, else the cores */
  double claim_timeout; /* a claim whose heartbeat is older is stale (seconds) */
  int retries;          /* a failed run is tried 1 + retries times in all */
  int gpus_per_run;     /* > 1: the run trains data-parallel under the launcher */
  const char *launcher; /* command prefix for those ranks, NULL: srun in Slurm, else mpirun */
  bool quiet;
  double started; /* sweep_now() when the command started: its start-up counts as machinery */
} sweep_worker_opts;

/* Works until every selected run is finished, failed for good or skipped;
 * returns the exit status: 0, 1 (a run failed or was skipped) or
 * SWEEP_EXIT_INTERRUPTED. */
int sweep_run_worker(const sweep *sw, const sweep_plan *p, const sweep_worker_opts *o);

#endif
