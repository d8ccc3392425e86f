/* The state of a sweep's jobs, read from its results folder alone (result
 * files, claim files, failure records), for the workers and --status. */
#ifndef DNL_SWEEP_STATE_H
#define DNL_SWEEP_STATE_H

#include <stdbool.h>

#include "runner/sweep_claim.h"
#include "runner/sweep_plan.h"

typedef enum {
  SWEEP_PENDING,     /* nobody trains it; it can be claimed when its stage run is finished */
  SWEEP_FINISHED,    /* its result says finished (a stage run: and its checkpoint is there) */
  SWEEP_RUNNING,     /* claimed, heartbeat fresh */
  SWEEP_STALE,       /* claimed, heartbeat older than the timeout (or a broken claim file) */
  SWEEP_INTERRUPTED, /* stopped with a checkpoint; resumes when claimed */
  SWEEP_FAILED,      /* failed more often than the retry limit allows */
  SWEEP_SKIPPED,     /* the stage run it starts from failed or was skipped */
} sweep_state_kind;

typedef struct sweep_job_state {
  sweep_state_kind kind;
  sweep_claim claim;     /* RUNNING and STALE (zeroed for a broken claim file) */
  bool claim_broken;     /* STALE because the claim file cannot be parsed */
  char claim_text[1024]; /* the claim file as read, for a takeover */
  int failures;          /* failed attempts recorded */
  char reason[512];      /* the last failure; SKIPPED: why; INTERRUPTED: the result's status */
} sweep_job_state;

typedef struct sweep_state_opts {
  double timeout; /* seconds after which a claim's heartbeat is stale */
  int retries;    /* a failed run is tried 1 + retries times */
  bool quiet;     /* no warnings about broken claim files */
} sweep_state_opts;

/* Reads the state of every selected job into states[p->njobs] (others are
 * left PENDING). finished[] (may be NULL) remembers finished jobs between
 * calls, so their result files are read once. */
dnl_status sweep_state_scan(const sweep_plan *p, const sweep_state_opts *o, sweep_job_state *states,
                            bool *finished);

/* Records one more failed attempt of a job, with its reason. */
dnl_status sweep_state_record_failure(const sweep_plan *p, long job, const char *reason);

const char *sweep_state_name(sweep_state_kind k);

#endif
