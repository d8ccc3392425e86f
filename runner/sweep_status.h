/* runner sweep --status: every run's state from the results folder alone
 * (runner/sweep_state.h), and Slurm's view (squeue) when it is there. */
#ifndef DNL_SWEEP_STATUS_H
#define DNL_SWEEP_STATUS_H

#include "runner/sweep.h"
#include "runner/sweep_cluster_opts.h"
#include "runner/sweep_plan.h"

/* Prints the table; the exit status. */
int sweep_print_status(const sweep *sw, const sweep_plan *p, const sweep_cluster_args *c);

#endif
