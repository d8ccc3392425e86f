#include "runner/train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/fsutil.h"
#include "data/loader.h"
#include "lib/core/version.h"
#include "lib/dist/dist.h"
#include "lib/layers/loss.h"
#include "lib/store/checkpoint.h"
#include "lib/store/results.h"
#include "runner/batch_stage.h"
#include "runner/evaluate.h"
#include "runner/model_init.h"
#include "runner/train_step.h"

volatile int train_interrupted;

static void on_signal(int sig) {
  (void)sig;
  train_interrupted = 1;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Sum of the class weights of the batch's valid pixels: the denominator of its
 * mean CE loss. */
static double label_weight_sum(const run_config *c, const loader_batch *b) {
  const size_t npix = (size_t)b->n * b->h * b->w;
  double sum = 0.0;
  for (size_t i = 0; i < npix; i++) {
    const int32_t y = b->labels[i];
    if (y < 0 || y == LOSS_IGNORE_LABEL)
      continue;
    sum += !c->n_class_weights ? 1.0 : y < c->n_class_weights ? c->class_weights[y] : 0.0;
  }
  return sum;
}

/* Data-parallel ranks sum their gradients, so each rank's loss enters with its
 * share of the global batch's loss. The CE loss is a mean over the global
 * batch's pixels (weighted by class): rank r's mean counts with r's weight sum
 * over the global sum, which makes the ranks' sum exactly one process's loss
 * (OHEM: runner/train_step.c). */
static dnl_status ce_share(session *s, const loader_batch *b, double *share) {
  *share = 1.0;
  if (dist_size(s->ctx.dist) == 1)
    return DNL_OK;
  const double mine = label_weight_sum(&s->cfg, b);
  double total = mine;
  DNL_TRY(dist_allreduce_sum(s->ctx.dist, &total, 1, DIST_F64, "loss weights"));
  *share = total > 0.0 ? mine / total : 0.0;
  return DNL_OK;
}

/* The next batch on the device, this rank's loss share, and the upload of the
 * batch after it started before the step queues its ops. */
static dnl_status stage_batch(session *s, batch_stage *stage, staged_batch *sb, double *share) {
  DNL_TRY(batch_stage_next(stage, sb));
  DNL_TRY(ce_share(s, sb->host, share));
  return batch_stage_prefetch(stage);
}

static double mib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

/* Memory of a training iteration, measured once after the first: the arena's
 * high-water mark, the layers' workspace, the parameters (values, gradients,
 * momentum) and the staged batches; and what the device reports in use. Logged
 * and stored in the result file (rf NULL: neither). */
static dnl_status report_memory(session *s, const batch_stage *stage, results_file *rf,
                                bool quiet) {
  if (!rf)
    return DNL_OK;
  size_t used = 0, total = 0;
  DNL_TRY(s->be->memory_usage(&used, &total));
  const size_t params = 3 * s->ps.total * sizeof(float);
  const size_t batches = batch_stage_device_bytes(stage);
  const size_t peak = s->act.peak + s->ctx.ws_size + params + batches;
  if (!quiet)
    fprintf(stderr,
            "memory of a training iteration: %.1f MiB (activations %.1f, workspace %.1f, "
            "parameters %.1f, batches %.1f); %.1f of %.1f MiB %s\n",
            mib(peak), mib(s->act.peak), mib(s->ctx.ws_size), mib(params), mib(batches), mib(used),
            mib(total),
            s->be->device == DEVICE_CPU ? "resident in this process" : "in use on the device");
  results_memory m = {.peak_bytes = (int64_t)peak, .device_used_bytes = (int64_t)used};
  return results_write_memory(rf, &m);
}

/* The run's group in plots: output.label, else the preset, else the variant and
 * every block option that differs from the variant's defaults. */
static void run_label(const run_config *c, char *out, size_t len) {
  if (c->label[0] || c->preset[0]) {
    snprintf(out, len, "%s", c->label[0] ? c->label : c->preset);
    return;
  }
  block_config def = block_config_defaults(), rdef, rb;
  snprintf(def.variant, sizeof def.variant, "%s", c->net.block.variant);
  def.channels = c->net.block.channels;
  size_t used = (size_t)snprintf(out, len, "%s", c->net.block.variant);
  if (block_config_resolve(&def, &rdef) != DNL_OK ||
      block_config_resolve(&c->net.block, &rb) != DNL_OK) {
    dnl_clear_error();
    return;
  }
  const block_config *b = &rb;
#define DIFF(cond, ...)                                                                            \
  if ((cond) && used < len)                                                                        \
    used += (size_t)snprintf(out + used, len - used, __VA_ARGS__);
  DIFF(b->whiten != rdef.whiten, " whiten=%s", block_whiten_name(b->whiten))
  DIFF(b->scale != rdef.scale, " scale=%s", block_scale_name(b->scale))
  DIFF(b->temperature != rdef.temperature, " temperature=%g", (double)b->temperature)
  DIFF(b->nowd != rdef.nowd, " nowd=%s", b->nowd ? "true" : "false")
  DIFF(b->out_conv != rdef.out_conv, " out_conv=%s", b->out_conv ? "true" : "false")
  DIFF(b->out_norm != rdef.out_norm, " out_norm=%s", block_norm_name(b->out_norm))
  DIFF(b->inner != rdef.inner, " inner=%d", b->inner)
  DIFF(b->qk_init_std != rdef.qk_init_std, " qk_init_std=%g", (double)b->qk_init_std)
  DIFF(b->qk_tied != rdef.qk_tied, " qk_tied=%s", b->qk_tied ? "true" : "false")
  DIFF(b->v_init_std != rdef.v_init_std, " v_init_std=%g", (double)b->v_init_std)
  DIFF(b->v_init_kaiming != rdef.v_init_kaiming, " v_init_kaiming=%s",
       b->v_init_kaiming ? "true" : "false")
  DIFF(b->gamma_init != rdef.gamma_init, " gamma_init=%g", (double)b->gamma_init)
  DIFF(b->mask_init_std != rdef.mask_init_std, " mask_init_std=%g", (double)b->mask_init_std)
  DIFF(b->lr_mult != rdef.lr_mult, " lr_mult=%g", (double)b->lr_mult)
#undef DIFF
}

static dnl_status loader_for(session *s, loader_pos start, loader **out) {
  const run_config *c = &s->cfg;
  loader_config lc;
  DNL_TRY(loader_config_init(&lc, s->train_ds, LOADER_TRAIN));
  /* data.batch is the global batch: each rank loads its share of it */
  lc.batch_size = c->batch / dist_size(s->ctx.dist);
  lc.rank = dist_rank(s->ctx.dist);
  lc.world = dist_size(s->ctx.dist);
  lc.augment.crop_w = lc.augment.crop_h = c->crop;
  lc.augment.flip = c->flip;
  lc.augment.random_resize = c->random_resize;
  lc.augment.scale_min = c->scale_min;
  lc.augment.scale_max = c->scale_max;
  lc.augment.aspect_min = c->aspect_min;
  lc.augment.aspect_max = c->aspect_max;
  lc.augment.brightness = c->brightness > 0;
  lc.augment.brightness_delta = c->brightness;
  if (c->base_size > 0)
    lc.augment.base_size = c->base_size;
  lc.seed = (uint64_t)c->seed;
  lc.workers = c->workers;
  lc.start = start;
  /* batches bound for a device are uploaded from page-locked memory */
  lc.pinned = s->be->device == DEVICE_CPU ? NULL : s->be;
  return loader_create(&lc, out);
}

static void format_eta(double seconds, char *buf, size_t len) {
  long s = (long)(seconds + 0.5);
  if (s >= 3600)
    snprintf(buf, len, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
}

static dnl_status mkdirs_for(const char *path) {
  char *dir = strdup(path);
  if (!dir)
    return dnl_error(DNL_ERR_NOMEM, "path %s", path);
  char *slash = strrchr(dir, '/');
  dnl_status st = DNL_OK;
  if (slash) {
    *slash = '\0';
    st = fs_mkdirs(dir);
  }
  free(dir);
  return st;
}

/* Every rank evaluates its share; rf (rank 0's, else NULL) gets the row.
 * report: print the scores; tty: also the per-image progress */
static dnl_status run_eval(session *s, results_file *rf, long iter, bool report, bool tty) {
  infer_opts o;
  DNL_TRY(eval_options(&s->cfg, &o));
  eval_result er;
  DNL_TRY(evaluate(s, &o, tty, &er));
  const int k = s->cfg.net.classes;
  float *iou = malloc((size_t)k * sizeof *iou);
  if (!iou) {
    eval_result_free(&er);
    return dnl_error(DNL_ERR_NOMEM, "eval row");
  }
  for (int i = 0; i < k; i++)
    iou[i] = (float)er.class_iou[i];
  results_eval_row row = results_eval_row_blank();
  row.iter = iter;
  row.miou = er.miou;
  row.pixel_acc = er.pixel_acc;
  row.class_iou = iou;
  row.confusion = er.conf.counts;
  eval_stats_to_row(&er.stats, &row);
  dnl_status st = rf ? results_append_eval(rf, &row) : DNL_OK;
  if (report) {
    char terms[200];
    eval_stats_format(&er.stats, terms, sizeof terms);
    fprintf(stderr, "%s  eval at %ld: mIoU %.2f%%  pixel acc %.2f%%  (%ld images)%s\n",
            tty ? "\r\033[K" : "", iter, 100 * er.miou, 100 * er.pixel_acc, er.images, terms);
  }
  free(iou);
  eval_result_free(&er);
  return st;
}

static dnl_status save_checkpoint(session *s, long iter, const batch_stage *stage) {
  loader_pos pos = batch_stage_tell(stage);
  checkpoint_meta meta = {.iteration = iter,
                          .rng_state = s->dropout_rng,
                          .loader_epoch = pos.epoch,
                          .loader_index = pos.batch,
                          .config = s->config_text};
  return checkpoint_save(s->checkpoint_path, &s->ps, &meta);
}

/* The ranks of a data-parallel run check that they can train together before
 * anything else; every rank reaches the same verdict. */
static dnl_status check_ranks(session *s) {
  const run_config *c = &s->cfg;
  dist *d = s->ctx.dist;
  const int world = dist_size(d);
  if (world == 1)
    return DNL_OK;
  if (c->batch % world)
    return dnl_error(DNL_ERR_ARG,
                     "data.batch = %d is the global batch: it must be divisible by the %d "
                     "ranks",
                     c->batch, world);
  const char *version = dnl_version();
  uint64_t h = dist_hash(DIST_HASH_INIT, s->config_text, strlen(s->config_text));
  h = dist_hash(h, version, strlen(version));
  dnl_status st = dist_check_same(d, h, "the resolved config (or the program version)");
  if (st != DNL_OK)
    return dnl_error_context(st, "start every rank with the same CONFIG and --set options");
  /* gradients and BN statistics in GPU memory: NCCL */
  return dist_use_device(d, s->be);
}

/* The ranks' weights stay identical (same start, same summed steps); a
 * difference means they no longer train one model. */
static dnl_status check_weights(session *s, const char *when) {
  if (dist_size(s->ctx.dist) == 1)
    return DNL_OK;
  char what[128];
  snprintf(what, sizeof what, "the weights %s", when);
  const size_t bytes = s->ps.total * sizeof(float);
  float *host = s->ps.values;
  if (s->be->device != DEVICE_CPU) {
    host = malloc(bytes);
    if (!host)
      return dnl_error(DNL_ERR_NOMEM, "host copy of %s", what);
    dnl_status st = s->be->memcpy(host, DEVICE_CPU, s->ps.values, s->be->device, bytes);
    if (st != DNL_OK) {
      free(host);
      return st;
    }
  }
  const uint64_t h = dist_hash(DIST_HASH_INIT, host, bytes);
  if (host != s->ps.values)
    free(host);
  return dist_check_same(s->ctx.dist, h, what);
}

/* A failure that every rank meets alike (a collective check, or the same
 * computation on the same numbers): the ranks can end together. */
static dnl_status alike(session *s, dnl_status st) {
  if (st != DNL_OK)
    s->failed_alike = true;
  return st;
}

/* Weights from the checkpoint (resume) or model.init; then rank 0's result
 * file, resumed or new. */
static dnl_status start_run(session *s, bool resume, const results_info *info, results_file *rf,
                            long *start_iter, loader_pos *start, bool quiet) {
  const run_config *c = &s->cfg;
  const bool lead = dist_rank(s->ctx.dist) == 0;
  if (resume) {
    checkpoint_meta meta;
    DNL_TRY(checkpoint_load(s->checkpoint_path, &s->ps, &meta));
    *start_iter = meta.iteration;
    s->dropout_rng = meta.rng_state;
    start->epoch = meta.loader_epoch;
    start->batch = meta.loader_index;
    checkpoint_meta_free(&meta);
  } else if (c->init[0]) {
    /* rank 0 reports what it loaded */
    FILE *log = lead ? stderr : fopen("/dev/null", "w");
    const char *only[RUN_MAX_INIT_ONLY];
    for (int i = 0; i < c->n_init_only; i++)
      only[i] = c->init_only[i];
    dnl_status st = model_init_load(&s->ps, c->init, only, c->n_init_only, log ? log : stderr);
    if (log && log != stderr)
      fclose(log);
    DNL_TRY(st);
  }
  DNL_TRY(alike(s, check_weights(s, "at the start")));
  if (!lead)
    return DNL_OK;
  if (!resume)
    return results_create(rf, s->result_path, info);
  if (access(s->result_path, R_OK) == 0) {
    DNL_TRY(results_resume(rf, s->result_path, *start_iter));
  } else {
    fprintf(stderr, "%s: result file missing: a new one starts at iteration %ld\n", s->result_path,
            *start_iter);
    DNL_TRY(results_create(rf, s->result_path, info));
  }
  if (!quiet)
    fprintf(stderr, "resuming %s at iteration %ld\n", c->name, *start_iter);
  return DNL_OK;
}

/* Rank 0 writes the checkpoint, after the ranks checked they hold one model. */
static dnl_status checkpoint_step(session *s, long iter, const batch_stage *stage) {
  DNL_TRY(alike(s, check_weights(s, "at a checkpoint")));
  if (dist_rank(s->ctx.dist) != 0)
    return DNL_OK;
  return save_checkpoint(s, iter, stage);
}

dnl_status train_run(session *s, const train_options *opt) {
  const run_config *c = &s->cfg;
  dist *d = s->ctx.dist;
  const int world = dist_size(d);
  const bool lead = dist_rank(d) == 0;
  s->failed_alike = false;
  DNL_TRY(alike(s, check_ranks(s)));
  if (world > 1) {
    /* one rank per machine generates the synthetic dataset, the others wait */
    if (!strcmp(c->dataset, "synth") && d->local_rank == 0)
      DNL_TRY(session_ensure_synth(c));
    DNL_TRY(dist_barrier(d, "the dataset"));
  }
  DNL_TRY(session_open_data(s, true, true));
  DNL_TRY(session_build_net(s, dataset_num_classes(s->train_ds)));
  if (lead)
    DNL_TRY(mkdirs_for(s->result_path));

  long start_iter = 0;
  loader_pos start = {0, 0};
  results_file rf;
  results_file *rfp = lead ? &rf : NULL; /* only rank 0 writes results */
  const char *names[1024];
  int k = dataset_num_classes(s->train_ds);
  for (int i = 0; i < k && i < 1024; i++)
    names[i] = dataset_class_name(s->train_ds, i);
  char label[256], dataset[160];
  run_label(c, label, sizeof label);
  /* synthetic runs of different cue modes are different tasks: the tables and
   * plots group and pair by this name */
  if (!strcmp(c->dataset, "synth"))
    snprintf(dataset, sizeof dataset, "synth-%s", c->synth_cue);
  else
    snprintf(dataset, sizeof dataset, "%s", c->dataset);
  results_info info = {.run = c->name,
                       .sweep = c->sweep,
                       .variant = c->net.block.variant,
                       .preset = c->preset,
                       .label = label,
                       .dataset = dataset,
                       .seed = c->seed,
                       .config = s->config_text,
                       .backend = s->be->name,
                       .device = device_name(s->be->device),
                       .params = (int64_t)params_count_trainable(&s->ps),
                       .iterations = c->iterations,
                       .num_classes = k,
                       .class_names = names};
  const bool resume = opt->resume && access(s->checkpoint_path, R_OK) == 0;
  DNL_TRY(alike(s, dist_check_same(d, resume, "whether the run's checkpoint can be read")));
  DNL_TRY(start_run(s, resume, &info, &rf, &start_iter, &start, opt->quiet));

  tensor cw = {0};
  loader *ld = NULL;
  batch_stage stage = {0};
  dnl_status st = DNL_OK;
  if (c->n_class_weights) {
    int shape[1] = {c->n_class_weights};
    st = tensor_alloc(&cw, s->be->device, 1, shape);
    if (st == DNL_OK)
      st = s->be->memcpy(cw.data, s->be->device, c->class_weights, DEVICE_CPU,
                         (size_t)c->n_class_weights * sizeof(float));
  }
  if (st == DNL_OK)
    st = loader_for(s, start, &ld);
  if (st == DNL_OK)
    st = batch_stage_init(&stage, s->be, ld, c->batch / world, c->crop, c->crop);
  struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  train_interrupted = 0;

  const bool tty = isatty(STDERR_FILENO) && !opt->quiet;
  const double t0 = now_seconds() - (lead ? rf.resumed_seconds : 0.0);
  double last_time = now_seconds();
  long last_iter = start_iter;
  double rate = 0.0;
  /* time of the iterations, and of the collectives and gradient all-reduces in them */
  double train_seconds = 0.0, comm_seconds = 0.0, allreduce_seconds = 0.0;
  double logged_train = 0.0, logged_allreduce = 0.0; /* the same at the last progress line */
  const char *prefix = opt->prefix ? opt->prefix : c->name;
  char failure[1200] = "";
  long it = start_iter;
  for (; st == DNL_OK && it < c->iterations; it++) {
    const double t_iter = now_seconds(), comm_before = d ? d->comm_seconds : 0.0;
    staged_batch sb;
    double share;
    st = stage_batch(s, &stage, &sb, &share);
    if (st != DNL_OK)
      break;
    double lr = poly_lr(c->lr, it, c->iterations, c->power);
    train_step_in in = {.images = &sb.images,
                        .labels = sb.labels,
                        .class_weights = cw.data,
                        .share = share,
                        .lr = lr,
                        .interrupted = train_interrupted};
    train_step_out r;
    st = train_step(s, &in, &r);
    if (st != DNL_OK) {
      if (st == DNL_ERR_NUMERIC) /* from the global loss or the common weights */
        alike(s, dnl_error_context(st, "iteration %ld", it + 1));
      break;
    }
    if (it == start_iter) {
      st = report_memory(s, &stage, rfp, opt->quiet);
      if (st != DNL_OK)
        break;
    }
    const long done = it + 1;
    double tnow = now_seconds();
    train_seconds += tnow - t_iter;
    comm_seconds += (d ? d->comm_seconds : 0.0) - comm_before;
    allreduce_seconds += r.allreduce_seconds;
    if (done % c->log_every == 0 || done == c->iterations) {
      results_train_row row = {.iter = done,
                               .loss = r.loss,
                               .loss_main = r.loss_main,
                               .loss_aux = r.loss_aux,
                               .lr = lr,
                               .seconds = tnow - t0};
      st = rfp ? results_append_train(rfp, &row) : DNL_OK;
      if (st != DNL_OK)
        break;
      /* data-parallel: the gradient all-reduce per iteration since the last line */
      char comm[80] = "";
      if (world > 1 && train_seconds > logged_train && done > last_iter)
        snprintf(comm, sizeof comm, "  all-reduce %.2f ms (%.1f%%)",
                 1e3 * (allreduce_seconds - logged_allreduce) / (double)(done - last_iter),
                 100.0 * (allreduce_seconds - logged_allreduce) / (train_seconds - logged_train));
      logged_train = train_seconds;
      logged_allreduce = allreduce_seconds;
      double dt = tnow - last_time;
      if (dt > 0)
        rate = (double)(done - last_iter) * c->batch / dt;
      last_time = tnow;
      last_iter = done;
      if (!opt->quiet) {
        char eta[32] = "?";
        if (rate > 0)
          format_eta((double)(c->iterations - done) * c->batch / rate, eta, sizeof eta);
        fprintf(stderr,
                "%s%s  iter %ld/%ld  loss %.4f (main %.4f aux %.4f)  lr %.2e  %.1f img/s%s  "
                "ETA %s%s",
                tty ? "\r\033[K" : "", prefix, done, c->iterations, r.loss, r.loss_main, r.loss_aux,
                lr, rate, comm, eta, tty ? "" : "\n");
      }
    }
    if (c->eval_every > 0 && done % c->eval_every == 0 && done != c->iterations) {
      st = run_eval(s, rfp, done, !opt->quiet, tty);
      if (st != DNL_OK)
        break;
    }
    /* ranks stop together: they agreed on the interrupt in the step */
    const bool stop = world > 1 ? r.interrupted : train_interrupted;
    if ((c->checkpoint_every > 0 && done % c->checkpoint_every == 0) || done == c->iterations ||
        stop) {
      st = checkpoint_step(s, done, &stage);
      if (st != DNL_OK)
        break;
    }
    if (stop) {
      st = alike(s, dnl_error(DNL_ERR_ARG,
                              "interrupted at iteration %ld (checkpoint saved; "
                              "continue with --resume)",
                              done));
      it++;
      break;
    }
  }
  if (tty)
    fprintf(stderr, "\n");
  if (st == DNL_OK)
    st = run_eval(s, rfp, c->iterations, !opt->quiet, tty);
  if (st == DNL_OK && lead)
    st = attention_capture(s, &rf, c->iterations);
  if (st == DNL_OK && !opt->quiet && world > 1 && it > start_iter)
    fprintf(stderr,
            "%d ranks (%s): collectives %.2f ms per iteration (%.1f%% of its %.1f ms, waits for "
            "slower ranks included), of which the gradient all-reduce %.2f ms (%.1f%%)\n",
            world, d->device_comm[0] ? d->device_comm : d->name,
            1e3 * comm_seconds / (double)(it - start_iter), 100.0 * comm_seconds / train_seconds,
            1e3 * train_seconds / (double)(it - start_iter),
            1e3 * allreduce_seconds / (double)(it - start_iter),
            100.0 * allreduce_seconds / train_seconds);
  if (st != DNL_OK)
    snprintf(failure, sizeof failure, "failed: %s", dnl_last_error());
  /* keep the message of the first failure while finishing the file */
  char saved[1024];
  snprintf(saved, sizeof saved, "%s", dnl_last_error());
  dnl_status fin = DNL_OK, cl = DNL_OK;
  if (lead) {
    fin = results_finish(&rf, st == DNL_OK ? "finished" : failure);
    cl = results_close(&rf);
  }
  batch_stage_free(&stage); /* before the loader: a pending upload reads its slot */
  if (ld)
    loader_destroy(ld);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  tensor_free(&cw);
  if (st != DNL_OK) {
    dnl_error(st, "%s", saved);
    return st;
  }
  return fin != DNL_OK ? fin : cl;
}
