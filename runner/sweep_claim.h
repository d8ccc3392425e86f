/* Claim files: which worker trains which run of a sweep, on a folder that
 * workers on several machines share (docs/cluster.md).
 *
 * results/<sweep>/claims/<run>.claim (stage runs: claims/stages/<run>.claim)
 * is a small text file:
 *
 *   dnl-claim 1
 *   run dnl-seed2
 *   host node7
 *   pid 41237
 *   started 1764650000.125        (Unix time, the worker's clock)
 *   heartbeat 1764650120.500      (refreshed by the worker while it trains)
 *   attempt 1
 *   iteration 120/300
 *
 * A claim is made by writing the whole file under a temporary name and
 * hard-linking it to the claim's name: link() fails when the name exists, on
 * local and network file systems alike, and a reader never sees half a file.
 * The owner refreshes it through a temporary file and a rename. A claim whose
 * heartbeat is older than the timeout is stale: another worker takes it over
 * after creating a takeover token (O_CREAT|O_EXCL) named after the stale
 * claim's contents, so that of several workers that saw the same stale claim
 * only one takes it. */
#ifndef DNL_SWEEP_CLAIM_H
#define DNL_SWEEP_CLAIM_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/status.h"

typedef struct sweep_claim {
  char run[256];
  char host[256];
  long pid;
  double started, heartbeat; /* Unix seconds */
  int attempt;
  long iter, iters; /* the run's progress, 0/0 when unknown */
} sweep_claim;

/* The claim of this process for run (host, pid, now). */
void sweep_claim_init(sweep_claim *c, const char *run, int attempt);

/* <dir>/claims/[stages/]<name><ext>; dir is results/<sweep>. */
void sweep_claim_path(const char *dir, const char *name, bool stage, const char *ext, char *out,
                      size_t len);

/* Creates the claim; *got is false when one exists already. */
dnl_status sweep_claim_create(const char *path, const sweep_claim *c, bool *got);

/* Reads a claim. *exists false: there is none. The file's text goes to text
 * (for sweep_claim_take_over). A file that cannot be parsed is DNL_ERR_FORMAT
 * with the reason (callers treat it as stale, with a warning). */
dnl_status sweep_claim_read(const char *path, sweep_claim *c, char *text, size_t len, bool *exists);

/* The owner refreshes the heartbeat (now) and progress; *held is false (and
 * nothing is written) when the file is no longer this claim. */
dnl_status sweep_claim_refresh(const char *path, sweep_claim *c, bool *held);

/* Removes the claim when it is still c. */
dnl_status sweep_claim_release(const char *path, const sweep_claim *c);

/* Replaces the stale claim whose text was seen by c; *got false when another
 * worker was first or the claim changed meanwhile (it was alive after all). */
dnl_status sweep_claim_take_over(const char *path, const char *seen_text, const sweep_claim *c,
                                 bool *got);

/* Whether c was last refreshed more than timeout seconds ago (this clock). */
bool sweep_claim_stale(const sweep_claim *c, double timeout);

/* Unix time in seconds. */
double sweep_wall_time(void);

#endif
