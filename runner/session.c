#include "runner/session.h"

#include <cblas.h>
#include <ftw.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "data/synth.h"

dnl_status session_override(config_t *c, const char *assignment) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment)
    return dnl_error(DNL_ERR_ARG, "--set %s: expected key=value", assignment);
  char key[256];
  size_t klen = (size_t)(eq - assignment);
  if (klen >= sizeof key)
    return dnl_error(DNL_ERR_ARG, "--set: key too long");
  memcpy(key, assignment, klen);
  key[klen] = '\0';
  const char *value = eq + 1;
  /* a bare word is a string: wrap it in quotes */
  bool bare = value[0] && strchr("[(\"-+.0123456789", value[0]) == NULL &&
              strcmp(value, "true") && strcmp(value, "false");
  size_t tlen = strlen(value) + 16;
  char *text = malloc(tlen);
  if (!text)
    return dnl_error(DNL_ERR_NOMEM, "--set: out of memory");
  snprintf(text, tlen, bare ? "v = \"%s\";" : "v = %s;", value);
  config_t v;
  dnl_status st = cfg_parse_string(&v, text, "--set");
  free(text);
  if (st == DNL_OK) {
    st = cfg_set_from(c, key, config_lookup(&v, "v"));
    if (st == DNL_OK && !cfg_schema_find(run_config_schema(), key))
      st = dnl_error(DNL_ERR_ARG, "--set %s: unknown key %s", assignment, key);
  } else {
    st = dnl_error(DNL_ERR_ARG, "--set %s: value is not libconfig syntax", assignment);
  }
  config_destroy(&v);
  return st;
}

static dnl_status open_on(session *s, const char *config_path, const char *const *overrides,
                          int n_overrides, bool host) {
  memset(s, 0, sizeof *s);
  params_init(&s->ps);
  DNL_TRY(cfg_load_layered(&s->config, config_path, run_config_schema()));
  s->config_loaded = true;
  for (int i = 0; i < n_overrides; i++)
    DNL_TRY(session_override(&s->config, overrides[i]));
  DNL_TRY(run_config_read(&s->config, &s->cfg));
  if (!config_lookup(&s->config, "name")) {
    const char *base = strrchr(config_path, '/');
    base = base ? base + 1 : config_path;
    snprintf(s->cfg.name, sizeof s->cfg.name, "%.*s", (int)strcspn(base, "."), base);
  }
  DNL_TRY(cfg_to_string(&s->config, &s->config_text));
  if (s->cfg.threads > 0) {
    omp_set_num_threads(s->cfg.threads);
    openblas_set_num_threads(s->cfg.threads);
  }
  DNL_TRY(backend_get(host ? DEVICE_CPU : s->cfg.device, &s->be));
  DNL_TRY(backend_check(s->be));
  DNL_TRY(arena_init(&s->act, s->be, 0));
  rng_seed3(&s->dropout_rng, (uint64_t)s->cfg.seed, 0xd70, 0);
  layer_ctx_init(&s->ctx, s->be, &s->act, &s->dropout_rng);
  const char *sub = s->cfg.sweep[0] ? s->cfg.sweep : NULL;
  snprintf(s->result_path, sizeof s->result_path, "%s/%s%s%s.h5", s->cfg.out_dir,
           sub ? sub : "", sub ? "/" : "", s->cfg.name);
  snprintf(s->checkpoint_path, sizeof s->checkpoint_path, "%s/%s%s%s.ckpt",
           s->cfg.out_dir, sub ? sub : "", sub ? "/" : "", s->cfg.name);
  return DNL_OK;
}

dnl_status session_open(session *s, const char *config_path, const char *const *overrides,
                        int n_overrides) {
  return open_on(s, config_path, overrides, n_overrides, false);
}

dnl_status session_open_host(session *s, const char *config_path, const char *const *overrides,
                             int n_overrides) {
  return open_on(s, config_path, overrides, n_overrides, true);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* "<root>/train" in a static buffer */
static const char *train_dir_of(const char *root) {
  static char buf[1100];
  snprintf(buf, sizeof buf, "%.1024s/train", root);
  return buf;
}

dnl_status session_ensure_synth(const run_config *cfg) {
  char *train_dir = fs_join(cfg->root, "train");
  if (!train_dir)
    return dnl_error(DNL_ERR_NOMEM, "path of %s", cfg->root);
  bool present = fs_is_dir(train_dir);
  free(train_dir);
  if (present)
    return DNL_OK;
  synth_config sc = synth_defaults();
  sc.seed = 0; /* the dataset is the same for every run seed */
  DNL_TRY(synth_cue_parse(cfg->synth_cue, &sc.cue));
  sc.n_train = cfg->synth_train;
  sc.n_val = cfg->synth_val;
  sc.size = cfg->synth_size;
  sc.distance = cfg->synth_distance;
  DNL_TRY(synth_check(&sc));
  fprintf(stderr, "generating the synthetic dataset (%s cue, %d + %d images of %d px) in %s\n",
          cfg->synth_cue, sc.n_train, sc.n_val, sc.size, cfg->root);
  /* written beside and renamed into place, so that runs starting together never
   * see a half-written dataset; the loser of a race drops its copy */
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%.1024s.tmp%ld", cfg->root, (long)getpid());
  dnl_status st = synth_generate(&sc, tmp);
  if (st == DNL_OK && rename(tmp, cfg->root) != 0 && !fs_is_dir(train_dir_of(cfg->root)))
    st = dnl_error(DNL_ERR_IO, "%s: cannot move the generated dataset into place (%s)",
                   cfg->root, strerror(errno));
  nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return st;
}

dnl_status session_open_data(session *s, bool train, bool val) {
  if (!strcmp(s->cfg.dataset, "synth"))
    DNL_TRY(session_ensure_synth(&s->cfg));
  if (train)
    DNL_TRY(dataset_open(s->cfg.dataset, s->cfg.root, s->cfg.train_split, &s->train_ds));
  if (val)
    DNL_TRY(dataset_open(s->cfg.dataset, s->cfg.root, s->cfg.val_split, &s->val_ds));
  return DNL_OK;
}

dnl_status session_build_net(session *s, int classes) {
  s->cfg.net.classes = classes;
  if (s->cfg.n_class_weights && s->cfg.n_class_weights != classes)
    return dnl_error(DNL_ERR_ARG, "loss.class_weights: %d values, the dataset has %d classes",
                     s->cfg.n_class_weights, classes);
  DNL_TRY(segnet_init(&s->net, &s->ps, &s->cfg.net));
  s->net_ready = true;
  DNL_TRY(params_finalize(&s->ps, s->be));
  return params_init_values(&s->ps, (uint64_t)s->cfg.seed);
}

dnl_status session_build_net_for_eval(session *s, int classes) {
  s->cfg.net.classes = classes;
  DNL_TRY(segnet_init(&s->net, &s->ps, &s->cfg.net));
  s->net_ready = true;
  return params_finalize_values(&s->ps, s->be);
}

void session_close(session *s) {
  layer_ctx_free(&s->ctx);
  arena_free(&s->act);
  if (s->net_ready)
    segnet_free(&s->net);
  params_free(&s->ps);
  if (s->train_ds)
    dataset_close(s->train_ds);
  if (s->val_ds)
    dataset_close(s->val_ds);
  free(s->config_text);
  if (s->config_loaded)
    config_destroy(&s->config);
  memset(s, 0, sizeof *s);
}
