/* The loaded sweep file (its format: runner/sweep.h): axes, stages and the
 * sweep itself. Kept apart from runner/sweep.h so that runner/sweep_stages,
 * which sweep.c calls to read the stages, depends on these types only and not
 * back on sweep.c. */
#ifndef DNL_SWEEP_TYPES_H
#define DNL_SWEEP_TYPES_H

#include <libconfig.h>

#define SWEEP_MAX_AXES 8
#define SWEEP_MAX_STAGES 16

typedef struct sweep_axis {
  char key[128];
  const config_setting_t *values; /* array or list inside the sweep file's config */
  int count;
} sweep_axis;

typedef struct sweep_stage {
  char name[64];
  const config_setting_t *where;     /* its entry in the sweep file, for messages */
  const config_setting_t *set;       /* or NULL */
  const config_setting_t *init_only; /* or NULL */
  int over[SWEEP_MAX_AXES];          /* matrix axes it is expanded along, in matrix order */
  int nover;
  int after;  /* the stage it starts from, -1: none */
  long nruns; /* the product of its `over` axes' counts */
  long first; /* its runs are jobs first .. first + nruns - 1 */
} sweep_stage;

typedef struct sweep {
  config_t file;   /* the parsed sweep file */
  char path[1024]; /* of the sweep file */
  char name[128];
  char base[1024];             /* base config path, resolved against the sweep file's folder */
  const config_setting_t *set; /* or NULL */
  sweep_axis axes[SWEEP_MAX_AXES];
  int naxes;
  long nruns; /* matrix runs */
  sweep_stage stages[SWEEP_MAX_STAGES];
  int nstages;
  int after;                         /* the stage the matrix runs start from, -1: none */
  const config_setting_t *init_only; /* or NULL */
  long nstage_runs;                  /* jobs 0 .. nstage_runs - 1 are stage runs */
  long njobs;                        /* nstage_runs + nruns */
} sweep;

#endif
