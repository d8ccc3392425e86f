/* The stages of a sweep (runner/sweep.h): parsing and checking `stages`,
 * `after` and `init_only`, their order, and which stage run a run starts from. */
#ifndef DNL_SWEEP_STAGES_H
#define DNL_SWEEP_STAGES_H

#include "lib/core/status.h"
#include "runner/sweep_types.h"

/* Reads the sweep group's stages, after and init_only (the axes are already
 * loaded); orders the stages so that each comes after the one it starts from
 * and numbers their runs as the first jobs. Errors name the file, line and stage. */
dnl_status sweep_stages_load(sweep *sw, const config_setting_t *root);

/* The matrix axis positions of a stage run (index < its stage's nruns): only
 * the positions of the stage's `over` axes are written. */
void sweep_stage_positions(const sweep *sw, int stage, long index, int *pos);

/* The job of the run of `stage` whose `over` values are those at pos. */
long sweep_stage_job(const sweep *sw, int stage, const int *pos);

/* The stage a matrix run at pos starts from (the sweep's `after`, or the
 * `after` of one of its values), -1 for none. */
int sweep_run_stage(const sweep *sw, const int *pos);

/* The `after` member of a value of an axis without key ("" allowed), or NULL. */
const char *sweep_value_after(const sweep_axis *a, const config_setting_t *v);

#endif
