/* The general context block of shared/SPEC.md section 1, shared by every
 * variant: Z = gamma * Y_pair + Y_un, then the optional output conv and norm,
 * out = x + Z. A variant file states which terms it has and which whitening it
 * allows; this file does the rest (validation, parameters, forward, backward,
 * attention maps). A variant with neither term is the identity. */
#ifndef DNL_NONLOCAL_COMMON_H
#define DNL_NONLOCAL_COMMON_H

#include "blocks/block.h"

typedef struct nonlocal_spec {
  const char *name;
  bool pairwise;              /* Y_pair with query, key, gamma */
  bool unary;                 /* Y_un with the mask conv */
  unsigned whiten_allowed;    /* bits 1 << BLOCK_WHITEN_x the option may take */
  block_whiten whiten_auto;   /* what whiten = auto means */
} nonlocal_spec;

dnl_status nonlocal_validate(const nonlocal_spec *spec, const block_config *cfg);
dnl_status nonlocal_resolve(const nonlocal_spec *spec, const block_config *cfg,
                            block_config *out);
dnl_status nonlocal_create(const nonlocal_spec *spec, const block_config *cfg, param_store *ps,
                           const char *prefix, block **out);
dnl_status nonlocal_forward(block *b, layer_ctx *ctx, const tensor *x, tensor *y);
dnl_status nonlocal_backward(block *b, layer_ctx *ctx, const tensor *x, const tensor *dy,
                             tensor *dx);
dnl_status nonlocal_attention(block *b, layer_ctx *ctx, const tensor *x, int sample,
                              const int *query_pos, int nq, float *pair_maps,
                              float *unary_map);
void nonlocal_destroy(block *b);

#endif
