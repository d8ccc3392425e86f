/* The settings of one run, read from a validated libconfig file.
 * Every key, its type, range and default: run_config_schema() (printed by
 * `runner config --keys`); docs/config.md documents them. */
#ifndef DNL_RUN_CONFIG_H
#define DNL_RUN_CONFIG_H

#include <libconfig.h>

#include "lib/config/cfg.h"
#include "lib/core/tensor.h"
#include "net/segnet.h"

#define RUN_MAX_LIST 64
#define RUN_MAX_INIT_ONLY 16

typedef struct run_config {
  char name[128];
  long seed;
  int threads;
  dnl_device device;

  /* model + block */
  segnet_config net; /* classes filled from the dataset */
  char preset[64];
  char init[1024]; /* model.init: pretrained weights loaded after init, "" none */
  char init_only[RUN_MAX_INIT_ONLY][128]; /* model.init_only: name prefixes taken from it */
  int n_init_only;                        /* 0: every tensor that matches the network */

  /* data */
  char dataset[32];
  char root[1024];
  char train_split[32], val_split[32];
  int batch, crop, workers;
  double scale_min, scale_max, aspect_min, aspect_max;
  int brightness, base_size;
  bool flip, random_resize;
  char synth_cue[16];
  int synth_train, synth_val, synth_size;
  double synth_distance;

  /* solver */
  long iterations;
  double lr, momentum, weight_decay, power;

  /* loss */
  bool ohem;
  double ohem_thresh;
  long ohem_min_kept;
  double aux_weight;
  float class_weights[RUN_MAX_LIST];
  int n_class_weights;

  /* eval */
  long eval_every;
  char eval_mode[16]; /* single | multiscale | sliding */
  double eval_scales[RUN_MAX_LIST];
  int n_eval_scales;
  bool eval_flip;
  int eval_crop, eval_stride;
  long eval_limit; /* first N validation images; 0 = all */
  int eval_base_size, eval_max_size; /* whole-image passes: short side first resized to
                                        base (long side at most max); 0 off */
  int eval_pad_to;                    /* whole-image passes: zero padding to a multiple */

  /* output */
  char out_dir[1024];
  char sweep[128];
  char label[128];
  long log_every, checkpoint_every;
  int attention_images;
  double attention_queries[RUN_MAX_LIST]; /* (y, x) fractions of the image */
  int n_attention_queries;
  /* no output.attention_queries given: n_attention_queries / 2 query pixels per
   * image drawn on its objects (runner/eval_stats.h), not fixed points */
  bool auto_attention_queries;
} run_config;

const cfg_schema *run_config_schema(void);

/* Validates c and fills out (defaults for absent keys, the block preset applied
 * before explicit block keys). Errors carry FILE:LINE and the key. */
dnl_status run_config_read(const config_t *c, run_config *out);

#endif
