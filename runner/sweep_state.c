#include "runner/sweep_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *sweep_state_name(sweep_state_kind k) {
  switch (k) {
  case SWEEP_PENDING:
    return "pending";
  case SWEEP_FINISHED:
    return "finished";
  case SWEEP_RUNNING:
    return "running";
  case SWEEP_STALE:
    return "stale";
  case SWEEP_INTERRUPTED:
    return "interrupted";
  case SWEEP_FAILED:
    return "failed";
  case SWEEP_SKIPPED:
    return "skipped";
  }
  return "?";
}

/* claims/<run>.failed: "attempts N" and "reason TEXT" lines. */
static void read_failures(const sweep_plan *p, long job, int *attempts, char *reason, size_t len) {
  char path[1600], line[1024];
  const sweep_job *j = &p->jobs[job];
  sweep_claim_path(p->dir, j->name, j->stage, ".failed", path, sizeof path);
  *attempts = 0;
  reason[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (!strncmp(line, "attempts ", 9))
      *attempts = atoi(line + 9);
    else if (!strncmp(line, "reason ", 7))
      snprintf(reason, len, "%.500s", line + 7);
  }
  fclose(f);
}

dnl_status sweep_state_record_failure(const sweep_plan *p, long job, const char *reason) {
  int attempts;
  char old[512], path[1600], text[1200];
  read_failures(p, job, &attempts, old, sizeof old);
  const sweep_job *j = &p->jobs[job];
  sweep_claim_path(p->dir, j->name, j->stage, ".failed", path, sizeof path);
  snprintf(text, sizeof text, "attempts %d\nreason %.1000s\n", attempts + 1, reason);
  return sweep_write_atomic(path, text);
}

static void read_claim(const sweep_plan *p, long job, const sweep_state_opts *o, sweep_job_state *s,
                       bool *claimed) {
  const sweep_job *j = &p->jobs[job];
  char path[1600];
  sweep_claim_path(p->dir, j->name, j->stage, ".claim", path, sizeof path);
  dnl_status st = sweep_claim_read(path, &s->claim, s->claim_text, sizeof s->claim_text, claimed);
  if (st == DNL_OK && *claimed) {
    s->kind = sweep_claim_stale(&s->claim, o->timeout) ? SWEEP_STALE : SWEEP_RUNNING;
  } else if (st == DNL_ERR_FORMAT) {
    if (!o->quiet)
      fprintf(stderr, "runner sweep: warning: %s; treated as stale\n", dnl_last_error());
    s->kind = SWEEP_STALE;
    s->claim_broken = true;
    *claimed = true;
  } else if (st != DNL_OK) {
    /* unreadable now (a file system hiccup): count it as held until the next look */
    if (!o->quiet)
      fprintf(stderr, "runner sweep: warning: %s\n", dnl_last_error());
    s->kind = SWEEP_RUNNING;
    *claimed = true;
  }
  dnl_clear_error();
}

dnl_status sweep_state_scan(const sweep_plan *p, const sweep_state_opts *o, sweep_job_state *states,
                            bool *finished) {
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    sweep_job_state *s = &states[i];
    memset(s, 0, sizeof *s);
    s->kind = SWEEP_PENDING;
    if (!j->selected)
      continue;
    if (finished && finished[i]) {
      s->kind = SWEEP_FINISHED;
      continue;
    }
    /* the claim first: the result of a run that a live worker trains is being
     * written, and is not opened */
    bool claimed = false;
    read_claim(p, i, o, s, &claimed);
    if (s->kind == SWEEP_RUNNING)
      continue;
    char status[512];
    const bool has_result = sweep_result_status(j->result, status, sizeof status);
    if (has_result && !strcmp(status, "finished") && (!j->stage || access(j->ckpt, R_OK) == 0)) {
      s->kind = SWEEP_FINISHED; /* also when its worker died before it released the claim */
      if (finished)
        finished[i] = true;
      continue;
    }
    read_failures(p, i, &s->failures, s->reason, sizeof s->reason);
    if (claimed)
      continue;
    if (s->failures > o->retries)
      s->kind = SWEEP_FAILED;
    else if (has_result && !strncmp(status, "failed: interrupted", 19)) {
      s->kind = SWEEP_INTERRUPTED;
      snprintf(s->reason, sizeof s->reason, "%s", status);
    }
  }
  /* the runs of a failed or skipped stage run are skipped (stage runs come first) */
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    sweep_job_state *s = &states[i];
    if (!j->selected || j->after < 0 || s->kind == SWEEP_FINISHED || s->kind == SWEEP_RUNNING)
      continue;
    const sweep_state_kind dep = states[j->after].kind;
    if (dep == SWEEP_FAILED || dep == SWEEP_SKIPPED) {
      s->kind = SWEEP_SKIPPED;
      snprintf(s->reason, sizeof s->reason, "stage run %s %s", p->jobs[j->after].name,
               dep == SWEEP_FAILED ? "failed" : "was skipped");
    }
  }
  return DNL_OK;
}
