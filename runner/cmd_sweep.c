/* The sweep command: its arguments, --dry-run, and the modes. On one machine
 * (runner/sweep_local.c) every run is a child process (`runner train RUN.cfg
 * --resume`), so that one run's crash cannot take the sweep down and --jobs N
 * can run N at a time with the threads split, and runs on cuda one per GPU
 * when several are visible. The children's output goes to
 * results/<sweep>/<run>.log; the parent shows one progress line for the whole
 * sweep. Stage runs (runner/sweep.h) live in results/<sweep>/stages/. */
#include "runner/cmd_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "runner/cmd_run.h"
#include "runner/estimate.h"
#include "runner/sweep.h"
#include "runner/sweep_child.h"
#include "runner/sweep_cluster.h"
#include "runner/sweep_local.h"
#include "runner/sweep_plan.h"
#include "runner/sweep_eval.h"

typedef struct sweep_args {
  const char *file;
  const char *only;
  const char *out_dir;
  int jobs, threads;
  int gpus; /* --dry-run: data-parallel processes the memory is split over */
  bool dry_run, quiet, eval_only;
  sweep_cluster_args cluster; /* --worker, --slurm, --status and their options */
  sweep_eval_opts eval;       /* --eval-only: checkpoint_dir, device */
} sweep_args;

static int usage(FILE *f, int rc) {
  fprintf(f,
          "usage: runner sweep SWEEP.cfg [--jobs N] [--threads T] [--only PATTERN] [--dry-run]\n"
          "                    [--out DIR] [--quiet]\n"
          "  trains and evaluates every run of the sweep's matrix into DIR/<sweep>/<run>.h5\n"
          "  (DIR: results), its stage runs first into DIR/<sweep>/stages/. Finished runs are\n"
          "  skipped, interrupted ones resume.\n"
          "  --jobs N       runs at a time (the threads are split between them)\n"
          "  --threads T    threads in all (default: the cores)\n"
          "  --only PAT     only runs whose name matches the shell pattern (e.g. 'dnl*'), and\n"
          "                 the stage runs they start from\n"
          "  --dry-run      list the runs, their settings, parameters, FLOPs and memory\n"
          "  --gpus N       with --dry-run: memory per process when the batch is split over N\n"
          "  --eval-only --checkpoint-dir DIR [--device cpu|cuda]\n"
          "                 evaluate the runs whose weights are DIR/<run>.pth / .h5 (the\n"
          "                 authors' models: docs/pretrained.md) into\n"
          "                 <--out>/<sweep>-published/<run>.h5; the others are skipped\n");
  sweep_cluster_usage(f);
  return rc;
}

static int parse(int argc, char **argv, sweep_args *a) {
  memset(a, 0, sizeof *a);
  a->jobs = 1;
  a->out_dir = "results";
  sweep_cluster_defaults(&a->cluster);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    const int cl = sweep_cluster_parse(argc, argv, &i, &a->cluster);
    if (cl == 2)
      return 2;
    if (cl == 1)
      continue;
    if (!strcmp(s, "--jobs") && i + 1 < argc) {
      a->jobs = atoi(argv[++i]);
      if (a->jobs < 1 || a->jobs > SWEEP_MAX_JOBS) {
        fprintf(stderr, "runner sweep: --jobs %s: expected 1..%d\n", argv[i], SWEEP_MAX_JOBS);
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
  return sweep_cluster_check(&a->cluster,
                             &(sweep_common_args){.jobs = a->jobs, .dry_run = a->dry_run});
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

static void print_stages(const sweep *sw) {
  for (int i = 0; i < sw->nstages; i++) {
    const sweep_stage *st = &sw->stages[i];
    char over[256] = "";
    size_t u = 0;
    for (int k = 0; k < st->nover && u < sizeof over; k++)
      u += (size_t)snprintf(over + u, sizeof over - u, "%s%s", k ? ", " : "",
                            sw->axes[st->over[k]].key);
    printf("stage %s: %ld run%s%s%s%s%s%s\n", st->name, st->nruns, st->nruns == 1 ? "" : "s",
           st->nover ? " (one per " : "", over, st->nover ? ")" : "",
           st->after >= 0 ? ", starts from stage " : "",
           st->after >= 0 ? sw->stages[st->after].name : "");
  }
  if (sw->after >= 0)
    printf("the runs start from stage %s\n", sw->stages[sw->after].name);
}

/* One job of the dry run: settings, costs, data and weights; false when its
 * data or weights are missing. */
static int dry_run_job(const sweep_args *a, const sweep *sw, const sweep_plan *p, long i,
                       bool *missing) {
  const sweep_job *j = &p->jobs[i];
  sweep_run run;
  run_config rc;
  if (sweep_job_make(sw, i, a->out_dir, &run) != DNL_OK ||
      run_config_read(&run.config, &rc) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    sweep_run_free(&run);
    return 1;
  }
  dataset_info info;
  run_estimate est;
  char blk[512];
  block_config rb;
  if (dataset_info_get(rc.dataset, &info) != DNL_OK ||
      run_estimate_cost(&rc, info.num_classes, &est) != DNL_OK ||
      block_config_resolve(&rc.net.block, &rb) != DNL_OK) {
    fprintf(stderr, "runner sweep: run %s: %s\n", run.name, dnl_last_error());
    sweep_run_free(&run);
    return 1;
  }
  printf("%s%-32s %s\n", j->stage ? "stages/" : "", j->name,
         j->finished ? "(finished: skipped)" : "");
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
         est.activation_bytes / rc.batch / 1e6, (est.param_bytes + est.activation_bytes) / 1e6,
         rc.batch);
  if (a->gpus > 1) {
    if (rc.batch % a->gpus)
      printf("    per GPU: batch %d does not split over %d GPUs\n", rc.batch, a->gpus);
    else
      printf("    per GPU (%d images each on %d GPUs): ~%.0f MB\n", rc.batch / a->gpus, a->gpus,
             (est.param_bytes + est.activation_bytes / rc.batch * (rc.batch / a->gpus)) / 1e6);
  }
  if (strcmp(rc.dataset, "synth")) {
    int ntrain = 0, nval = 0;
    if (data_present(&rc, &ntrain, &nval))
      printf("    data: present (%d training, %d validation images)\n", ntrain, nval);
    else {
      printf("    data: MISSING: %s\n", dnl_last_error());
      *missing = true;
    }
  } else {
    printf("    data: synthetic, generated under %s on first use\n", rc.root);
  }
  char only[600] = "";
  for (int k = 0, u = 0; k < rc.n_init_only && u < (int)sizeof only; k++)
    u += snprintf(only + u, sizeof only - (size_t)u, "%s%s%s", k ? ", " : " (only ",
                  rc.init_only[k], k + 1 == rc.n_init_only ? ")" : "");
  if (j->after >= 0) {
    const sweep_job *dep = &p->jobs[j->after];
    printf("    weights: the final weights of stage run %s%s, %s\n", dep->name, only,
           dep->finished ? "finished" : "trained first");
  } else if (rc.init[0] && access(rc.init, R_OK) == 0) {
    printf("    weights: %s%s\n", rc.init, only);
  } else if (rc.init[0]) {
    printf("    weights: MISSING: %s (model.init; convert with runner import)\n", rc.init);
    *missing = true;
  }
  sweep_run_free(&run);
  return 0;
}

static int dry_run(const sweep_args *a, const sweep *sw) {
  sweep_plan p;
  if (sweep_plan_make(sw, a->out_dir, a->only, &p) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    sweep_plan_free(&p);
    return 1;
  }
  printf("sweep %s: %ld runs", sw->name, sw->nruns);
  if (sw->nstage_runs)
    printf(" and %ld stage runs", sw->nstage_runs);
  printf(" (base %s)\n", sw->base);
  print_stages(sw);
  bool missing = false;
  int rc = 0;
  for (long i = 0; i < p.njobs && !rc; i++)
    if (p.jobs[i].selected)
      rc = dry_run_job(a, sw, &p, i, &missing);
  sweep_plan_free(&p);
  if (!rc && missing) {
    fprintf(stderr, "runner sweep: some runs lack their data or weights (see above)\n");
    return 1;
  }
  return rc;
}

int cmd_sweep(int argc, char **argv) {
  const double started = sweep_now();
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
  if (sweep_cluster_mode(&a.cluster)) {
    sweep_common_args common = {.file = a.file,
                                .out_dir = a.out_dir,
                                .only = a.only,
                                .threads = a.threads,
                                .jobs = a.jobs,
                                .dry_run = a.dry_run,
                                .quiet = a.quiet,
                                .started = started};
    rc = sweep_cluster_main(&sw, &common, &a.cluster);
    sweep_free(&sw);
    return rc;
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
  sweep_plan p;
  if (sweep_plan_make(&sw, a.out_dir, a.only, &p) != DNL_OK ||
      sweep_plan_check_folder(&sw, &p) != DNL_OK ||
      sweep_plan_prepare(&sw, a.out_dir, &p) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    rc = 1;
  } else {
    sweep_local_opts lo = {.jobs = a.jobs, .threads = a.threads, .quiet = a.quiet};
    rc = sweep_run_local(&sw, &p, &lo);
  }
  sweep_plan_free(&p);
  sweep_free(&sw);
  return rc;
}
