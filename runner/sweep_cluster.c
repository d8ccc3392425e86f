#include "runner/sweep_cluster.h"

#include <stdlib.h>
#include <string.h>

#include "runner/sweep_plan.h"
#include "runner/sweep_slurm.h"
#include "runner/sweep_status.h"
#include "runner/sweep_worker.h"

void sweep_cluster_defaults(sweep_cluster_args *c) {
  memset(c, 0, sizeof *c);
  c->claim_timeout = 120;
  c->retries = 1;
}

void sweep_cluster_usage(FILE *f) {
  fprintf(f,
          "  on clusters (docs/cluster.md):\n"
          "  --worker       claim one pending run at a time and train it, until none is left;\n"
          "                 any number of workers on any machines may share the results folder\n"
          "    --claim-timeout S  a claim whose heartbeat is older is taken over (default 120)\n"
          "    --retries N        a failed run is tried again N times (default 1)\n"
          "    --gpus-per-run G   each run data-parallel over G ranks (one per GPU)\n"
          "    --launcher CMD     starts those ranks (default: srun in Slurm, else mpirun)\n"
          "  --slurm        write results/<sweep>/slurm/<sweep>.sbatch (an array job of workers,\n"
          "                 one task per pending run) and submit it with sbatch; with --dry-run\n"
          "                 print it instead\n"
          "    --partition P  --time T  --account A  --cpus-per-run C  --gpus-per-run G\n"
          "    --max-parallel K   at most K tasks at once (--array=0-N%%K)\n"
          "    --requeue          on SIGTERM (preemption, --signal=B:TERM@120 before the time\n"
          "                       limit) checkpoint, and requeue the task, which resumes\n"
          "    --extra 'LINE'     an #SBATCH line of your own (repeatable)\n"
          "  --status       every run: finished, running (host, heartbeat, iteration),\n"
          "                 interrupted, failed (reason), skipped or pending; and squeue's view\n");
}

static int positive(const char *opt, const char *v, int *out) {
  char *end = NULL;
  long n = strtol(v, &end, 10);
  if (!*v || *end || n < 1 || n > 100000) {
    fprintf(stderr, "runner sweep: %s %s: expected a positive number\n", opt, v);
    return 2;
  }
  *out = (int)n;
  return 1;
}

int sweep_cluster_parse(int argc, char **argv, int *i, sweep_cluster_args *c) {
  const char *s = argv[*i];
  const bool has_value = *i + 1 < argc;
  const char *v = has_value ? argv[*i + 1] : NULL;
  if (!strcmp(s, "--worker")) {
    c->worker = true;
    return 1;
  }
  if (!strcmp(s, "--status")) {
    c->status = true;
    return 1;
  }
  if (!strcmp(s, "--slurm")) {
    c->slurm = true;
    return 1;
  }
  if (!strcmp(s, "--requeue")) {
    c->requeue = true;
    c->slurm_option = c->slurm_option ? c->slurm_option : s;
    return 1;
  }
  if (!has_value)
    return 0;
  int rc = 0;
  if (!strcmp(s, "--claim-timeout")) {
    char *end = NULL;
    c->claim_timeout = strtod(v, &end);
    if (!*v || *end || !(c->claim_timeout >= 1 && c->claim_timeout <= 86400)) {
      fprintf(stderr, "runner sweep: --claim-timeout %s: expected seconds, 1..86400\n", v);
      return 2;
    }
    rc = 1;
  } else if (!strcmp(s, "--retries")) {
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || n > 100) {
      fprintf(stderr, "runner sweep: --retries %s: expected 0..100\n", v);
      return 2;
    }
    c->retries = (int)n;
    rc = 1;
  } else if (!strcmp(s, "--gpus-per-run")) {
    rc = positive(s, v, &c->gpus_per_run);
  } else if (!strcmp(s, "--launcher")) {
    c->launcher = v;
    rc = 1;
  } else {
    const char **str = !strcmp(s, "--partition") ? &c->partition
                       : !strcmp(s, "--time")    ? &c->time
                       : !strcmp(s, "--account") ? &c->account
                                                 : NULL;
    if (str) {
      *str = v;
      rc = 1;
    } else if (!strcmp(s, "--cpus-per-run")) {
      rc = positive(s, v, &c->cpus_per_run);
    } else if (!strcmp(s, "--max-parallel")) {
      rc = positive(s, v, &c->max_parallel);
    } else if (!strcmp(s, "--extra")) {
      if (c->nextra == SWEEP_MAX_EXTRA) {
        fprintf(stderr, "runner sweep: --extra: at most %d lines\n", SWEEP_MAX_EXTRA);
        return 2;
      }
      if (strchr(v, '\n')) {
        fprintf(stderr, "runner sweep: --extra '%s': one #SBATCH line without newlines\n", v);
        return 2;
      }
      c->extra[c->nextra++] = v;
      rc = 1;
    } else {
      return 0;
    }
    c->slurm_option = c->slurm_option ? c->slurm_option : s;
  }
  if (rc == 1)
    (*i)++;
  return rc;
}

bool sweep_cluster_mode(const sweep_cluster_args *c) { return c->worker || c->slurm || c->status; }

int sweep_cluster_check(const sweep_cluster_args *c, const sweep_common_args *a) {
  if (c->worker + c->slurm + c->status > 1) {
    fprintf(stderr, "runner sweep: --worker, --slurm and --status are separate modes: give one\n");
    return 2;
  }
  if (c->slurm_option && !c->slurm) {
    fprintf(stderr, "runner sweep: %s belongs to --slurm\n", c->slurm_option);
    return 2;
  }
  if (sweep_cluster_mode(c) && a->jobs > 1) {
    fprintf(stderr, "runner sweep: --jobs runs on one machine; start several --worker "
                    "processes instead\n");
    return 2;
  }
  if ((c->worker || c->status) && a->dry_run) {
    fprintf(stderr, "runner sweep: --dry-run goes with the plain sweep or --slurm\n");
    return 2;
  }
  if (c->launcher && c->gpus_per_run < 2) {
    fprintf(stderr, "runner sweep: --launcher starts the ranks of --gpus-per-run 2 or more\n");
    return 2;
  }
  return 0;
}

int sweep_cluster_main(const sweep *sw, const sweep_common_args *a, const sweep_cluster_args *c) {
  if (c->slurm && !a->dry_run && !sweep_on_path("sbatch")) {
    fprintf(stderr, "runner sweep: --slurm: no sbatch on PATH (Slurm's client commands are not "
                    "installed here, or this is not a Slurm login node); --dry-run still writes "
                    "and prints the scripts\n");
    return 1;
  }
  sweep_plan p;
  /* workers and Slurm tasks find their configs and data ready */
  const bool prepare = c->worker || (c->slurm && !a->dry_run);
  dnl_status st = sweep_plan_make(sw, a->out_dir, a->only, &p);
  if (st == DNL_OK && !c->status && !(c->slurm && a->dry_run))
    st = sweep_plan_check_folder(sw, &p);
  if (st == DNL_OK && prepare)
    st = sweep_plan_prepare(sw, a->out_dir, &p);
  if (st != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    sweep_plan_free(&p);
    return 1;
  }
  int rc;
  if (c->status) {
    rc = sweep_print_status(sw, &p, c);
  } else if (c->slurm) {
    rc = sweep_slurm_submit(sw, &p, a, c);
  } else {
    sweep_worker_opts o = {.threads = a->threads,
                           .claim_timeout = c->claim_timeout,
                           .retries = c->retries,
                           .gpus_per_run = c->gpus_per_run,
                           .launcher = c->launcher,
                           .quiet = a->quiet,
                           .started = a->started};
    rc = sweep_run_worker(sw, &p, &o);
  }
  sweep_plan_free(&p);
  return rc;
}
