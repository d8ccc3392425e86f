/* The general context block of shared/SPEC.md section 1, shared by every
 * variant: Z = gamma * Y_pair + Y_un, then the optional output conv and norm,
 * out = x + Z. A variant file states which terms it has and which whitening it
 * allows; this file does the rest (validation, parameters, forward, backward,
 * attention maps). A variant with neither term is the identity. */
#ifndef DNL_NONLOCAL_COMMON_H
#define DNL_NONLOCAL_COMMON_H

#include "blocks/block.h"

/* Where the unary term's logits come from. */
typedef enum {
  NONLOCAL_UNARY_NONE,   /* no unary term */
  NONLOCAL_UNARY_MASK,   /* m = a 1x1 conv of x of its own (mask), as DNL */
  NONLOCAL_UNARY_SHARED, /* m_j = s mu_q . k'_j from the pairwise term's query and key
                            (blocks/shared_unary.h) */
} nonlocal_unary;

typedef struct nonlocal_spec {
  const char *name;
  bool pairwise;            /* Y_pair with query, key, gamma */
  nonlocal_unary unary;     /* Y_un and its logits */
  unsigned whiten_allowed;  /* bits 1 << BLOCK_WHITEN_x the option may take */
  block_whiten whiten_auto; /* what whiten = auto means */
} nonlocal_spec;

dnl_status nonlocal_validate(const nonlocal_spec *spec, const block_config *cfg);
dnl_status nonlocal_resolve(const nonlocal_spec *spec, const block_config *cfg, block_config *out);
dnl_status nonlocal_create(const nonlocal_spec *spec, const block_config *cfg, param_store *ps,
                           const char *prefix, block **out);
dnl_status nonlocal_forward(block *b, layer_ctx *ctx, const tensor *x, tensor *y);
dnl_status nonlocal_backward(block *b, layer_ctx *ctx, const tensor *x, const tensor *dy,
                             tensor *dx);
dnl_status nonlocal_attention(block *b, layer_ctx *ctx, const tensor *x, int sample,
                              const int *query_pos, int nq, float *pair_maps, float *unary_map);
dnl_status nonlocal_term_sizes(block *b, layer_ctx *ctx, const tensor *x, block_term_sizes *out);
void nonlocal_destroy(block *b);

/* Defines `const block_ops block_<NAME>_ops` (the registry's entry) for a
 * variant: its spec and the three ops that bind the spec to the shared code. */
#define NONLOCAL_VARIANT(NAME, PAIRWISE, UNARY, WHITEN_ALLOWED, WHITEN_AUTO, SUMMARY)              \
  static const nonlocal_spec NAME##_spec = {.name = #NAME,                                         \
                                            .pairwise = PAIRWISE,                                  \
                                            .unary = UNARY,                                        \
                                            .whiten_allowed = WHITEN_ALLOWED,                      \
                                            .whiten_auto = WHITEN_AUTO};                           \
  static dnl_status NAME##_validate(const block_config *cfg) {                                     \
    return nonlocal_validate(&NAME##_spec, cfg);                                                   \
  }                                                                                                \
  static dnl_status NAME##_resolve(const block_config *cfg, block_config *out) {                   \
    return nonlocal_resolve(&NAME##_spec, cfg, out);                                               \
  }                                                                                                \
  static dnl_status NAME##_create(const block_config *cfg, param_store *ps, const char *prefix,    \
                                  block **out) {                                                   \
    return nonlocal_create(&NAME##_spec, cfg, ps, prefix, out);                                    \
  }                                                                                                \
  const block_ops block_##NAME##_ops = {.name = #NAME,                                             \
                                        .summary = SUMMARY,                                        \
                                        .has_pairwise = PAIRWISE,                                  \
                                        .has_unary = UNARY != NONLOCAL_UNARY_NONE,                 \
                                        .validate = NAME##_validate,                               \
                                        .resolve = NAME##_resolve,                                 \
                                        .create = NAME##_create,                                   \
                                        .forward = nonlocal_forward,                               \
                                        .backward = nonlocal_backward,                             \
                                        .attention = nonlocal_attention,                           \
                                        .term_sizes = nonlocal_term_sizes,                         \
                                        .destroy = nonlocal_destroy}

#endif
