#include "runner/sweep_slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "runner/sweep_worker.h"

bool sweep_on_path(const char *program) {
  const char *path = getenv("PATH");
  if (!path)
    return false;
  char *copy = strdup(path), *save = NULL;
  bool found = false;
  for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
    char full[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", d[0] ? d : ".", program);
    found = access(full, X_OK) == 0;
  }
  free(copy);
  return found;
}

void sweep_slurm_jobs_path(const sweep *sw, const sweep_plan *p, char *out, size_t len) {
  snprintf(out, len, "%s/slurm/%s.jobs", p->dir, sw->name);
}

/* s in single quotes for the shell. */
static void quote(const char *s, char *out, size_t len) {
  size_t u = 0;
  if (u + 1 < len)
    out[u++] = '\'';
  for (; *s && u + 5 < len; s++) {
    if (*s == '\'') {
      memcpy(out + u, "'\\''", 4);
      u += 4;
    } else {
      out[u++] = *s;
    }
  }
  if (u + 1 < len)
    out[u++] = '\'';
  out[u] = '\0';
}

/* A run name for --only: fnmatch's special characters escaped. */
static void escape_glob(const char *s, char *out, size_t len) {
  size_t u = 0;
  for (; *s && u + 2 < len; s++) {
    if (strchr("*?[]\\", *s))
      out[u++] = '\\';
    out[u++] = *s;
  }
  out[u] = '\0';
}

/* Stage runs that start from no stage run: 1, from those: 2, ...; the matrix
 * runs come last whatever they start from. */
static int depth_of(const sweep_plan *p, long j) {
  int d = 0;
  for (long a = p->jobs[j].after; a >= 0; a = p->jobs[a].after)
    d++;
  return p->jobs[j].stage ? d + 1 : INT_MAX;
}

static bool in_level(const sweep_plan *p, long j, int level) {
  const sweep_job *job = &p->jobs[j];
  return job->selected && !job->finished && depth_of(p, j) == level;
}

static dnl_status write_script(const sweep *sw, const sweep_plan *p, const sweep_common_args *a,
                               const sweep_cluster_args *c, int level, long ntasks,
                               const char *path) {
  char self[PATH_MAX], file[PATH_MAX], cwd[PATH_MAX], q[3 * PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = '\0';
  if (!realpath(a->file, file) || !getcwd(cwd, sizeof cwd))
    return dnl_error(DNL_ERR_IO, "%s: %s", a->file, strerror(errno));
  FILE *f = fopen(path, "w");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot write (%s)", path, strerror(errno));
  fprintf(f, "#!/bin/bash\n");
  fprintf(f, "# %ld %s of sweep %s, one Slurm array task each, written by\n", ntasks,
          level == INT_MAX ? "runs" : "stage runs", sw->name);
  fprintf(f, "# `runner sweep %s --slurm`. Each task is a worker (docs/cluster.md) for its\n",
          a->file);
  fprintf(f, "# run: a finished run ends the task at once, an interrupted one resumes.\n");
  fprintf(f, "#SBATCH --job-name=dnl-%s\n", sw->name);
  fprintf(f, "#SBATCH --array=0-%ld", ntasks - 1);
  if (c->max_parallel > 0)
    fprintf(f, "%%%d", c->max_parallel);
  fprintf(f, "\n#SBATCH --output=%s%s%s/slurm/%%x-%%A_%%a.out\n", p->dir[0] == '/' ? "" : cwd,
          p->dir[0] == '/' ? "" : "/", p->dir);
  fprintf(f, "#SBATCH --open-mode=append\n");
  fprintf(f, "#SBATCH --chdir=%s\n", cwd);
  fprintf(f, "#SBATCH --ntasks=%d\n", c->gpus_per_run > 1 ? c->gpus_per_run : 1);
  if (c->cpus_per_run > 0)
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", c->cpus_per_run);
  if (c->gpus_per_run > 0)
    fprintf(f, "#SBATCH --gpus-per-task=1\n");
  if (c->partition)
    fprintf(f, "#SBATCH --partition=%s\n", c->partition);
  if (c->time)
    fprintf(f, "#SBATCH --time=%s\n", c->time);
  if (c->account)
    fprintf(f, "#SBATCH --account=%s\n", c->account);
  if (c->requeue)
    fprintf(f, "#SBATCH --requeue\n#SBATCH --signal=B:TERM@120\n");
  for (int i = 0; i < c->nextra; i++)
    fprintf(f, "%s%s\n", strncmp(c->extra[i], "#SBATCH", 7) ? "#SBATCH " : "", c->extra[i]);
  fprintf(f, "set -u\nruns=(\n");
  for (long j = 0; j < p->njobs; j++) {
    if (!in_level(p, j, level))
      continue;
    char esc[600];
    escape_glob(p->jobs[j].name, esc, sizeof esc);
    quote(esc, q, sizeof q);
    fprintf(f, "  %s\n", q);
  }
  fprintf(f, ")\nrun=${runs[$SLURM_ARRAY_TASK_ID]}\n");
  quote(self, q, sizeof q);
  fprintf(f, "%s sweep ", q);
  quote(file, q, sizeof q);
  fprintf(f, "%s --out ", q);
  quote(a->out_dir, q, sizeof q);
  fprintf(f, "%s --worker --only \"$run\" --claim-timeout %g --retries %d", q, c->claim_timeout,
          c->retries);
  if (a->threads)
    fprintf(f, " --threads %d", a->threads);
  if (c->gpus_per_run > 1) {
    fprintf(f, " --gpus-per-run %d", c->gpus_per_run);
    if (c->launcher) {
      quote(c->launcher, q, sizeof q);
      fprintf(f, " --launcher %s", q);
    }
  }
  if (c->requeue) {
    /* Slurm signals the batch shell (B:TERM) before the time limit, and
     * preemption sends TERM too: the worker checkpoints its run and exits with
     * SWEEP_EXIT_INTERRUPTED, and the task goes back into the queue */
    fprintf(f,
            " &\nworker=$!\ntrap 'kill -TERM $worker' TERM\nwait $worker\nrc=$?\n"
            "while kill -0 $worker 2>/dev/null; do wait $worker; rc=$?; done\n"
            "if [ $rc -eq %d ]; then\n"
            "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
            "fi\nexit $rc\n",
            SWEEP_EXIT_INTERRUPTED);
  } else {
    fprintf(f, "\n");
  }
  bool ok = !ferror(f);
  if (fclose(f) != 0 || !ok)
    return dnl_error(DNL_ERR_IO, "%s: cannot write (%s)", path, strerror(errno));
  chmod(path, 0755);
  return DNL_OK;
}

/* sbatch --parsable [--dependency=afterany:prev] script: the job id. */
static dnl_status submit(const char *script, const char *after, char *id, size_t len) {
  char q[2 * PATH_MAX], cmd[sizeof q + 256];
  quote(script, q, sizeof q);
  snprintf(cmd, sizeof cmd, "sbatch --parsable %s%s %s 2>&1",
           after[0] ? "--dependency=afterany:" : "", after, q);
  FILE *f = popen(cmd, "r");
  if (!f)
    return dnl_error(DNL_ERR_IO, "cannot run sbatch: %s", strerror(errno));
  char out[2048] = "";
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  int status = pclose(f);
  if (status != 0) {
    for (char *c = out; *c; c++)
      *c = *c == '\n' ? ' ' : *c;
    return dnl_error(DNL_ERR_IO, "sbatch %s failed: %s", script, out);
  }
  out[strcspn(out, "\n")] = '\0';
  out[strcspn(out, ";")] = '\0'; /* "id;cluster" */
  snprintf(id, len, "%.63s", out);
  return DNL_OK;
}

int sweep_slurm_submit(const sweep *sw, const sweep_plan *p, const sweep_common_args *a,
                       const sweep_cluster_args *c) {
  char dir[1300], jobs_path[1400];
  snprintf(dir, sizeof dir, "%s/slurm", p->dir);
  sweep_slurm_jobs_path(sw, p, jobs_path, sizeof jobs_path);
  if (fs_mkdirs(dir) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    return 1;
  }
  /* the levels in order: stage depths 1, 2, ..., then the matrix runs */
  int levels[SWEEP_MAX_STAGES + 2], nlevels = 0;
  for (int d = 1; d <= SWEEP_MAX_STAGES + 1; d++) {
    const int level = d == SWEEP_MAX_STAGES + 1 ? INT_MAX : d;
    for (long j = 0; j < p->njobs; j++)
      if (in_level(p, j, level)) {
        levels[nlevels++] = level;
        break;
      }
  }
  if (nlevels == 0) {
    printf("sweep %s: all %ld runs finished; nothing to submit\n", sw->name, p->selected);
    return 0;
  }
  char prev[64] = "";
  for (int l = 0; l < nlevels; l++) {
    long ntasks = 0;
    for (long j = 0; j < p->njobs; j++)
      ntasks += in_level(p, j, levels[l]);
    char script[1500];
    if (levels[l] == INT_MAX)
      snprintf(script, sizeof script, "%s/%s.sbatch", dir, sw->name);
    else
      snprintf(script, sizeof script, "%s/%s.stages%d.sbatch", dir, sw->name, levels[l]);
    if (write_script(sw, p, a, c, levels[l], ntasks, script) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      return 1;
    }
    if (a->dry_run) {
      char text[65536];
      FILE *f = fopen(script, "r");
      size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
      text[n] = '\0';
      if (f)
        fclose(f);
      printf("==== %s (%ld tasks)\n%s", script, ntasks, text);
      printf("==== would submit: sbatch --parsable%s%s %s\n",
             l ? " --dependency=afterany:<job of " : "", l ? "the script before>" : "", script);
      continue;
    }
    char id[64];
    if (submit(script, prev, id, sizeof id) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      return 1;
    }
    printf("submitted job %s: %ld %s%s%s (%s)\n", id, ntasks,
           levels[l] == INT_MAX ? "runs" : "stage runs", prev[0] ? ", after job " : "", prev,
           script);
    FILE *jf = fopen(jobs_path, "a");
    long t = 0;
    for (long j = 0; jf && j < p->njobs; j++)
      if (in_level(p, j, levels[l]))
        fprintf(jf, "job %s task %ld run %s\n", id, t++, p->jobs[j].name);
    if (jf)
      fclose(jf);
    snprintf(prev, sizeof prev, "%s", id);
  }
  if (!a->dry_run)
    printf("sweep %s: follow it with runner sweep %s --status\n", sw->name, a->file);
  return 0;
}
