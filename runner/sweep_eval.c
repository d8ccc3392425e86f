#include "runner/sweep_eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "lib/store/file_atomic.h"
#include "lib/store/h5attr.h"
#include "lib/store/results.h"
#include "runner/evaluate.h"
#include "runner/session.h"
#include "runner/weights_load.h"

/* DIR/<run>.pth, .safetensors or .h5, the first present; false when none. */
static bool find_weights(const char *dir, const char *run, char *out, size_t len, bool *foreign) {
  static const char *const ext[] = {".pth", ".safetensors", ".h5"};
  for (int i = 0; i < 3; i++) {
    snprintf(out, len, "%s/%s%s", dir, run, ext[i]);
    if (access(out, R_OK) == 0) {
      *foreign = i < 2;
      return true;
    }
  }
  return false;
}

static dnl_status write_text(const char *path, const char *text) {
  char tmp[1400];
  DNL_TRY(file_atomic_tmp_name(path, tmp, sizeof tmp));
  FILE *f = fopen(tmp, "w");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot write (%s)", tmp, strerror(errno));
  const bool ok = fputs(text, f) >= 0;
  if (fclose(f) != 0 || !ok) {
    unlink(tmp);
    return dnl_error(DNL_ERR_IO, "%s: cannot write (%s)", tmp, strerror(errno));
  }
  return file_atomic_commit(tmp, path);
}

/* The evaluation as a result file: one eval row at iteration 0, finished. */
static dnl_status write_result(session *s, const char *path, const char *weights,
                               const eval_result *er) {
  const run_config *c = &s->cfg;
  const int k = c->net.classes;
  const char **names = calloc((size_t)k, sizeof *names);
  float *iou = calloc((size_t)k, sizeof *iou);
  if (!names || !iou) {
    free(names), free(iou);
    return dnl_error(DNL_ERR_NOMEM, "%s: %d classes", path, k);
  }
  for (int i = 0; i < k; i++) {
    names[i] = dataset_class_name(s->val_ds, i);
    iou[i] = (float)er->class_iou[i];
  }
  const char *label = c->label[0] ? c->label : c->preset[0] ? c->preset : c->net.block.variant;
  results_info info = {.run = c->name,
                       .sweep = c->sweep,
                       .variant = c->net.block.variant,
                       .preset = c->preset,
                       .label = label,
                       .dataset = c->dataset,
                       .seed = c->seed,
                       .config = s->config_text,
                       .backend = s->be->name,
                       .device = device_name(s->be->device),
                       .params = (int64_t)params_count_trainable(&s->ps),
                       .iterations = 0,
                       .num_classes = k,
                       .class_names = names};
  results_eval_row row = {.iter = 0,
                          .miou = er->miou,
                          .pixel_acc = er->pixel_acc,
                          .class_iou = iou,
                          .confusion = er->conf.counts};
  results_file rf;
  dnl_status st = results_create(&rf, path, &info);
  if (st == DNL_OK) {
    st = h5attr_write_str(rf.file, "checkpoint", weights);
    if (st == DNL_OK)
      st = results_append_eval(&rf, &row);
    if (st == DNL_OK)
      st = results_finish(&rf, "finished");
    dnl_status cl = results_close(&rf);
    st = st == DNL_OK ? cl : st;
  }
  free(names), free(iou);
  return st;
}

/* One run: its config (written beside the result), its weights, its protocol. */
static dnl_status eval_one(const sweep_eval_opts *o, const char *cfg_path, const char *weights,
                           bool foreign, const char *result, eval_result *er, char *protocol,
                           size_t plen) {
  const char *sets[1];
  int nsets = 0;
  char threads[32];
  if (o->threads > 0) {
    snprintf(threads, sizeof threads, "threads=%d", o->threads);
    sets[nsets++] = threads;
  }
  session s;
  weights_source ws = {
      .path = weights, .config = cfg_path, .map_given = foreign, .map = NAME_MAP_PUBLISHED};
  dnl_status st = session_open(&s, cfg_path, sets, nsets);
  if (st == DNL_OK)
    st = session_open_data(&s, false, true);
  if (st == DNL_OK)
    st = session_build_net_for_eval(&s, dataset_num_classes(s.val_ds));
  if (st == DNL_OK) {
    ws.block = &s.cfg.net.block;
    st = weights_load(&s.ps, &ws);
  }
  if (st == DNL_OK && ws.note[0] && !o->quiet)
    fprintf(stderr, "  note: %s\n", ws.note);
  infer_opts io;
  if (st == DNL_OK)
    st = eval_options(&s.cfg, &io);
  if (st == DNL_OK)
    st = evaluate(&s, &io, !o->quiet && isatty(STDERR_FILENO), er);
  if (st == DNL_OK)
    st = write_result(&s, result, weights, er);
  if (st == DNL_OK)
    snprintf(protocol, plen, "%s%s", s.cfg.eval_mode, s.cfg.eval_flip ? " + flip" : "");
  session_close(&s);
  return st;
}

int sweep_eval(const sweep *sw, const sweep_eval_opts *o) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s-published", o->out_dir, sw->name);
  if (access(o->checkpoint_dir, R_OK) != 0) {
    fprintf(stderr, "runner sweep: --checkpoint-dir %s: %s\n", o->checkpoint_dir, strerror(errno));
    return 1;
  }
  if (fs_mkdirs(dir) != DNL_OK) {
    fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
    return 1;
  }
  int evaluated = 0, skipped = 0, failed = 0, selected = 0;
  for (long r = 0; r < sw->nruns; r++) {
    sweep_run run;
    if (sweep_run_make(sw, r, o->out_dir, &run) != DNL_OK) {
      fprintf(stderr, "runner sweep: %s\n", dnl_last_error());
      return 1;
    }
    if (o->only && !sweep_name_matches(run.name, o->only)) {
      sweep_run_free(&run);
      continue;
    }
    selected++;
    char weights[1600], cfg_path[1600], result[1600], protocol[64] = "";
    bool foreign = false;
    if (!find_weights(o->checkpoint_dir, run.name, weights, sizeof weights, &foreign)) {
      printf("%-28s skipped: no %s/%s.pth, .safetensors or .h5\n", run.name, o->checkpoint_dir,
             run.name);
      skipped++;
      sweep_run_free(&run);
      continue;
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/%s.cfg", dir, run.name);
    snprintf(result, sizeof result, "%s/%s.h5", dir, run.name);
    /* the results land beside the config, under the sweep's -published name */
    config_t strings;
    char *text = NULL;
    dnl_status st = cfg_parse_string(&strings, "s = \"\";", "sweep");
    if (st == DNL_OK) {
      config_setting_set_string(config_lookup(&strings, "s"), dir);
      st = cfg_set_from(&run.config, "output.dir", config_lookup(&strings, "s"));
      config_setting_set_string(config_lookup(&strings, "s"), "");
      if (st == DNL_OK)
        st = cfg_set_from(&run.config, "output.sweep", config_lookup(&strings, "s"));
      config_destroy(&strings);
    }
    /* the device the run uses goes into its stored config */
    if (st == DNL_OK && o->device)
      st = session_override(&run.config, o->device);
    if (st == DNL_OK)
      st = cfg_to_string(&run.config, &text);
    if (st == DNL_OK)
      st = write_text(cfg_path, text);
    free(text);
    if (!o->quiet)
      fprintf(stderr, "%s: evaluating %s\n", run.name, weights);
    eval_result er = {0};
    if (st == DNL_OK)
      st = eval_one(o, cfg_path, weights, foreign, result, &er, protocol, sizeof protocol);
    if (st == DNL_OK) {
      printf("%-28s mIoU %.2f%%  pixel accuracy %.2f%%  (%ld images, %s) -> %s\n", run.name,
             100 * er.miou, 100 * er.pixel_acc, er.images, protocol, result);
      evaluated++;
    } else {
      printf("%-28s failed: %s\n", run.name, dnl_last_error());
      failed++;
    }
    fflush(stdout);
    eval_result_free(&er);
    sweep_run_free(&run);
  }
  if (o->only && selected == 0) {
    fprintf(stderr, "runner sweep: no run matches --only '%s'\n", o->only);
    return 1;
  }
  printf("sweep %s --eval-only: %d evaluated, %d skipped (no file), %d failed; results in %s/ "
         "(analysis table --paper %s/*.h5)\n",
         sw->name, evaluated, skipped, failed, dir, dir);
  return failed ? 1 : 0;
}
