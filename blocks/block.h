/* The context block interface: every variant (none, nl, pairwise, unary, dnl)
 * behind one set of calls, chosen by name from the registry (blocks/registry.c).
 * Math: shared/SPEC.md section 1; what each variant and preset computes:
 * docs/blocks.md.
 *
 * Use: cfg = block_config_defaults() or block_preset(...); set cfg.channels
 * (and any option); ops = block_find(cfg.variant); ops->validate(&cfg);
 * ops->create(&cfg, ps, "head.block", &b) registers the parameters
 * "<prefix>.query.weight", ".query.bias", ".key.weight", ".key.bias",
 * ".value.weight", ".mask.weight", ".mask.bias", ".gamma", ".out.weight",
 * ".out_norm.*" (only those the variant and options have); then forward /
 * backward with the layer conventions of lib/layers/layer.h (y from the
 * arena, backward accumulates into dx and the parameter gradients). */
#ifndef DNL_BLOCK_H
#define DNL_BLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/layers/layer.h"

/* AUTO: the variant's own choice (nl: none; pairwise, dnl: in). */
typedef enum {
  BLOCK_WHITEN_NONE,
  BLOCK_WHITEN_IN,
  BLOCK_WHITEN_LN,
  BLOCK_WHITEN_AUTO
} block_whiten;
typedef enum { BLOCK_NORM_NONE, BLOCK_NORM_BN, BLOCK_NORM_IN, BLOCK_NORM_LN } block_norm;
/* OFF / ON keep the values of false / true; AUTO: on for the pairwise variants. */
typedef enum { BLOCK_SCALE_OFF = 0, BLOCK_SCALE_ON = 1, BLOCK_SCALE_AUTO = 2 } block_scale;

/* One field per config key (the key is the field's name). */
typedef struct block_config {
  char variant[32];    /* none | nl | pairwise | unary | dnl */
  int channels;        /* C (512 in the paper's head) */
  int inner;           /* C' (0: C / 2) */
  block_whiten whiten; /* auto */
  float temperature;   /* 1.0; enters s only when scale is on */
  block_scale scale;   /* auto; s = 1 / (sqrt(C') * temperature) when on, 1 when off */
  bool nowd;           /* Q and K convs get weight decay 0 */
  bool out_conv;       /* 1x1 C' -> C output conv (V then maps C -> C') */
  block_norm out_norm; /* none */
  bool fused;          /* true: fused attention kernel; false: materialised reference */
  /* initial values and learning rate (docs/blocks.md "Init and learning rate") */
  float qk_init_std;   /* 0.01: std of the query and key conv weights (>= 0) */
  bool qk_tied;        /* false; true: the key weight starts equal to the query weight */
  float v_init_std;    /* 0.01: std of the value conv weight (>= 0) */
  bool v_init_kaiming; /* false; true: value std sqrt(2 / C), overriding v_init_std */
  float gamma_init;    /* 0: gamma's initial value */
  float mask_init_std; /* 0.01: std of the unary mask conv weight (>= 0) */
  float lr_mult;       /* 1: learning-rate factor of every block parameter (> 0) */
} block_config;

typedef struct block block; /* an instance; its layout is private to the variant */

/* How much each term adds, for one sample of a forward. Defined at the level of
 * Z = gamma * Y_pair + Y_un, before the optional output conv and norm (so with
 * out_conv the terms are measured in the C' channels of Z), against the block
 * input x of that sample; ||.|| is the Frobenius norm over channels and positions:
 *   pairwise = ||gamma * Y_pair|| / ||x||
 *   unary    = ||Y_un broadcast to every position|| / ||x|| = sqrt(P) ||Y_un|| / ||x||
 * A value the variant lacks is NaN; x = 0 gives an infinite or NaN ratio. The
 * norms are single-precision BLAS dot products (relative error about 1e-6 * sqrt(n)). */
typedef struct block_term_sizes {
  float gamma;    /* the gamma of the forward; NaN without one (unary, none) */
  float pairwise; /* NaN without the pairwise term (unary, none) */
  float unary;    /* NaN without the unary term (nl, pairwise, none) */
} block_term_sizes;

typedef struct block_ops {
  const char *name;
  const char *summary; /* one line: what the variant computes */
  bool has_pairwise;   /* the attention maps the variant has */
  bool has_unary;
  /* Rejects options that do not apply to the variant or values out of range;
   * the message names the key and the allowed values. */
  dnl_status (*validate)(const block_config *cfg);
  /* validate, then every AUTO choice made and inner set: the config that runs. */
  dnl_status (*resolve)(const block_config *cfg, block_config *out);
  dnl_status (*create)(const block_config *cfg, param_store *ps, const char *prefix, block **out);
  /* x [N, C, H, W] -> y [N, C, H, W] */
  dnl_status (*forward)(block *b, layer_ctx *ctx, const tensor *x, tensor *y);
  dnl_status (*backward)(block *b, layer_ctx *ctx, const tensor *x, const tensor *dy, tensor *dx);
  /* For sample `sample` of the last forward's input x (valid until the arena is
   * reset): the pairwise attention row of each query position (flat index
   * y * W + x; pair_maps [nq, H*W]) and the unary map (unary_map [H*W]), as host
   * floats. Pass NULL for a map not wanted; asking for a map the variant does not
   * have (has_pairwise / has_unary) is an error. */
  dnl_status (*attention)(block *b, layer_ctx *ctx, const tensor *x, int sample,
                          const int *query_pos, int nq, float *pair_maps, float *unary_map);
  /* For every sample of the last forward's input x (valid until the arena is
   * reset): out[0 .. N-1], host values (block_term_sizes). */
  dnl_status (*term_sizes)(block *b, layer_ctx *ctx, const tensor *x, block_term_sizes *out);
  void (*destroy)(block *b);
} block_ops;

/* ---- registry (blocks/registry.c) ---- */
/* The variant of that name, or NULL. */
const block_ops *block_find(const char *name);
/* Like block_find, with an error naming the known variants when unknown. */
dnl_status block_lookup(const char *name, const block_ops **out);
int block_count(void);
const block_ops *block_at(int i);

/* ---- configs (blocks/config.c) ---- */
/* variant dnl, channels 512, inner 0 (C/2), whiten auto, temperature 1, scale
 * auto, nowd off, out_conv off, out_norm none, fused on; the published init (every
 * std 0.01, qk_tied and v_init_kaiming off, gamma_init 0) and lr_mult 1. */
block_config block_config_defaults(void);
/* Sets one option from text ("dnl", "0.05", "true", "in" ...); errors name the
 * key and the allowed values. Does not check that the option fits the variant. */
dnl_status block_config_set(block_config *cfg, const char *key, const char *value);
/* block_lookup(cfg->variant) then its resolve. */
dnl_status block_config_resolve(const block_config *cfg, block_config *out);
/* "variant=dnl channels=512 inner=256 whiten=in ..." (every key) into buf. */
const char *block_config_format(const block_config *cfg, char *buf, size_t len);
const char *block_whiten_name(block_whiten w);
const char *block_norm_name(block_norm n);
const char *block_scale_name(block_scale s);

/* ---- presets (blocks/presets.c) ---- */
typedef struct block_preset_info {
  const char *name;
  const char *summary; /* what it is and whether it follows the paper or the published code */
} block_preset_info;

int block_preset_count(void);
const block_preset_info *block_preset_at(int i);
/* *out = defaults + the preset's settings; dataset_name (may be NULL) picks
 * dataset-dependent values (dnl_temp_in: temperature 0.1 on "ade20k", else
 * 0.05). Unknown preset: DNL_ERR_ARG listing the known ones. */
dnl_status block_preset(const char *preset_name, const char *dataset_name, block_config *out);

#endif
