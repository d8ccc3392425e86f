/* runner sweep --slurm: Slurm array jobs of workers, one task per pending run
 * (docs/cluster.md). The matrix runs go to results/<sweep>/slurm/<sweep>.sbatch;
 * stage runs, which the others start from, to <sweep>.stages<D>.sbatch (D: 1
 * for stages that start from no stage, 2 for those that start from those...),
 * each array submitted with --dependency=afterany on the one before, and each
 * task's worker checks its stage run itself (a run whose stage run failed is
 * skipped, never started). */
#ifndef DNL_SWEEP_SLURM_H
#define DNL_SWEEP_SLURM_H

#include "runner/sweep.h"
#include "runner/sweep_cluster_opts.h"
#include "runner/sweep_plan.h"

/* Writes the scripts and submits them with sbatch (a.dry_run: prints them and
 * the sbatch commands instead); the exit status. */
int sweep_slurm_submit(const sweep *sw, const sweep_plan *p, const sweep_common_args *a,
                       const sweep_cluster_args *c);

/* results/<sweep>/slurm/<sweep>.jobs: "job J task T run NAME" per submitted task. */
void sweep_slurm_jobs_path(const sweep *sw, const sweep_plan *p, char *out, size_t len);

/* Whether a program is on PATH. */
bool sweep_on_path(const char *program);

#endif
