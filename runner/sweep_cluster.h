/* The sweep command's modes for clusters (docs/cluster.md): --worker,
 * --slurm and --status, their options, and their dispatch. */
#ifndef DNL_SWEEP_CLUSTER_H
#define DNL_SWEEP_CLUSTER_H

#include <stdbool.h>
#include <stdio.h>

#include "runner/sweep.h"
#include "runner/sweep_cluster_opts.h"

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
