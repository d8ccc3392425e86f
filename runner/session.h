/* What train, eval and predict share: the resolved config, the backend, the
 * datasets, the network with its parameters, and the per-step arena. */
#ifndef DNL_SESSION_H
#define DNL_SESSION_H

#include <libconfig.h>

#include "data/dataset.h"
#include "lib/core/arena.h"
#include "lib/core/params.h"
#include "runner/run_config.h"

typedef struct session {
  config_t config; /* parsed file with command-line overrides applied */
  bool config_loaded;
  run_config cfg;
  char *config_text; /* resolved libconfig text (stored in results and checkpoints) */
  const dnl_backend *be;
  dataset *train_ds, *val_ds;
  param_store ps;
  segnet net;
  bool net_ready;
  arena act;
  layer_ctx ctx;
  rng dropout_rng;
  char result_path[1200], checkpoint_path[1200];
  bool failed_alike; /* train_run's failure happened alike on every data-parallel rank */
} session;

/* Parses a "key=value" override (value in libconfig syntax, strings may be bare
 * words) and applies it to the config; the key must be in the schema. */
dnl_status session_override(config_t *c, const char *assignment);

/* Loads and validates the config (with overrides), sets threads, opens the
 * backend. Datasets and network come with the calls below. */
dnl_status session_open(session *s, const char *config_path, const char *const *overrides,
                        int n_overrides);
/* As session_open, but on the CPU backend whatever the config's device: for the
 * commands that build the network without running it (params, config, import). */
dnl_status session_open_host(session *s, const char *config_path, const char *const *overrides,
                             int n_overrides);
/* Opens the training and/or validation split (generating synth data on first use). */
dnl_status session_open_data(session *s, bool train, bool val);
/* Builds the network for the dataset's classes and initialises its parameters
 * from the seed (model.init is loaded by a fresh training run only: eval,
 * predict and resume replace every value from their checkpoint). */
dnl_status session_build_net(session *s, int classes);
/* Evaluation and prediction: the network with its values only (no gradients,
 * no momentum, no initial values: every one comes from the weights file). */
dnl_status session_build_net_for_eval(session *s, int classes);
void session_close(session *s);

/* Makes sure a synthetic dataset exists under root (generated when absent). */
dnl_status session_ensure_synth(const run_config *cfg);

#endif
