#include "runner/sweep_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/sweep_slurm.h"
#include "runner/sweep_state.h"

static void age(double seconds, char *buf, size_t len) {
  if (seconds < 120)
    snprintf(buf, len, "%.0f s", seconds);
  else if (seconds < 7200)
    snprintf(buf, len, "%.0f min", seconds / 60);
  else
    snprintf(buf, len, "%.1f h", seconds / 3600);
}

/* The run of a Slurm array task ("123_4"), from the jobs file of --slurm. */
static const char *run_of_task(const char *jobs_path, const char *task, char *out, size_t len) {
  FILE *f = fopen(jobs_path, "r");
  if (!f)
    return NULL;
  char line[600], id[64], name[512];
  long t;
  const char *found = NULL;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "job %63s task %ld run %511s", id, &t, name) != 3)
      continue;
    char key[96];
    snprintf(key, sizeof key, "%s_%ld", id, t);
    if (!strcmp(key, task)) {
      snprintf(out, len, "%s", name);
      found = out;
    }
  }
  fclose(f);
  return found;
}

static void print_squeue(const sweep *sw, const sweep_plan *p) {
  if (!sweep_on_path("squeue")) {
    printf("(no squeue on PATH: Slurm's view is not shown)\n");
    return;
  }
  char cmd[512], jobs_path[1400];
  sweep_slurm_jobs_path(sw, p, jobs_path, sizeof jobs_path);
  snprintf(cmd, sizeof cmd,
           "squeue --noheader --array --name=dnl-%s --format='%%i|%%T|%%r|%%M' 2>&1", sw->name);
  FILE *f = popen(cmd, "r");
  if (!f)
    return;
  char line[512], first_error[512] = "";
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *fields[4] = {line, NULL, NULL, NULL};
    for (int i = 1; i < 4 && fields[i - 1]; i++) {
      char *bar = strchr(fields[i - 1], '|');
      if (bar) {
        *bar = '\0';
        fields[i] = bar + 1;
      }
    }
    if (!fields[3]) {
      if (!first_error[0])
        snprintf(first_error, sizeof first_error, "%s", line);
      continue;
    }
    if (!n++)
      printf("Slurm (squeue, jobs named dnl-%s):\n", sw->name);
    char run[512];
    const char *r = run_of_task(jobs_path, fields[0], run, sizeof run);
    printf("  %-14s %-28s %-10s %s%s%s\n", fields[0], r ? r : "?", fields[1],
           strcmp(fields[2], "None") ? fields[2] : "", strcmp(fields[2], "None") ? "  " : "",
           fields[3]);
  }
  const int status = pclose(f);
  if (status != 0)
    printf("Slurm: squeue failed (%s): Slurm's view is not shown\n",
           first_error[0] ? first_error : "no output");
  else if (!n)
    printf("Slurm: no job named dnl-%s in the queue\n", sw->name);
}

int sweep_print_status(const sweep *sw, const sweep_plan *p, const sweep_cluster_args *c) {
  sweep_job_state *states = calloc((size_t)p->njobs, sizeof *states);
  if (!states) {
    fprintf(stderr, "runner sweep: out of memory\n");
    return 1;
  }
  sweep_state_opts so = {.timeout = c->claim_timeout, .retries = c->retries, .quiet = false};
  if (sweep_state_scan(p, &so, states, NULL) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    free(states);
    return 1;
  }
  long count[SWEEP_SKIPPED + 1] = {0};
  for (long i = 0; i < p->njobs; i++)
    count[states[i].kind] += p->jobs[i].selected;
  printf("sweep %s: %ld runs in %s/:", sw->name, p->selected, p->dir);
  for (int k = 0; k <= SWEEP_SKIPPED; k++)
    if (count[k])
      printf(" %ld %s", count[k], sweep_state_name((sweep_state_kind)k));
  printf("\n");
  const double now = sweep_wall_time();
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    const sweep_job_state *s = &states[i];
    if (!j->selected)
      continue;
    char name[300], detail[1200] = "", a[32];
    snprintf(name, sizeof name, "%s%s", j->stage ? "stages/" : "", j->name);
    switch (s->kind) {
    case SWEEP_RUNNING:
    case SWEEP_STALE:
      if (s->claim_broken) {
        snprintf(detail, sizeof detail,
                 "claim file cannot be parsed: taken over by the next "
                 "worker");
        break;
      }
      age(now - s->claim.heartbeat, a, sizeof a);
      snprintf(detail, sizeof detail, "%s:%ld, heartbeat %s ago, iteration %ld/%ld%s",
               s->claim.host, s->claim.pid, a, s->claim.iter, s->claim.iters,
               s->kind == SWEEP_STALE ? " (stale: the next worker takes it over)" : "");
      break;
    case SWEEP_FAILED:
      snprintf(detail, sizeof detail, "%d attempts: %s", s->failures, s->reason);
      break;
    case SWEEP_SKIPPED:
    case SWEEP_INTERRUPTED:
      snprintf(detail, sizeof detail, "%s", s->reason);
      break;
    case SWEEP_PENDING:
      if (s->failures)
        snprintf(detail, sizeof detail, "failed %d time%s, tried again: %s", s->failures,
                 s->failures == 1 ? "" : "s", s->reason);
      break;
    case SWEEP_FINISHED:
      break;
    }
    printf("  %-32s %-11s %s\n", name, sweep_state_name(s->kind), detail);
  }
  free(states);
  print_squeue(sw, p);
  return 0;
}
