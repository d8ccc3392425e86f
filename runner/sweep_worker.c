#include "runner/sweep_worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "runner/sweep_child.h"
#include "runner/sweep_claim.h"
#include "runner/sweep_state.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

typedef struct worker {
  const sweep *sw;
  const sweep_plan *p;
  const sweep_worker_opts *o;
  sweep_state_opts so;
  sweep_job_state *states;
  bool *finished;  /* finished jobs, remembered between scans */
  bool *announced; /* skipped and failed-for-good jobs already reported */
  double *seen_hb; /* another worker's heartbeat when first seen, -1: not watched */
  bool *alive;     /* that heartbeat has since moved: its worker lives */
  char host[256];
  double beat; /* heartbeat interval */
  int threads;
  long claimed, done, failed, lost, interrupted, took_over, skipped;
  double child_seconds, idle_seconds;
  char wait_reason[1100];
  char summary[8192];
  size_t summary_used;
} worker;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

static void note(worker *w, const char *name, const char *what) {
  if (w->summary_used < sizeof w->summary)
    w->summary_used +=
        (size_t)snprintf(w->summary + w->summary_used, sizeof w->summary - w->summary_used,
                         "  %s: %s\n", name, what);
}

/* How the worker's lines name a job: stage runs as stages/<run>, as --status does. */
static const char *shown(const worker *w, long job) {
  static char buf[300];
  snprintf(buf, sizeof buf, "%s%s", w->p->jobs[job].stage ? "stages/" : "", w->p->jobs[job].name);
  return buf;
}

static void claim_path(const worker *w, long job, char *out, size_t len) {
  sweep_claim_path(w->p->dir, w->p->jobs[job].name, w->p->jobs[job].stage, ".claim", out, len);
}

/* The child's command: runner train, or the launcher's ranks of it. */
static void child_argv(const worker *w, const char *cfg, char *threads_set, size_t tlen,
                       char *launcher, size_t llen, char **argv) {
  char *train[8];
  const int g = w->o->gpus_per_run;
  sweep_child_train_argv(cfg, g > 1 ? (w->threads / g > 0 ? w->threads / g : 1) : w->threads,
                         threads_set, tlen, train);
  int n = 0;
  if (g > 1) {
    const char *l = w->o->launcher           ? w->o->launcher
                    : getenv("SLURM_JOB_ID") ? "srun --kill-on-bad-exit=1"
                                             : "mpirun";
    snprintf(launcher, llen, "%s", l);
    char *save = NULL;
    for (char *t = strtok_r(launcher, " ", &save); t && n < 24; t = strtok_r(NULL, " ", &save))
      argv[n++] = t;
    static char ranks[32];
    const bool srun = strstr(argv[0], "srun") != NULL;
    snprintf(ranks, sizeof ranks, srun ? "--ntasks=%d" : "%d", g);
    if (!srun)
      argv[n++] = "-np";
    argv[n++] = ranks;
    /* the ranks start this program by its path */
    static char self[1024];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = '\0';
    train[0] = self;
  }
  for (int i = 0; train[i]; i++)
    argv[n++] = train[i];
  argv[n] = NULL;
}

typedef enum { RUN_OK, RUN_FAILED, RUN_INTERRUPTED, RUN_LOST } run_outcome;

/* Trains the claimed job in a child, refreshing the claim; the outcome. */
static run_outcome train_claimed(worker *w, long job, sweep_claim *me, const char *cpath,
                                 sweep_child *c) {
  const sweep_job *j = &w->p->jobs[job];
  char threads_set[64], launcher[512], *argv[40];
  child_argv(w, j->cfg, threads_set, sizeof threads_set, launcher, sizeof launcher, argv);
  memset(c, 0, sizeof *c);
  c->job = job;
  c->gpu = -1;
  snprintf(c->name, sizeof c->name, "%s", j->name);
  c->start = sweep_now();
  /* a claim goes stale only when its worker is gone: its run must be gone too */
  if (sweep_child_start(c, argv, j->log, NULL, true) != DNL_OK) {
    snprintf(c->last, sizeof c->last, "%s", dnl_last_error());
    return RUN_FAILED;
  }
  bool forwarded = false, lost = false;
  double last_beat = sweep_now();
  for (;;) {
    if (stop_signal && !forwarded) {
      kill(c->pid, SIGTERM); /* it checkpoints and stops after its current iteration */
      forwarded = true;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int wait_ms = (int)(1000 * (w->beat < 1.0 ? w->beat : 1.0));
    int r = poll(&pfd, 1, wait_ms);
    if (r > 0 && !sweep_child_read(c))
      break;
    if (r < 0 && errno != EINTR)
      break;
    if (!lost && sweep_now() - last_beat >= w->beat) {
      me->iter = c->iter;
      me->iters = c->iters;
      bool held = true;
      if (sweep_claim_refresh(cpath, me, &held) != DNL_OK) {
        fprintf(stderr, "runner sweep: warning: %s\n", dnl_last_error());
        dnl_clear_error();
      } else if (!held) {
        /* another worker took it over: ours must not write beside it */
        kill(c->pid, SIGKILL);
        lost = true;
      }
      last_beat = sweep_now();
    }
  }
  const bool ok = sweep_child_finish(c);
  if (lost)
    return RUN_LOST;
  if (ok)
    return RUN_OK;
  return forwarded ? RUN_INTERRUPTED : RUN_FAILED;
}

/* Claims job (taking over a stale claim) and trains it; false when another
 * worker was first. */
static bool work_on(worker *w, long job) {
  const sweep_job *j = &w->p->jobs[job];
  sweep_job_state *s = &w->states[job];
  char cpath[1600];
  claim_path(w, job, cpath, sizeof cpath);
  sweep_claim me;
  sweep_claim_init(&me, j->name, s->failures + 1);
  bool got = false;
  const bool stale = s->kind == SWEEP_STALE;
  dnl_status st = stale ? sweep_claim_take_over(cpath, s->claim_text, &me, &got)
                        : sweep_claim_create(cpath, &me, &got);
  if (st != DNL_OK) {
    fprintf(stderr, "runner sweep: warning: %s\n", dnl_last_error());
    dnl_clear_error();
  }
  if (!got)
    return false;
  /* another worker may have finished it between the scan and the claim */
  if (sweep_result_finished(j->result) && (!j->stage || access(j->ckpt, R_OK) == 0)) {
    sweep_claim_release(cpath, &me);
    return false;
  }
  char how[512] = "";
  if (stale && s->claim_broken)
    snprintf(how, sizeof how, " (took over a claim file that could not be parsed)");
  else if (stale)
    snprintf(how, sizeof how, " (took over from %s:%ld, heartbeat %.0f s old)", s->claim.host,
             s->claim.pid, sweep_wall_time() - s->claim.heartbeat);
  else if (s->failures)
    snprintf(how, sizeof how, " (attempt %d of %d)", s->failures + 1, w->o->retries + 1);
  else if (s->kind == SWEEP_INTERRUPTED)
    snprintf(how, sizeof how, " (resumes from its checkpoint)");
  say("claimed %s%s\n", shown(w, job), how);
  w->claimed++;
  w->took_over += stale;
  /* the claim on disk carries the attempt and, from now on, the progress */
  sweep_child c;
  const run_outcome out = train_claimed(w, job, &me, cpath, &c);
  const double took = sweep_now() - c.start;
  w->child_seconds += took;
  char t[32], line[1024];
  sweep_fmt_time(took, t, sizeof t);
  switch (out) {
  case RUN_OK:
    sweep_claim_release(cpath, &me);
    w->done++;
    w->finished[job] = true;
    say("finished %s in %s\n", shown(w, job), t);
    break;
  case RUN_INTERRUPTED:
    sweep_claim_release(cpath, &me);
    w->interrupted++;
    say("interrupted %s at iteration %ld/%ld: checkpoint saved, the next worker resumes it\n",
        shown(w, job), c.iter, c.iters);
    note(w, shown(w, job), "interrupted (resumes from its checkpoint)");
    break;
  case RUN_LOST:
    w->lost++;
    say("lost %s: another worker took its claim over (this worker had not refreshed it for "
        "%.0f s); stopped it\n",
        shown(w, job), w->o->claim_timeout);
    note(w, shown(w, job), "lost to another worker");
    break;
  case RUN_FAILED:
    /* the record first: when the claim goes, the others see the count */
    if (sweep_state_record_failure(w->p, job, c.last) != DNL_OK) {
      fprintf(stderr, "runner sweep: warning: %s\n", dnl_last_error());
      dnl_clear_error();
    }
    sweep_claim_release(cpath, &me);
    w->failed++;
    snprintf(line, sizeof line, "failed (attempt %d of %d): %s", me.attempt, w->o->retries + 1,
             c.last);
    say("FAILED %s in %s: %s (log %s)\n", shown(w, job), t, line, j->log);
    note(w, shown(w, job), line);
    break;
  }
  return true;
}

static bool claimable(const worker *w, long i) {
  const sweep_job *j = &w->p->jobs[i];
  const sweep_state_kind k = w->states[i].kind;
  return j->selected && (k == SWEEP_PENDING || k == SWEEP_INTERRUPTED || k == SWEEP_STALE) &&
         (j->after < 0 || w->states[j->after].kind == SWEEP_FINISHED);
}

/* Reports newly skipped and failed-for-good runs, once each. */
static void announce(worker *w) {
  for (long i = 0; i < w->p->njobs; i++) {
    const sweep_job_state *s = &w->states[i];
    if (w->announced[i] || !w->p->jobs[i].selected ||
        (s->kind != SWEEP_SKIPPED && s->kind != SWEEP_FAILED))
      continue;
    w->announced[i] = true;
    char what[700];
    snprintf(what, sizeof what, "%s: %s", s->kind == SWEEP_SKIPPED ? "skipped" : "failed for good",
             s->reason);
    say("%s %s\n", s->kind == SWEEP_SKIPPED ? "skipped" : "failed", shown(w, i));
    w->skipped += s->kind == SWEEP_SKIPPED;
    note(w, shown(w, i), what);
  }
}

/* Whether there is anything to wait for: a run whose stage run is still to
 * come, or a run claimed by a worker not yet seen alive (its heartbeat has
 * not moved since this worker looked first: it may be dead, and its claim
 * then goes stale and is taken over). */
static bool worth_waiting(worker *w, char *why, size_t len) {
  why[0] = '\0';
  for (long i = 0; i < w->p->njobs; i++) {
    const sweep_job *j = &w->p->jobs[i];
    const sweep_job_state *s = &w->states[i];
    if (!j->selected)
      continue;
    if ((s->kind == SWEEP_PENDING || s->kind == SWEEP_INTERRUPTED || s->kind == SWEEP_STALE) &&
        j->after >= 0 && w->states[j->after].kind != SWEEP_FINISHED) {
      const sweep_job_state *d = &w->states[j->after];
      if (d->kind == SWEEP_RUNNING)
        snprintf(why, len, "%s waits for stage run %s (trained by %s:%ld)", j->name,
                 w->p->jobs[j->after].name, d->claim.host, d->claim.pid);
      else
        snprintf(why, len, "%s waits for stage run %s (%s)", j->name, w->p->jobs[j->after].name,
                 sweep_state_name(d->kind));
      return true;
    }
    if (s->kind == SWEEP_RUNNING && !w->alive[i]) {
      if (w->seen_hb[i] < 0)
        w->seen_hb[i] = s->claim.heartbeat;
      else if (s->claim.heartbeat != w->seen_hb[i])
        w->alive[i] = true;
      if (!w->alive[i]) {
        snprintf(why, len,
                 "watching %s (claimed by %s:%ld) until its heartbeat moves or goes "
                 "stale",
                 j->name, s->claim.host, s->claim.pid);
        return true;
      }
    }
  }
  return false;
}

static int finish(worker *w, double t0) {
  const double wall = sweep_now() - t0;
  const double machinery = wall - w->child_seconds - w->idle_seconds;
  say("worker %s:%ld done: claimed %ld (%ld finished, %ld failed, %ld interrupted, %ld lost), "
      "took over %ld, saw %ld skipped; %.1f s training, %.1f s waiting, worker machinery %.3f s "
      "(%.3f s per claimed run)\n",
      w->host, (long)getpid(), w->claimed, w->done, w->failed, w->interrupted, w->lost,
      w->took_over, w->skipped, w->child_seconds, w->idle_seconds, machinery,
      w->claimed ? machinery / (double)w->claimed : 0.0);
  if (w->summary_used)
    say("%s", w->summary);
  if (stop_signal)
    return SWEEP_EXIT_INTERRUPTED;
  return w->failed || w->skipped || w->lost ? 1 : 0;
}

int sweep_run_worker(const sweep *sw, const sweep_plan *p, const sweep_worker_opts *o) {
  const double t0 = o->started > 0 ? o->started : sweep_now();
  worker w = {.sw = sw, .p = p, .o = o};
  w.so = (sweep_state_opts){.timeout = o->claim_timeout, .retries = o->retries, .quiet = o->quiet};
  w.beat = o->claim_timeout / 10 > 30 ? 30 : o->claim_timeout / 10;
  /* a Slurm task uses the CPUs it was given */
  const char *slurm_cpus = getenv("SLURM_CPUS_PER_TASK");
  if (!slurm_cpus)
    slurm_cpus = getenv("SLURM_CPUS_ON_NODE");
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  w.threads = o->threads                           ? o->threads
              : slurm_cpus && atoi(slurm_cpus) > 0 ? atoi(slurm_cpus)
                                                   : (int)(cores > 0 ? cores : 1);
  if (gethostname(w.host, sizeof w.host - 1) != 0)
    snprintf(w.host, sizeof w.host, "unknown");
  w.states = calloc((size_t)p->njobs, sizeof *w.states);
  w.finished = calloc((size_t)p->njobs, sizeof *w.finished);
  w.announced = calloc((size_t)p->njobs, sizeof *w.announced);
  w.seen_hb = calloc((size_t)p->njobs, sizeof *w.seen_hb);
  w.alive = calloc((size_t)p->njobs, sizeof *w.alive);
  char claims[1400];
  snprintf(claims, sizeof claims, "%s/claims/stages", p->dir);
  int rc = 0;
  if (!w.states || !w.finished || !w.announced || !w.seen_hb || !w.alive) {
    fprintf(stderr, "runner sweep: out of memory\n");
    rc = 1;
  } else if (fs_mkdirs(claims) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    rc = 1;
  }
  struct sigaction sa = {.sa_handler = on_stop}, old_term, old_int;
  sigemptyset(&sa.sa_mask); /* no SA_RESTART: a signal ends the wait at once */
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGINT, &sa, &old_int);
  stop_signal = 0;
  for (long i = 0; !rc && i < p->njobs; i++) {
    w.finished[i] = p->jobs[i].selected && p->jobs[i].finished;
    w.seen_hb[i] = -1;
  }
  if (!rc)
    say("worker %s:%ld: sweep %s, %ld runs (%ld finished already), claim timeout %.0f s, %d "
        "threads per run\n",
        w.host, (long)getpid(), sw->name, p->selected, p->finished, o->claim_timeout, w.threads);
  const double poll_s = o->claim_timeout / 4 < 1.0 ? o->claim_timeout / 4 : 1.0;
  while (!rc && !stop_signal) {
    if (sweep_state_scan(p, &w.so, w.states, w.finished) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      rc = 1;
      break;
    }
    announce(&w);
    /* the first claimable run; one that another worker claimed first is
     * passed over without a new scan */
    bool worked = false;
    for (long i = 0; i < p->njobs && !worked && !stop_signal; i++) {
      if (!claimable(&w, i))
        continue;
      worked = work_on(&w, i);
      if (!worked)
        w.states[i].kind = SWEEP_RUNNING;
    }
    if (worked) {
      w.wait_reason[0] = '\0';
      continue;
    }
    char why[1100];
    if (!worth_waiting(&w, why, sizeof why))
      break;
    if (strcmp(why, w.wait_reason)) {
      say("waiting: %s\n", why);
      snprintf(w.wait_reason, sizeof w.wait_reason, "%s", why);
    }
    const double t = sweep_now();
    struct timespec ts = {(time_t)poll_s, (long)((poll_s - (double)(time_t)poll_s) * 1e9)};
    nanosleep(&ts, NULL);
    w.idle_seconds += sweep_now() - t;
  }
  if (!rc)
    rc = finish(&w, t0);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGINT, &old_int, NULL);
  free(w.states);
  free(w.finished);
  free(w.announced);
  free(w.seen_hb);
  free(w.alive);
  return rc;
}
