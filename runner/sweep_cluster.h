/* The sweep command's modes for clusters (docs/cluster.md): --worker,
 * --slurm and --status, their options, and their dispatch. */
#ifndef DNL_SWEEP_CLUSTER_H
#define DNL_SWEEP_CLUSTER_H

#include <stdbool.h>
#include <stdio.h>

#include "runner/sweep.h"

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

void sweep_cluster_defaults(sweep_cluster_args *c);

/* Consumes argv[*i] (and its value) when it is one of these options: 1, and
 * *i moved past it; 0 when it is not; 2 after printing why its value is bad. */
int sweep_cluster_parse(int argc, char **argv, int *i, sweep_cluster_args *c);

/* Refuses combinations that make no sense (2, after printing why). */
int sweep_cluster_check(const sweep_cluster_args *c, const sweep_common_args *a);

void sweep_cluster_usage(FILE *f);

/* Whether one of the modes was asked for. */
bool sweep_cluster_mode(const sweep_cluster_args *c);

/* Runs the mode; the exit status. */
int sweep_cluster_main(const sweep *sw, const sweep_common_args *a, const sweep_cluster_args *c);

#endif
