/* The sweep command: every run of the matrix is a child process
 * (`runner train RUN.cfg --resume`), so that one run's crash cannot take the
 * sweep down and --jobs N can run N at a time with the threads split, and
 * runs on cuda one per GPU when several are visible. The children's output
 * goes to results/<sweep>/<run>.log; the parent shows one progress line for
 * the whole sweep. */
#include "runner/cmd_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/fsutil.h"
#include "lib/store/file_atomic.h"
#include "lib/store/results_read.h"
#include "runner/cmd_run.h"
#include "runner/estimate.h"
#include "runner/gpu_slots.h"
#include "runner/session.h"
#include "runner/sweep.h"
#include "runner/sweep_eval.h"

#define MAX_JOBS 64

typedef struct sweep_args {
  const char *file;
  const char *only;
  const char *out_dir;
  int jobs, threads;
  int gpus; /* --dry-run: data-parallel processes the memory is split over */
  bool dry_run, quiet, eval_only;
  sweep_eval_opts eval; /* --eval-only: checkpoint_dir, device */
} sweep_args;

typedef struct child {
  pid_t pid;
  int fd;         /* read end of its stderr/stdout */
  FILE *log;
  long run;
  char name[256];
  long iter, iters;
  char line[512]; /* partial line */
  size_t line_len;
  char last[512]; /* last complete line (shown when it fails) */
  double start;
  int gpu; /* its slot among the sweep's GPUs, -1 when not placed */
} child;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fmt_time(double s, char *buf, size_t len) {
  long v = (long)(s + 0.5);
  if (v >= 3600)
    snprintf(buf, len, "%ldh%02ldm", v / 3600, (v / 60) % 60);
  else
    snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
}

static int usage(FILE *f, int rc) {
  fprintf(f,
          "usage: runner sweep SWEEP.cfg [--jobs N] [--threads T] [--only PATTERN] [--dry-run]\n"
          "                    [--out DIR] [--quiet]\n"
          "  trains and evaluates every run of the sweep's matrix into DIR/<sweep>/<run>.h5\n"
          "  (DIR: results). Finished runs are skipped, interrupted ones resume.\n"
          "  --jobs N       runs at a time (the threads are split between them)\n"
          "  --threads T    threads in all (default: the cores)\n"
          "  --only PAT     only runs whose name matches the shell pattern (e.g. 'dnl*')\n"
          "  --dry-run      list the runs, their settings, parameters, FLOPs and memory\n"
          "  --gpus N       with --dry-run: memory per process when the batch is split over N\n"
          "  --eval-only --checkpoint-dir DIR [--device cpu|cuda]\n"
          "                 evaluate the runs whose weights are DIR/<run>.pth / .h5 (the\n"
          "                 authors' models: docs/pretrained.md) into\n"
          "                 <--out>/<sweep>-published/<run>.h5; the others are skipped\n");
  return rc;
}

static int parse(int argc, char **argv, sweep_args *a) {
  memset(a, 0, sizeof *a);
  a->jobs = 1;
  a->out_dir = "results";
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!strcmp(s, "--jobs") && i + 1 < argc) {
      a->jobs = atoi(argv[++i]);
      if (a->jobs < 1 || a->jobs > MAX_JOBS) {
        fprintf(stderr, "runner sweep: --jobs %s: expected 1..%d\n", argv[i], MAX_JOBS);
        return 2;
      }
    } else if (!strcmp(s, "--threads") && i + 1 < argc) {
      a->threads = atoi(argv[++i]);
      if (a->threads < 1) {
        fprintf(stderr, "runner sweep: --threads %s: expected a positive number\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(s, "--only") && i + 1 < argc) {
      a->only = argv[++i];
    } else if (!strcmp(s, "--out") && i + 1 < argc) {
      a->out_dir = argv[++i];
    } else if (!strcmp(s, "--gpus") && i + 1 < argc) {
      a->gpus = atoi(argv[++i]);
      if (a->gpus < 1) {
        fprintf(stderr, "runner sweep: --gpus %s: expected a positive number\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(s, "--eval-only")) {
      a->eval_only = true;
    } else if (!strcmp(s, "--checkpoint-dir") && i + 1 < argc) {
      a->eval.checkpoint_dir = argv[++i];
    } else if (!strcmp(s, "--device") && i + 1 < argc) {
      if (!(a->eval.device = cmd_device_override("sweep", argv[++i])))
        return 2;
    } else if (!strcmp(s, "--dry-run")) {
      a->dry_run = true;
    } else if (!strcmp(s, "--quiet")) {
      a->quiet = true;
    } else if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
      return usage(stdout, 1);
    } else if (s[0] == '-' || a->file) {
      fprintf(stderr, "runner sweep: unexpected argument '%s'\n", s);
      return usage(stderr, 2);
    } else {
      a->file = s;
    }
  }
  if (!a->file) {
    fprintf(stderr, "runner sweep: missing the sweep file\n");
    return usage(stderr, 2);
  }
  if (a->eval_only != !!a->eval.checkpoint_dir || (a->eval.device && !a->eval_only)) {
    fprintf(stderr, "runner sweep: --eval-only and --checkpoint-dir go together (--device "
                    "with them)\n");
    return usage(stderr, 2);
  }
  return 0;
}

/* Writes text to path through a temporary file and a rename (lib/store/file_atomic.h). */
static dnl_status write_atomic(const char *path, const char *text) {
  char tmp[1400];
  DNL_TRY(file_atomic_tmp_name(path, tmp, sizeof tmp));
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

static bool run_finished(const char *result_path) {
  if (access(result_path, R_OK) != 0)
    return false;
  results_data d;
  if (results_read(result_path, &d) != DNL_OK) {
    dnl_clear_error();
    return false;
  }
  bool done = d.finished;
  results_data_free(&d);
  return done;
}

static void paths(const sweep_args *a, const sweep *sw, const char *run, const char *ext,
                  char *out, size_t len) {
  snprintf(out, len, "%s/%s/%s%s", a->out_dir, sw->name, run, ext);
}

static bool data_present(const run_config *rc, int *ntrain, int *nval) {
  dataset *ds;
  if (dataset_open(rc->dataset, rc->root, rc->train_split, &ds) != DNL_OK)
    return false;
  *ntrain = dataset_size(ds);
  dataset_close(ds);
  if (dataset_open(rc->dataset, rc->root, rc->val_split, &ds) != DNL_OK)
    return false;
  *nval = dataset_size(ds);
  dataset_close(ds);
  return true;
}

static int dry_run(const sweep_args *a, const sweep *sw) {
  printf("sweep %s: %ld runs (base %s)\n", sw->name, sw->nruns, sw->base);
  int shown = 0, missing = 0;
  for (long r = 0; r < sw->nruns; r++) {
    sweep_run run;
    run_config rc;
    if (sweep_run_make(sw, r, a->out_dir, &run) != DNL_OK ||
        run_config_read(&run.config, &rc) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      return 1;
    }
    if (a->only && !sweep_name_matches(run.name, a->only)) {
      sweep_run_free(&run);
      continue;
    }
    dataset_info info;
    run_estimate est;
    char blk[512];
    if (dataset_info_get(rc.dataset, &info) != DNL_OK ||
        run_estimate_cost(&rc, info.num_classes, &est) != DNL_OK) {
      fprintf(stderr, "runner sweep: run %s: %s\n", run.name, dnl_last_error());
      sweep_run_free(&run);
      return 1;
    }
    char result[1300];
    paths(a, sw, run.name, ".h5", result, sizeof result);
    printf("%-32s %s\n", run.name, run_finished(result) ? "(finished: skipped)" : "");
    block_config rb;
    if (block_config_resolve(&rc.net.block, &rb) != DNL_OK) {
      fprintf(stderr, "runner sweep: run %s: %s\n", run.name, dnl_last_error());
      sweep_run_free(&run);
      return 1;
    }
    printf("    block: %s%s%s\n", block_config_format(&rb, blk, sizeof blk),
           rc.preset[0] ? "  preset " : "", rc.preset);
    printf("    data: %s %s, %d classes, batch %d, crop %d;  %ld iterations, lr %g, wd %g, "
           "seed %ld\n",
           rc.dataset, rc.root, info.num_classes, rc.batch, rc.crop, rc.iterations, rc.lr,
           rc.weight_decay, rc.seed);
    printf("    params %.3fM, %.1f GFLOP/iteration; memory estimate %.0f MB for parameters, "
           "gradients and momentum + %.0f MB of activations per image (%.0f MB for the batch "
           "of %d in one process)\n",
           est.params / 1e6, est.flops / 1e9, est.param_bytes / 1e6,
           est.activation_bytes / rc.batch / 1e6,
           (est.param_bytes + est.activation_bytes) / 1e6, rc.batch);
    if (a->gpus > 1) {
      if (rc.batch % a->gpus)
        printf("    per GPU: batch %d does not split over %d GPUs\n", rc.batch, a->gpus);
      else
        printf("    per GPU (%d images each on %d GPUs): ~%.0f MB\n", rc.batch / a->gpus,
               a->gpus,
               (est.param_bytes + est.activation_bytes / rc.batch * (rc.batch / a->gpus)) / 1e6);
    }
    if (strcmp(rc.dataset, "synth")) {
      int ntrain = 0, nval = 0;
      if (data_present(&rc, &ntrain, &nval))
        printf("    data: present (%d training, %d validation images)\n", ntrain, nval);
      else {
        printf("    data: MISSING: %s\n", dnl_last_error());
        missing++;
      }
    } else {
      printf("    data: synthetic, generated under %s on first use\n", rc.root);
    }
    if (rc.init[0] && access(rc.init, R_OK) == 0) {
      printf("    weights: %s\n", rc.init);
    } else if (rc.init[0]) {
      printf("    weights: MISSING: %s (model.init; convert with runner import)\n", rc.init);
      missing++;
    }
    shown++;
    sweep_run_free(&run);
  }
  if (a->only && !shown) {
    fprintf(stderr, "runner sweep: no run matches --only '%s'\n", a->only);
    return 1;
  }
  if (missing) {
    fprintf(stderr, "runner sweep: %d runs lack their data or weights (see above)\n", missing);
    return 1;
  }
  return 0;
}

/* gpu: the child's CUDA_VISIBLE_DEVICES, NULL to leave it as it is */
static dnl_status start_child(const sweep_args *a, const char *cfg_path, const char *log_path,
                              int threads, const char *gpu, child *c) {
  int fds[2];
  if (pipe(fds) != 0)
    return dnl_error(DNL_ERR_IO, "sweep: pipe: %s", strerror(errno));
  c->log = fopen(log_path, "a");
  if (!c->log) {
    close(fds[0]);
    close(fds[1]);
    return dnl_error(DNL_ERR_IO, "%s: cannot write the log (%s)", log_path, strerror(errno));
  }
  char set_threads[64];
  snprintf(set_threads, sizeof set_threads, "threads=%d", threads);
  pid_t pid = fork();
  if (pid < 0) {
    fclose(c->log);
    close(fds[0]);
    close(fds[1]);
    return dnl_error(DNL_ERR_IO, "sweep: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (gpu)
      setenv("CUDA_VISIBLE_DEVICES", gpu, 1);
    char *argv[] = {"runner", "train", (char *)cfg_path, "--resume", "--set", set_threads, NULL};
    execv("/proc/self/exe", argv);
    fprintf(stderr, "runner sweep: cannot start runner train: %s\n", strerror(errno));
    _exit(127);
  }
  (void)a;
  close(fds[1]);
  c->pid = pid;
  c->fd = fds[0];
  c->line_len = 0;
  c->last[0] = '\0';
  c->iter = 0;
  c->start = now();
  return DNL_OK;
}

/* Consumes what the child wrote: into its log, progress from "iter I/N". */
static bool read_child(child *c) {
  char buf[4096];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n <= 0)
    return false;
  fwrite(buf, 1, (size_t)n, c->log);
  fflush(c->log);
  for (ssize_t i = 0; i < n; i++) {
    char ch = buf[i];
    if (ch == '\n' || ch == '\r') {
      c->line[c->line_len] = '\0';
      if (c->line_len) {
        memcpy(c->last, c->line, c->line_len + 1);
        const char *p = strstr(c->line, " iter ");
        long it, total;
        if (p && sscanf(p, " iter %ld/%ld", &it, &total) == 2) {
          c->iter = it;
          c->iters = total;
        }
      }
      c->line_len = 0;
    } else if (c->line_len + 1 < sizeof c->line) {
      c->line[c->line_len++] = ch;
    }
  }
  return true;
}

static void show_progress(const sweep *sw, child *kids, int nkids, long done, long total,
                          double avg, int jobs, bool tty) {
  if (!tty)
    return;
  char line[1024];
  size_t u = (size_t)snprintf(line, sizeof line, "[sweep %s] %ld/%ld done", sw->name, done, total);
  for (int i = 0; i < nkids && u < sizeof line; i++)
    u += (size_t)snprintf(line + u, sizeof line - u, " | %s %ld/%ld", kids[i].name, kids[i].iter,
                          kids[i].iters);
  if (avg > 0 && u < sizeof line) {
    char eta[32];
    double left = avg * (double)(total - done) / jobs;
    fmt_time(left, eta, sizeof eta);
    snprintf(line + u, sizeof line - u, " | ETA %s", eta);
  }
  fprintf(stderr, "\r\033[K%.*s", 200, line);
}

int cmd_sweep(int argc, char **argv) {
  sweep_args a;
  int rc = parse(argc, argv, &a);
  if (rc)
    return rc == 1 ? 0 : rc;
  sweep sw;
  if (sweep_load(&sw, a.file) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    sweep_free(&sw);
    return 1;
  }
  if (a.dry_run) {
    rc = dry_run(&a, &sw);
    sweep_free(&sw);
    return rc;
  }
  if (a.eval_only) {
    a.eval = (sweep_eval_opts){a.eval.checkpoint_dir, a.out_dir, a.only, a.eval.device,
                               a.threads, a.quiet};
    rc = sweep_eval(&sw, &a.eval);
    sweep_free(&sw);
    return rc;
  }
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s", a.out_dir, sw.name);
  if (fs_mkdirs(dir) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    sweep_free(&sw);
    return 1;
  }
  int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  int total_threads = a.threads ? a.threads : (cores > 0 ? cores : 1);
  int per_job = total_threads / a.jobs > 0 ? total_threads / a.jobs : 1;

  /* the runs to do, their configs written beside the results */
  long *todo = calloc((size_t)sw.nruns, sizeof *todo);
  char (*names)[256] = calloc((size_t)sw.nruns, sizeof *names);
  bool *on_gpu = calloc((size_t)sw.nruns, sizeof *on_gpu);
  long ntodo = 0, skipped = 0, selected = 0;
  for (long r = 0; r < sw.nruns && todo && names && on_gpu; r++) {
    sweep_run run;
    if (sweep_run_make(&sw, r, a.out_dir, &run) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      rc = 1;
      break;
    }
    if (a.only && !sweep_name_matches(run.name, a.only)) {
      sweep_run_free(&run);
      continue;
    }
    selected++;
    run_config runc;
    if (run_config_read(&run.config, &runc) != DNL_OK ||
        (!strcmp(runc.dataset, "synth") && session_ensure_synth(&runc) != DNL_OK)) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      sweep_run_free(&run);
      rc = 1;
      break;
    }
    char result[1300], cfgp[1300];
    paths(&a, &sw, run.name, ".h5", result, sizeof result);
    paths(&a, &sw, run.name, ".cfg", cfgp, sizeof cfgp);
    snprintf(names[r], sizeof names[r], "%s", run.name);
    on_gpu[r] = runc.device == DEVICE_CUDA;
    char *text = NULL;
    if (run_finished(result)) {
      skipped++;
    } else if (cfg_to_string(&run.config, &text) != DNL_OK || write_atomic(cfgp, text) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      rc = 1;
    } else {
      todo[ntodo++] = r;
    }
    free(text);
    sweep_run_free(&run);
    if (rc)
      break;
  }
  if (!todo || !names || !on_gpu) {
    fprintf(stderr, "runner sweep: out of memory\n");
    rc = 1;
  }
  if (!rc && a.only && selected == 0) {
    fprintf(stderr, "runner sweep: no run matches --only '%s'\n", a.only);
    rc = 1;
  }
  const bool tty = isatty(STDERR_FILENO) && !a.quiet;
  if (!rc && !a.quiet)
    fprintf(stderr, "sweep %s: %ld runs, %ld finished already, %ld to run, %d at a time with "
                    "%d threads each; logs in %s/\n",
            sw.name, selected, skipped, ntodo, a.jobs, per_job, dir);
  gpu_slots gpus;
  gpu_slots_find(&gpus, getenv("CUDA_VISIBLE_DEVICES"), "/proc/driver/nvidia/gpus");
  const bool place = gpus.count > 1 && a.jobs > 1;
  if (!rc && !a.quiet && place)
    fprintf(stderr, "sweep %s: runs on cuda go one per GPU over %d GPUs\n", sw.name, gpus.count);

  child kids[MAX_JOBS];
  int nkids = 0;
  long next = 0, done = 0, failed = 0;
  double run_seconds = 0;
  char failures[4096] = "";
  size_t fu = 0;
  while (!rc && (next < ntodo || nkids > 0)) {
    while (nkids < a.jobs && next < ntodo) {
      long r = todo[next++];
      char cfgp[1300], logp[1300];
      paths(&a, &sw, names[r], ".cfg", cfgp, sizeof cfgp);
      paths(&a, &sw, names[r], ".log", logp, sizeof logp);
      child *c = &kids[nkids];
      memset(c, 0, sizeof *c);
      c->run = r;
      snprintf(c->name, sizeof c->name, "%s", names[r]);
      c->gpu = place && on_gpu[r] ? gpu_slots_take(&gpus) : -1;
      if (start_child(&a, cfgp, logp, per_job, c->gpu >= 0 ? gpus.id[c->gpu] : NULL, c) !=
          DNL_OK) {
        fprintf(stderr, "\nrunner sweep: %s\n", dnl_last_error());
        rc = 1;
        break;
      }
      nkids++;
      if (!tty && !a.quiet)
        fprintf(stderr, "[sweep %s] started %s%s%s\n", sw.name, c->name,
                c->gpu >= 0 ? " on GPU " : "", c->gpu >= 0 ? gpus.id[c->gpu] : "");
    }
    if (rc)
      break;
    struct pollfd pfd[MAX_JOBS];
    for (int i = 0; i < nkids; i++)
      pfd[i] = (struct pollfd){.fd = kids[i].fd, .events = POLLIN};
    if (poll(pfd, (nfds_t)nkids, 1000) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < nkids; i++) {
      if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (read_child(&kids[i]))
        continue;
      /* EOF: the child has ended */
      int status = 0;
      waitpid(kids[i].pid, &status, 0);
      close(kids[i].fd);
      fclose(kids[i].log);
      gpu_slots_release(&gpus, kids[i].gpu);
      double took = now() - kids[i].start;
      done++;
      run_seconds += took;
      bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      char t[32];
      fmt_time(took, t, sizeof t);
      if (!ok) {
        failed++;
        if (fu < sizeof failures)
          fu += (size_t)snprintf(failures + fu, sizeof failures - fu, "  %s: %s\n", kids[i].name,
                                 kids[i].last);
      }
      if (!a.quiet)
        fprintf(stderr, "%s[sweep %s] %s %s in %s\n", tty ? "\r\033[K" : "", sw.name,
                kids[i].name, ok ? "finished" : "FAILED", t);
      kids[i--] = kids[--nkids];
      pfd[i + 1] = pfd[nkids];
    }
    show_progress(&sw, kids, nkids, done, ntodo, done ? run_seconds / done : 0, a.jobs, tty);
  }
  if (tty)
    fprintf(stderr, "\r\033[K");
  for (int i = 0; i < nkids; i++) {
    kill(kids[i].pid, SIGTERM);
    waitpid(kids[i].pid, NULL, 0);
  }
  if (!rc && failed) {
    fprintf(stderr, "runner sweep: %ld of %ld runs failed (logs in %s/):\n%s", failed, ntodo, dir,
            failures);
    rc = 1;
  } else if (!rc && !a.quiet) {
    fprintf(stderr, "sweep %s: all %ld runs finished; results in %s/\n", sw.name, selected, dir);
  }
  free(todo);
  free(names);
  free(on_gpu);
  sweep_free(&sw);
  return rc;
}
