/* The context block interface: every variant (none, nl, pairwise, unary, dnl)
 * behind one set of calls, chosen by name from the registry (blocks/registry.c).
 * Math: shared/SPEC.md section 1. Parameter names: "<prefix>.query.weight", ... */
#ifndef DNL_BLOCK_H
#define DNL_BLOCK_H

#include <stdbool.h>

#include "lib/layers/layer.h"

typedef enum { BLOCK_WHITEN_NONE, BLOCK_WHITEN_IN, BLOCK_WHITEN_LN } block_whiten;
typedef enum { BLOCK_NORM_NONE, BLOCK_NORM_BN, BLOCK_NORM_IN, BLOCK_NORM_LN } block_norm;

typedef struct block_config {
  char variant[32];   /* none | nl | pairwise | unary | dnl */
  int channels;       /* C */
  int inner;          /* C' (0: C / 2) */
  block_whiten whiten;
  float temperature;  /* 1.0 */
  bool scale;         /* s = 1 / (sqrt(C') * temperature) when on, 1 when off */
  bool nowd;          /* Q and K convs get weight decay 0 */
  bool out_conv;      /* 1x1 C' -> C output conv (V then maps C -> C') */
  block_norm out_norm;
  bool fused;         /* fused attention kernel (default) or the materialised reference */
} block_config;

typedef struct block block; /* an instance; its layout is private to the variant */

typedef struct block_ops {
  const char *name;
  const char *summary; /* one line: what the variant computes */
  /* Rejects options that do not apply to the variant (message names the key). */
  dnl_status (*validate)(const block_config *cfg);
  dnl_status (*create)(const block_config *cfg, param_store *ps, const char *prefix,
                       block **out);
  dnl_status (*forward)(block *b, layer_ctx *ctx, const tensor *x, tensor *y);
  dnl_status (*backward)(block *b, layer_ctx *ctx, const tensor *x, const tensor *dy,
                         tensor *dx);
  /* For sample `sample` of the last forward's input x: the pairwise attention row
   * of each query position (pair_maps [nq, h*w], NULL when the variant has no
   * pairwise term) and the unary map (unary_map [h*w], NULL when none). Host arrays. */
  dnl_status (*attention)(block *b, layer_ctx *ctx, const tensor *x, int sample,
                          const int *query_pos, int nq, float *pair_maps, float *unary_map);
  void (*destroy)(block *b);
} block_ops;

#endif
