/* dnl: the disentangled non-local block, whitened pairwise term plus unary term. */
#include "blocks/nonlocal_common.h"

static const nonlocal_spec spec = {
    .name = "dnl",
    .pairwise = true,
    .unary = true,
    .whiten_allowed = 1u << BLOCK_WHITEN_NONE | 1u << BLOCK_WHITEN_IN | 1u << BLOCK_WHITEN_LN,
    .whiten_auto = BLOCK_WHITEN_IN,
};

static dnl_status validate(const block_config *cfg) { return nonlocal_validate(&spec, cfg); }

static dnl_status resolve(const block_config *cfg, block_config *out) {
  return nonlocal_resolve(&spec, cfg, out);
}

static dnl_status create(const block_config *cfg, param_store *ps, const char *prefix,
                         block **out) {
  return nonlocal_create(&spec, cfg, ps, prefix, out);
}

const block_ops block_dnl_ops = {
    .name = "dnl",
    .summary = "disentangled non-local: out = x + gamma * Y_pair (whitened: in, ln or "
               "none) + Y_un (unary term)",
    .has_pairwise = true,
    .has_unary = true,
    .validate = validate,
    .resolve = resolve,
    .create = create,
    .forward = nonlocal_forward,
    .backward = nonlocal_backward,
    .attention = nonlocal_attention,
    .destroy = nonlocal_destroy,
};
