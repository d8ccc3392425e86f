#include "runner/sweep_local.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/gpu_slots.h"
#include "runner/sweep_child.h"

typedef enum { JOB_IDLE, JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_SKIPPED } job_state;

typedef struct failures {
  char text[8192];
  size_t used;
} failures;

static void note(failures *f, const char *fmt, const char *name, const char *why) {
  if (f->used < sizeof f->text)
    f->used += (size_t)snprintf(f->text + f->used, sizeof f->text - f->used, fmt, name, why);
}

static void show_progress(const sweep *sw, const sweep_child *kids, int nkids, long done,
                          long total, double avg, int jobs) {
  char line[1024];
  size_t u = (size_t)snprintf(line, sizeof line, "[sweep %s] %ld/%ld done", sw->name, done, total);
  for (int i = 0; i < nkids && u < sizeof line; i++)
    u += (size_t)snprintf(line + u, sizeof line - u, " | %s %ld/%ld", kids[i].name, kids[i].iter,
                          kids[i].iters);
  if (avg > 0 && u < sizeof line) {
    char eta[32];
    sweep_fmt_time(avg * (double)(total - done) / jobs, eta, sizeof eta);
    snprintf(line + u, sizeof line - u, " | ETA %s", eta);
  }
  fprintf(stderr, "\r\033[K%.*s", 200, line);
}

/* Skips the pending jobs whose stage run failed or was skipped (in job order,
 * so chains follow), with the reason printed, noted and appended to their log. */
static long skip_orphans(const sweep *sw, const sweep_plan *p, job_state *state, failures *f,
                         bool quiet, bool tty) {
  long skipped = 0;
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    if (state[i] != JOB_PENDING || j->after < 0 ||
        (state[j->after] != JOB_FAILED && state[j->after] != JOB_SKIPPED))
      continue;
    state[i] = JOB_SKIPPED;
    skipped++;
    char why[512];
    snprintf(why, sizeof why, "skipped: stage run %s %s", p->jobs[j->after].name,
             state[j->after] == JOB_FAILED ? "failed" : "was skipped");
    note(f, "  %s: %s\n", j->name, why);
    if (!quiet)
      fprintf(stderr, "%s[sweep %s] %s %s\n", tty ? "\r\033[K" : "", sw->name, j->name, why);
    FILE *log = fopen(j->log, "a");
    if (log) {
      fprintf(log, "runner sweep: %s; not started\n", why);
      fclose(log);
    }
  }
  return skipped;
}

/* The next pending job whose stage run is done, -1 when none is ready. */
static long next_ready(const sweep_plan *p, const job_state *state) {
  for (long i = 0; i < p->njobs; i++) {
    const sweep_job *j = &p->jobs[i];
    if (state[i] == JOB_PENDING && (j->after < 0 || state[j->after] == JOB_DONE))
      return i;
  }
  return -1;
}

int sweep_run_local(const sweep *sw, const sweep_plan *p, const sweep_local_opts *o) {
  const long ntodo = p->selected - p->finished;
  int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  int total_threads = o->threads ? o->threads : (cores > 0 ? cores : 1);
  int per_job = total_threads / o->jobs > 0 ? total_threads / o->jobs : 1;
  const bool tty = isatty(STDERR_FILENO) && !o->quiet;
  if (!o->quiet) {
    char stages[64] = "";
    if (p->stage_runs)
      snprintf(stages, sizeof stages, " (%ld of them stage runs)", p->stage_runs);
    fprintf(stderr,
            "sweep %s: %ld runs%s, %ld finished already, %ld to run, %d at a time with "
            "%d threads each; logs in %s/\n",
            sw->name, p->selected, stages, p->finished, ntodo, o->jobs, per_job, p->dir);
  }
  job_state *state = calloc((size_t)p->njobs, sizeof *state);
  if (!state) {
    fprintf(stderr, "runner sweep: out of memory\n");
    return 1;
  }
  for (long i = 0; i < p->njobs; i++)
    state[i] = !p->jobs[i].selected ? JOB_IDLE : p->jobs[i].finished ? JOB_DONE : JOB_PENDING;
  gpu_slots gpus;
  gpu_slots_find(&gpus, getenv("CUDA_VISIBLE_DEVICES"), "/proc/driver/nvidia/gpus");
  const bool place = gpus.count > 1 && o->jobs > 1;
  if (!o->quiet && place)
    fprintf(stderr, "sweep %s: runs on cuda go one per GPU over %d GPUs\n", sw->name, gpus.count);

  sweep_child kids[SWEEP_MAX_JOBS];
  int nkids = 0, rc = 0;
  long done = 0, failed = 0, skipped = 0;
  double run_seconds = 0;
  failures fails = {.used = 0};
  fails.text[0] = '\0';
  for (;;) {
    skipped += skip_orphans(sw, p, state, &fails, o->quiet, tty);
    long r;
    while (nkids < o->jobs && (r = next_ready(p, state)) >= 0) {
      const sweep_job *j = &p->jobs[r];
      sweep_child *c = &kids[nkids];
      memset(c, 0, sizeof *c);
      c->job = r;
      snprintf(c->name, sizeof c->name, "%s", j->name);
      c->gpu = place && j->on_gpu ? gpu_slots_take(&gpus) : -1;
      char set_threads[64], *argv[8];
      sweep_child_train_argv(j->cfg, per_job, set_threads, sizeof set_threads, argv);
      if (sweep_child_start(c, argv, j->log, c->gpu >= 0 ? gpus.id[c->gpu] : NULL, false) !=
          DNL_OK) {
        fprintf(stderr, "\nrunner sweep: %s\n", dnl_last_error());
        rc = 1;
        break;
      }
      state[r] = JOB_RUNNING;
      nkids++;
      if (!tty && !o->quiet)
        fprintf(stderr, "[sweep %s] started %s%s%s%s\n", sw->name, j->stage ? "stage run " : "",
                c->name, c->gpu >= 0 ? " on GPU " : "", c->gpu >= 0 ? gpus.id[c->gpu] : "");
    }
    if (rc || nkids <= 0)
      break;
    struct pollfd pfd[SWEEP_MAX_JOBS];
    for (int i = 0; i < nkids; i++)
      pfd[i] = (struct pollfd){.fd = kids[i].fd, .events = POLLIN};
    if (poll(pfd, (nfds_t)nkids, 1000) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < nkids; i++) {
      if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (sweep_child_read(&kids[i]))
        continue;
      /* the end of its output: the child has ended */
      bool ok = sweep_child_finish(&kids[i]);
      gpu_slots_release(&gpus, kids[i].gpu);
      double took = sweep_now() - kids[i].start;
      done++;
      run_seconds += took;
      state[kids[i].job] = ok ? JOB_DONE : JOB_FAILED;
      char t[32];
      sweep_fmt_time(took, t, sizeof t);
      if (!ok) {
        failed++;
        note(&fails, "  %s: %s\n", kids[i].name, kids[i].last);
      }
      if (!o->quiet)
        fprintf(stderr, "%s[sweep %s] %s%s %s in %s\n", tty ? "\r\033[K" : "", sw->name,
                p->jobs[kids[i].job].stage ? "stage run " : "", kids[i].name,
                ok ? "finished" : "FAILED", t);
      kids[i] = kids[--nkids];
      pfd[i] = pfd[nkids];
      i--;
    }
    if (tty)
      show_progress(sw, kids, nkids, done + skipped, ntodo, done ? run_seconds / done : 0, o->jobs);
  }
  if (tty)
    fprintf(stderr, "\r\033[K");
  for (int i = 0; i < nkids; i++) {
    kill(kids[i].pid, SIGTERM);
    sweep_child_finish(&kids[i]);
  }
  free(state);
  if (rc)
    return rc;
  if (failed || skipped) {
    fprintf(stderr, "runner sweep: %ld of %ld runs failed and %ld skipped (logs in %s/):\n%s",
            failed, ntodo, skipped, p->dir, fails.text);
    return 1;
  }
  if (!o->quiet)
    fprintf(stderr, "sweep %s: all %ld runs finished; results in %s/\n", sw->name, p->selected,
            p->dir);
  return 0;
}
