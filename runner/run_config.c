#include "runner/run_config.h"

#include <stdio.h>
#include <string.h>

#define NO_RANGE 1, 0

static const char *const devices[] = {"cpu", "cuda", NULL};
static const char *const variants[] = {"none",       "nl",  "pairwise", "unary",
                                       "dnl_shared", "dnl", NULL};
static const char *const whitenings[] = {"none", "in", "ln", NULL};
static const char *const norms[] = {"none", "bn", "in", "ln", NULL};
static const char *const datasets[] = {"synth",          "cityscapes",       "ade20k",
                                       "pascal_context", "pascal_context60", NULL};
static const char *const cues[] = {"global", "region", "match", "both", NULL};
static const char *const eval_modes[] = {"single", "multiscale", "sliding", NULL};

static const cfg_key keys[] = {
    {"name", CFG_STRING, NO_RANGE, NULL, "run name (default: the config file's name)"},
    {"seed", CFG_INT, 0, 2147483647, NULL, "seed of every random choice (default 1)"},
    {"threads", CFG_INT, 1, 256, NULL, "CPU threads for OpenMP and OpenBLAS (default: all cores)"},
    {"device", CFG_STRING, NO_RANGE, devices, "cpu or cuda (default cpu)"},

    {"model", CFG_GROUP, NO_RANGE, NULL, "network"},
    {"model.depth", CFG_INT, 18, 101, NULL, "ResNet depth: 18, 34, 50, 101 (default 18)"},
    {"model.layers", CFG_INT_ARRAY, 1, 64, NULL, "blocks per stage, overrides depth's"},
    {"model.planes", CFG_INT_ARRAY, 1, 4096, NULL,
     "planes per stage, overrides width's (4 values)"},
    {"model.width", CFG_FLOAT, 0.01, 4, NULL, "width multiplier of the backbone (default 1)"},
    {"model.head_width", CFG_INT, 2, 4096, NULL, "head and block channels C (default 512)"},
    {"model.dropout", CFG_FLOAT, 0, 0.99, NULL, "Dropout2d before the classifiers (default 0.1)"},
    {"model.aux", CFG_BOOL, NO_RANGE, NULL, "auxiliary head on layer3 (default true)"},
    {"model.init", CFG_STRING, NO_RANGE, NULL,
     "pretrained weights file loaded over the initialisation (docs/pretrained.md)"},
    {"model.init_only", CFG_STRING_ARRAY, NO_RANGE, NULL,
     "name prefixes taken from model.init, e.g. [\"backbone.\"] (default: every matching tensor)"},

    {"block", CFG_GROUP, NO_RANGE, NULL, "context block"},
    {"block.preset", CFG_STRING, NO_RANGE, NULL,
     "named setting of the README table (runner blocks)"},
    {"block.variant", CFG_STRING, NO_RANGE, variants,
     "none, nl, pairwise, unary, dnl_shared, dnl (default dnl)"},
    {"block.whiten", CFG_STRING, NO_RANGE, whitenings, "whitening of Q and K: none, in, ln"},
    {"block.temperature", CFG_FLOAT, 1e-4, 1e4, NULL, "softmax temperature (default 1)"},
    {"block.scale", CFG_BOOL, NO_RANGE, NULL, "scale logits by 1/(sqrt(C') temperature)"},
    {"block.nowd", CFG_BOOL, NO_RANGE, NULL, "no weight decay on the Q and K convs"},
    {"block.out_conv", CFG_BOOL, NO_RANGE, NULL, "1x1 output conv C' -> C"},
    {"block.out_norm", CFG_STRING, NO_RANGE, norms, "norm of the block output: none, bn, in, ln"},
    {"block.inner", CFG_INT, 0, 8192, NULL, "inner width C' (0: C/2)"},
    {"block.fused", CFG_BOOL, NO_RANGE, NULL, "fused attention kernel (default true)"},
    {"block.qk_init_std", CFG_FLOAT, 0, 100, NULL,
     "std of the query and key weights (default 0.01)"},
    {"block.qk_tied", CFG_BOOL, NO_RANGE, NULL,
     "key weight starts equal to the query weight (default false)"},
    {"block.v_init_std", CFG_FLOAT, 0, 100, NULL, "std of the value weight (default 0.01)"},
    {"block.v_init_kaiming", CFG_BOOL, NO_RANGE, NULL,
     "value std sqrt(2 / C), overrides v_init_std (default false)"},
    {"block.gamma_init", CFG_FLOAT, -1e3, 1e3, NULL, "initial gamma (default 0)"},
    {"block.mask_init_std", CFG_FLOAT, 0, 100, NULL, "std of the unary mask weight (default 0.01)"},
    {"block.lr_mult", CFG_FLOAT, 0, 1e6, NULL,
     "learning-rate factor of the block's parameters, > 0 (default 1)"},

    {"data", CFG_GROUP, NO_RANGE, NULL, "dataset and augmentation"},
    {"data.dataset", CFG_STRING, NO_RANGE, datasets, "dataset (default synth)"},
    {"data.root", CFG_STRING, NO_RANGE, NULL,
     "dataset folder (synth: generated there on first use)"},
    {"data.train_split", CFG_STRING, NO_RANGE, NULL, "training split (default train)"},
    {"data.val_split", CFG_STRING, NO_RANGE, NULL, "validation split (default val)"},
    {"data.batch", CFG_INT, 1, 4096, NULL, "global batch size (default 8)"},
    {"data.crop", CFG_INT, 8, 8192, NULL, "square training crop (default 128)"},
    {"data.workers", CFG_INT, 1, 64, NULL, "loader threads (default 2)"},
    {"data.random_resize", CFG_BOOL, NO_RANGE, NULL, "random resize (default true)"},
    {"data.scale_min", CFG_FLOAT, 0.05, 10, NULL, "random resize range (default 0.5)"},
    {"data.scale_max", CFG_FLOAT, 0.05, 10, NULL, "(default 2.0)"},
    {"data.aspect_min", CFG_FLOAT, 0.1, 10, NULL, "aspect jitter range (default 0.9)"},
    {"data.aspect_max", CFG_FLOAT, 0.1, 10, NULL, "(default 1.1)"},
    {"data.brightness", CFG_INT, 0, 255, NULL, "brightness shift +-N (default 10)"},
    {"data.flip", CFG_BOOL, NO_RANGE, NULL, "random horizontal flip (default true)"},
    {"data.base_size", CFG_INT, 0, 8192, NULL,
     "short side before augmentation (ADE20K/Pascal: 520; 0 off)"},
    {"data.synth", CFG_GROUP, NO_RANGE, NULL, "synthetic dataset generation"},
    {"data.synth.cue", CFG_STRING, NO_RANGE, cues,
     "global (far stripe), region (marker), match (tinted discs), both (global + match)"},
    {"data.synth.train", CFG_INT, 1, 1000000, NULL, "training images (default 400)"},
    {"data.synth.val", CFG_INT, 1, 1000000, NULL, "validation images (default 100)"},
    {"data.synth.size", CFG_INT, 32, 4096, NULL, "image side in pixels (default 128)"},
    {"data.synth.distance", CFG_FLOAT, 0, 4096, NULL,
     "global cue: least object-stripe distance in px at 128 px (default 42)"},

    {"solver", CFG_GROUP, NO_RANGE, NULL, "SGD with poly learning rate"},
    {"solver.iterations", CFG_INT, 1, 100000000, NULL, "training iterations (default 350)"},
    {"solver.lr", CFG_FLOAT, 0, 100, NULL, "base learning rate (default 0.01)"},
    {"solver.momentum", CFG_FLOAT, 0, 1, NULL, "momentum (default 0.9)"},
    {"solver.weight_decay", CFG_FLOAT, 0, 1, NULL, "weight decay (default 5e-4)"},
    {"solver.power", CFG_FLOAT, 0, 10, NULL, "poly power (default 0.9)"},

    {"loss", CFG_GROUP, NO_RANGE, NULL, "losses"},
    {"loss.ohem", CFG_BOOL, NO_RANGE, NULL, "OHEM on the main head (default true)"},
    {"loss.ohem_thresh", CFG_FLOAT, 0, 1, NULL, "OHEM probability threshold (default 0.7)"},
    {"loss.ohem_min_kept", CFG_INT, 0, 100000000, NULL,
     "OHEM pixels kept per image (default 100000)"},
    {"loss.aux_weight", CFG_FLOAT, 0, 100, NULL, "aux head loss weight (default 0.4)"},
    {"loss.class_weights", CFG_FLOAT_ARRAY, 0, 1000, NULL, "per-class CE weights (default none)"},

    {"eval", CFG_GROUP, NO_RANGE, NULL, "evaluation"},
    {"eval.every", CFG_INT, 0, 100000000, NULL, "evaluate every N iterations (0: only at the end)"},
    {"eval.mode", CFG_STRING, NO_RANGE, eval_modes, "single, multiscale, sliding (default single)"},
    {"eval.scales", CFG_FLOAT_ARRAY, 0.05, 10, NULL, "multiscale: scales (default [1.0])"},
    {"eval.flip", CFG_BOOL, NO_RANGE, NULL, "add a flipped pass (default false)"},
    {"eval.crop", CFG_INT, 8, 8192, NULL, "sliding window crop (default 769)"},
    {"eval.stride", CFG_INT, 1, 8192, NULL, "sliding window stride (default 512)"},
    {"eval.limit", CFG_INT, 0, 100000000, NULL, "evaluate the first N images only (0: all)"},
    {"eval.base_size", CFG_INT, 0, 8192, NULL, "single/multiscale: short side resized to this before the scales (ADE20K/Pascal: 520; 0 off)"},
    {"eval.max_size", CFG_INT, 0, 16384, NULL, "with eval.base_size: long side at most this (1040; 0 no limit)"},
    {"eval.pad_to", CFG_INT, 0, 256, NULL, "single/multiscale: pad each pass with zeros to a multiple of this (8; 0 off)"},

    {"output", CFG_GROUP, NO_RANGE, NULL, "result files"},
    {"output.dir", CFG_STRING, NO_RANGE, NULL, "results folder (default results)"},
    {"output.sweep", CFG_STRING, NO_RANGE, NULL,
     "sweep name: files go to DIR/<sweep>/ (set by runner sweep)"},
    {"output.label", CFG_STRING, NO_RANGE, NULL,
     "group of the run in plots and tables (default: preset or variant and options)"},
    {"output.log_every", CFG_INT, 1, 100000000, NULL,
     "training curve row every N iterations (default 10)"},
    {"output.checkpoint_every", CFG_INT, 0, 100000000, NULL,
     "checkpoint every N iterations (0: end only)"},
    {"output.attention_images", CFG_INT, 0, 64, NULL,
     "validation images with stored attention maps (default 4)"},
    {"output.attention_queries", CFG_FLOAT_ARRAY, 0, 1, NULL,
     "query points as y, x fractions (default: 3 per image drawn on its objects)"},
};

static const cfg_schema schema = {keys, sizeof keys / sizeof keys[0]};

const cfg_schema *run_config_schema(void) { return &schema; }

static dnl_status copy_string(char *dst, size_t len, const char *src, const char *key) {
  if (strlen(src) >= len)
    return dnl_error(DNL_ERR_ARG, "%s: value too long (%zu characters, at most %zu)", key,
                     strlen(src), len - 1);
  strcpy(dst, src);
  return DNL_OK;
}

#define STR(field, key, def)                                                                       \
  DNL_TRY(copy_string(field, sizeof field, cfg_get_string(c, key, def), key))

static dnl_status read_init_only(const config_t *c, run_config *r) {
  const config_setting_t *s = config_lookup(c, "model.init_only");
  char where[512];
  if (s && config_setting_length(s) > RUN_MAX_INIT_ONLY)
    return dnl_error(DNL_ERR_ARG, "%s: model.init_only: at most %d prefixes, got %d",
                     cfg_where(s, where, sizeof where), RUN_MAX_INIT_ONLY,
                     config_setting_length(s));
  const char *v[RUN_MAX_INIT_ONLY];
  r->n_init_only = cfg_get_string_array(c, "model.init_only", v, RUN_MAX_INIT_ONLY);
  for (int i = 0; i < r->n_init_only; i++)
    DNL_TRY(copy_string(r->init_only[i], sizeof r->init_only[i], v[i], "model.init_only"));
  return DNL_OK;
}

static dnl_status read_block(const config_t *c, run_config *r) {
  const char *preset = cfg_get_string(c, "block.preset", "");
  block_config *b = &r->net.block;
  STR(r->preset, "block.preset", "");
  if (preset[0]) {
    dnl_status st = block_preset(preset, cfg_get_string(c, "data.dataset", "synth"), b);
    if (st != DNL_OK) {
      char where[512];
      return dnl_error_context(st, "%s: block.preset",
                               cfg_where(config_lookup(c, "block.preset"), where, sizeof where));
    }
    if (config_lookup(c, "block.variant") &&
        strcmp(cfg_get_string(c, "block.variant", ""), b->variant) != 0)
      return dnl_error(DNL_ERR_ARG, "block.variant \"%s\" contradicts block.preset \"%s\" (%s)",
                       cfg_get_string(c, "block.variant", ""), preset, b->variant);
  } else {
    *b = block_config_defaults();
    STR(b->variant, "block.variant", "dnl");
  }
  static const char *const wh[] = {"none", "in", "ln"};
  static const char *const nm[] = {"none", "bn", "in", "ln"};
  const char *s = cfg_get_string(c, "block.whiten", NULL);
  for (int i = 0; s && i < 3; i++)
    if (!strcmp(s, wh[i]))
      b->whiten = (block_whiten)i;
  s = cfg_get_string(c, "block.out_norm", NULL);
  for (int i = 0; s && i < 4; i++)
    if (!strcmp(s, nm[i]))
      b->out_norm = (block_norm)i;
  if (config_lookup(c, "block.scale"))
    b->scale = cfg_get_bool(c, "block.scale", true) ? BLOCK_SCALE_ON : BLOCK_SCALE_OFF;
  b->temperature = (float)cfg_get_float(c, "block.temperature", b->temperature);
  b->nowd = cfg_get_bool(c, "block.nowd", b->nowd);
  b->out_conv = cfg_get_bool(c, "block.out_conv", b->out_conv);
  b->inner = (int)cfg_get_int(c, "block.inner", b->inner);
  b->fused = cfg_get_bool(c, "block.fused", b->fused);
  b->qk_init_std = (float)cfg_get_float(c, "block.qk_init_std", b->qk_init_std);
  b->qk_tied = cfg_get_bool(c, "block.qk_tied", b->qk_tied);
  b->v_init_std = (float)cfg_get_float(c, "block.v_init_std", b->v_init_std);
  b->v_init_kaiming = cfg_get_bool(c, "block.v_init_kaiming", b->v_init_kaiming);
  b->gamma_init = (float)cfg_get_float(c, "block.gamma_init", b->gamma_init);
  b->mask_init_std = (float)cfg_get_float(c, "block.mask_init_std", b->mask_init_std);
  b->lr_mult = (float)cfg_get_float(c, "block.lr_mult", b->lr_mult);
  b->channels = r->net.head_width;
  /* unknown variant, or options that do not apply to it: the message names the key.
   * The config keeps the unresolved choices (auto); the network resolves them. */
  block_config resolved;
  dnl_status st = block_config_resolve(b, &resolved);
  if (st != DNL_OK) {
    const config_setting_t *where_s = config_lookup(c, "block");
    char where[512];
    return where_s ? dnl_error_context(st, "%s", cfg_where(where_s, where, sizeof where)) : st;
  }
  return DNL_OK;
}

dnl_status run_config_read(const config_t *c, run_config *r) {
  memset(r, 0, sizeof *r);
  DNL_TRY(cfg_validate(c, &schema));
  STR(r->name, "name", "run");
  r->seed = cfg_get_int(c, "seed", 1);
  r->threads = (int)cfg_get_int(c, "threads", 0);
  r->device = strcmp(cfg_get_string(c, "device", "cpu"), "cuda") ? DEVICE_CPU : DEVICE_CUDA;

  segnet_config *n = &r->net;
  n->backbone.depth = (int)cfg_get_int(c, "model.depth", 18);
  long layers[4] = {0};
  int nl = cfg_get_int_array(c, "model.layers", layers, 4);
  if (nl != 0 && nl != 4) {
    char where[512];
    return dnl_error(DNL_ERR_ARG, "%s: model.layers needs 4 values, got %d",
                     cfg_where(config_lookup(c, "model.layers"), where, sizeof where), nl);
  }
  for (int i = 0; i < 4; i++)
    n->backbone.layers[i] = (int)layers[i];
  long planes[4] = {0};
  int np = cfg_get_int_array(c, "model.planes", planes, 4);
  if (np != 0 && np != 4) {
    char where[512];
    return dnl_error(DNL_ERR_ARG, "%s: model.planes needs 4 values, got %d",
                     cfg_where(config_lookup(c, "model.planes"), where, sizeof where), np);
  }
  for (int i = 0; i < 4; i++)
    n->backbone.planes[i] = (int)planes[i];
  n->backbone.width = (float)cfg_get_float(c, "model.width", 1.0);
  n->head_width = (int)cfg_get_int(c, "model.head_width", 512);
  n->dropout = (float)cfg_get_float(c, "model.dropout", 0.1);
  n->aux = cfg_get_bool(c, "model.aux", true);
  STR(r->init, "model.init", "");
  DNL_TRY(read_init_only(c, r));
  DNL_TRY(read_block(c, r));

  STR(r->dataset, "data.dataset", "synth");
  STR(r->root, "data.root", "data/synth");
  STR(r->train_split, "data.train_split", "train");
  STR(r->val_split, "data.val_split", "val");
  r->batch = (int)cfg_get_int(c, "data.batch", 8);
  r->crop = (int)cfg_get_int(c, "data.crop", 128);
  r->workers = (int)cfg_get_int(c, "data.workers", 2);
  r->random_resize = cfg_get_bool(c, "data.random_resize", true);
  r->scale_min = cfg_get_float(c, "data.scale_min", 0.5);
  r->scale_max = cfg_get_float(c, "data.scale_max", 2.0);
  r->aspect_min = cfg_get_float(c, "data.aspect_min", 0.9);
  r->aspect_max = cfg_get_float(c, "data.aspect_max", 1.1);
  if (r->scale_min > r->scale_max || r->aspect_min > r->aspect_max)
    return dnl_error(DNL_ERR_ARG, "data: scale_min/aspect_min must not exceed the max");
  r->brightness = (int)cfg_get_int(c, "data.brightness", 10);
  r->flip = cfg_get_bool(c, "data.flip", true);
  r->base_size = (int)cfg_get_int(c, "data.base_size", 0);
  STR(r->synth_cue, "data.synth.cue", "global");
  r->synth_train = (int)cfg_get_int(c, "data.synth.train", 400);
  r->synth_val = (int)cfg_get_int(c, "data.synth.val", 100);
  r->synth_size = (int)cfg_get_int(c, "data.synth.size", 128);
  r->synth_distance = cfg_get_float(c, "data.synth.distance", 42.0);

  r->iterations = cfg_get_int(c, "solver.iterations", 350);
  r->lr = cfg_get_float(c, "solver.lr", 0.01);
  r->momentum = cfg_get_float(c, "solver.momentum", 0.9);
  r->weight_decay = cfg_get_float(c, "solver.weight_decay", 5e-4);
  r->power = cfg_get_float(c, "solver.power", 0.9);

  r->ohem = cfg_get_bool(c, "loss.ohem", true);
  r->ohem_thresh = cfg_get_float(c, "loss.ohem_thresh", 0.7);
  r->ohem_min_kept = cfg_get_int(c, "loss.ohem_min_kept", 100000);
  r->aux_weight = cfg_get_float(c, "loss.aux_weight", 0.4);
  double cw[RUN_MAX_LIST];
  r->n_class_weights = cfg_get_float_array(c, "loss.class_weights", cw, RUN_MAX_LIST);
  for (int i = 0; i < r->n_class_weights; i++)
    r->class_weights[i] = (float)cw[i];

  r->eval_every = cfg_get_int(c, "eval.every", 0);
  STR(r->eval_mode, "eval.mode", "single");
  r->n_eval_scales = cfg_get_float_array(c, "eval.scales", r->eval_scales, RUN_MAX_LIST);
  if (r->n_eval_scales == 0) {
    r->eval_scales[0] = 1.0;
    r->n_eval_scales = 1;
  }
  r->eval_flip = cfg_get_bool(c, "eval.flip", false);
  r->eval_crop = (int)cfg_get_int(c, "eval.crop", 769);
  r->eval_stride = (int)cfg_get_int(c, "eval.stride", 512);
  r->eval_limit = cfg_get_int(c, "eval.limit", 0);
  r->eval_base_size = (int)cfg_get_int(c, "eval.base_size", 0);
  r->eval_max_size = (int)cfg_get_int(c, "eval.max_size", 0);
  r->eval_pad_to = (int)cfg_get_int(c, "eval.pad_to", 0);

  STR(r->out_dir, "output.dir", "results");
  STR(r->sweep, "output.sweep", "");
  STR(r->label, "output.label", "");
  r->log_every = cfg_get_int(c, "output.log_every", 10);
  r->checkpoint_every = cfg_get_int(c, "output.checkpoint_every", 0);
  r->attention_images = (int)cfg_get_int(c, "output.attention_images", 4);
  r->n_attention_queries =
      cfg_get_float_array(c, "output.attention_queries", r->attention_queries, RUN_MAX_LIST);
  if (r->n_attention_queries % 2)
    return dnl_error(DNL_ERR_ARG, "output.attention_queries: needs (y, x) pairs, got %d values",
                     r->n_attention_queries);
  r->auto_attention_queries = r->n_attention_queries == 0;
  if (r->auto_attention_queries)
    r->n_attention_queries = 6;
  return DNL_OK;
}
