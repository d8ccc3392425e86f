/* The options of the sweep command's cluster modes (runner/sweep_cluster.h)
 * and what the command shares with them. Kept apart from sweep_cluster.h so
 * that the modes it dispatches to (runner/sweep_slurm, runner/sweep_status)
 * take the options without depending back on the dispatcher. */
#ifndef DNL_SWEEP_CLUSTER_OPTS_H
#define DNL_SWEEP_CLUSTER_OPTS_H

#include <stdbool.h>

#define SWEEP_MAX_EXTRA 16

typedef struct sweep_cluster_args {
  bool worker, status, slurm;
  double claim_timeout; /* seconds */
  int retries;
  int gpus_per_run, cpus_per_run, max_parallel;
  const char *launcher, *partition, *time, *account;
  const char *extra[SWEEP_MAX_EXTRA];
  int nextra;
  bool requeue;
  const char *slurm_option; /* the first option that needs --slurm, for the error */
} sweep_cluster_args;

/* What the sweep command shares with these modes. */
typedef struct sweep_common_args {
  const char *file, *out_dir, *only;
  int threads, jobs;
  bool dry_run, quiet;
  double started; /* sweep_now() when the command started */
} sweep_common_args;

#endif
