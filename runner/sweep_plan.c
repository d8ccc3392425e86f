#include "runner/sweep_plan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "lib/store/file_atomic.h"
#include "lib/store/h5attr.h"
#include "lib/store/h5file.h"
#include "runner/run_config.h"
#include "runner/session.h"
#include "runner/sweep_claim.h"

dnl_status sweep_write_atomic(const char *path, const char *text) {
  /* workers on several machines may write the same file at once: each through
   * a temporary file of its own */
  char tmp[1700], host[256] = "";
  gethostname(host, sizeof host - 1);
  snprintf(tmp, sizeof tmp, "%s.tmp.%s.%ld", path, host, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot write (%s)", tmp, strerror(errno));
  bool ok = fputs(text, f) >= 0;
  if (fclose(f) != 0 || !ok) {
    unlink(tmp);
    return dnl_error(DNL_ERR_IO, "%s: cannot write (%s)", tmp, strerror(errno));
  }
  return file_atomic_commit(tmp, path);
}

bool sweep_result_status(const char *result_path, char *status, size_t len) {
  status[0] = '\0';
  if (access(result_path, R_OK) != 0)
    return false;
  hid_t f;
  if (h5file_open_read(result_path, &f) != DNL_OK) {
    dnl_clear_error();
    return false;
  }
  char *s = NULL;
  bool ok = h5attr_read_str(f, "status", &s) == DNL_OK;
  if (ok)
    snprintf(status, len, "%s", s);
  else
    dnl_clear_error();
  free(s);
  H5Fclose(f);
  return ok;
}

bool sweep_result_finished(const char *result_path) {
  char status[64];
  return sweep_result_status(result_path, status, sizeof status) && !strcmp(status, "finished");
}

/* Whether the file at path holds exactly text. */
static bool same_text(const char *path, const char *text) {
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  const size_t n = strlen(text);
  char *buf = malloc(n + 2);
  bool same = buf && fread(buf, 1, n + 1, f) == n && !memcmp(buf, text, n);
  free(buf);
  fclose(f);
  return same;
}

/* Writes the job's config and makes its synthetic data. */
static dnl_status prepare_job(const sweep_job *j, const sweep_run *run) {
  run_config rc;
  DNL_TRY(run_config_read(&run->config, &rc));
  if (!strcmp(rc.dataset, "synth"))
    DNL_TRY(session_ensure_synth(&rc));
  char *text = NULL;
  dnl_status st = cfg_to_string(&run->config, &text);
  /* every worker prepares the same files: only a changed one is written */
  if (st == DNL_OK && !same_text(j->cfg, text))
    st = sweep_write_atomic(j->cfg, text);
  free(text);
  return st;
}

static dnl_status fill_job(const sweep *sw, const char *out_dir, long i, sweep_job *j) {
  sweep_run run;
  dnl_status st = sweep_job_make(sw, i, out_dir, &run);
  if (st != DNL_OK) {
    sweep_run_free(&run);
    return st;
  }
  run_config rc;
  st = run_config_read(&run.config, &rc);
  sweep_run_free(&run);
  DNL_TRY(st);
  snprintf(j->name, sizeof j->name, "%s", run.name);
  j->stage = run.stage >= 0;
  j->after = run.after;
  j->on_gpu = rc.device == DEVICE_CUDA;
  sweep_job_path(sw, out_dir, j->name, j->stage, ".cfg", j->cfg, sizeof j->cfg);
  sweep_job_path(sw, out_dir, j->name, j->stage, ".h5", j->result, sizeof j->result);
  sweep_job_path(sw, out_dir, j->name, j->stage, ".ckpt", j->ckpt, sizeof j->ckpt);
  sweep_job_path(sw, out_dir, j->name, j->stage, ".log", j->log, sizeof j->log);
  /* a claimed run's result may be being written: the workers' scans look
   * at it once its claim is released or stale (runner/sweep_state.c) */
  char dir[1300], claim[1700];
  snprintf(dir, sizeof dir, "%s/%s", out_dir, sw->name);
  sweep_claim_path(dir, j->name, j->stage, ".claim", claim, sizeof claim);
  j->finished = access(claim, F_OK) != 0 && sweep_result_finished(j->result) &&
                (!j->stage || access(j->ckpt, R_OK) == 0);
  return DNL_OK;
}

dnl_status sweep_plan_make(const sweep *sw, const char *out_dir, const char *only, sweep_plan *p) {
  memset(p, 0, sizeof *p);
  snprintf(p->dir, sizeof p->dir, "%s/%s", out_dir, sw->name);
  p->njobs = sw->njobs;
  p->jobs = calloc((size_t)sw->njobs, sizeof *p->jobs);
  if (!p->jobs)
    return dnl_error(DNL_ERR_NOMEM, "sweep %s: %ld jobs", sw->name, sw->njobs);
  for (long i = 0; i < sw->njobs; i++)
    DNL_TRY(fill_job(sw, out_dir, i, &p->jobs[i]));
  bool any = false;
  for (long i = 0; i < p->njobs; i++) {
    p->jobs[i].selected = !only || sweep_name_matches(p->jobs[i].name, only);
    any = any || p->jobs[i].selected;
  }
  if (!any)
    return dnl_error(DNL_ERR_ARG, "no run matches --only '%s'", only);
  /* a selected run that still trains pulls in the stage runs it starts from;
   * stage runs come first, so walking backwards reaches chains in one pass */
  for (long i = p->njobs - 1; i >= 0; i--) {
    const sweep_job *j = &p->jobs[i];
    if (j->selected && !j->finished && j->after >= 0)
      p->jobs[j->after].selected = true;
  }
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    p->selected += j->selected;
    p->finished += j->selected && j->finished;
    p->stage_runs += j->selected && j->stage;
  }
  return DNL_OK;
}

dnl_status sweep_plan_prepare(const sweep *sw, const char *out_dir, const sweep_plan *p) {
  DNL_TRY(fs_mkdirs(p->dir));
  char stages[1300];
  snprintf(stages, sizeof stages, "%s/stages", p->dir);
  if (sw->nstages)
    DNL_TRY(fs_mkdirs(stages));
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    if (!j->selected || j->finished)
      continue;
    sweep_run run;
    dnl_status st = sweep_job_make(sw, i, out_dir, &run);
    if (st == DNL_OK)
      st = prepare_job(j, &run);
    sweep_run_free(&run);
    DNL_TRY(st);
  }
  return DNL_OK;
}

static uint64_t fnv1a(uint64_t h, const char *s) {
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* A hash of every job's resolved config, whatever the results folder. */
static dnl_status sweep_hash(const sweep *sw, uint64_t *out) {
  uint64_t h = 1469598103934665603ull;
  for (long i = 0; i < sw->njobs; i++) {
    sweep_run run;
    char *text = NULL;
    dnl_status st = sweep_job_make(sw, i, "@out", &run);
    if (st == DNL_OK)
      st = cfg_to_string(&run.config, &text);
    sweep_run_free(&run);
    if (st != DNL_OK)
      return st;
    h = fnv1a(fnv1a(h, text), "\n");
    free(text);
  }
  *out = h;
  return DNL_OK;
}

dnl_status sweep_plan_check_folder(const sweep *sw, const sweep_plan *p) {
  uint64_t h;
  DNL_TRY(sweep_hash(sw, &h));
  char path[1300], text[2400];
  snprintf(path, sizeof path, "%s/sweep.id", p->dir);
  FILE *f = fopen(path, "r");
  if (f) {
    unsigned long long have = 0;
    char file[1100] = "?";
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    if (sscanf(text, "hash %llx\nfile %1099[^\n]", &have, file) < 1)
      fprintf(stderr, "runner sweep: warning: %s cannot be parsed; it is written anew\n", path);
    else if (have == h)
      return DNL_OK;
    else
      return dnl_error(DNL_ERR_ARG,
                       "%s holds the runs of sweep file %s (config hash %016llx), but %s makes "
                       "other runs (config hash %016llx): use another --out or sweep name, or "
                       "remove %s to keep the finished runs with the changed sweep",
                       p->dir, file, have, sw->path, (unsigned long long)h, path);
  }
  DNL_TRY(fs_mkdirs(p->dir));
  snprintf(text, sizeof text, "hash %016llx\nfile %s\n", (unsigned long long)h, sw->path);
  return sweep_write_atomic(path, text);
}

void sweep_plan_free(sweep_plan *p) {
  free(p->jobs);
  memset(p, 0, sizeof *p);
}
