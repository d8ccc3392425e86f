/* none: the baseline without a context block; every option stays at its default. */
#include "blocks/nonlocal_common.h"

static const nonlocal_spec spec = {
    .name = "none",
    .pairwise = false,
    .unary = false,
    .whiten_allowed = 0,
    .whiten_auto = BLOCK_WHITEN_NONE,
};

static dnl_status validate(const block_config *cfg) { return nonlocal_validate(&spec, cfg); }

static dnl_status resolve(const block_config *cfg, block_config *out) {
  return nonlocal_resolve(&spec, cfg, out);
}

static dnl_status create(const block_config *cfg, param_store *ps, const char *prefix,
                         block **out) {
  return nonlocal_create(&spec, cfg, ps, prefix, out);
}

const block_ops block_none_ops = {
    .name = "none",
    .summary = "identity, the baseline head without a context block: out = x",
    .has_pairwise = false,
    .has_unary = false,
    .validate = validate,
    .resolve = resolve,
    .create = create,
    .forward = nonlocal_forward,
    .backward = nonlocal_backward,
    .attention = nonlocal_attention,
    .destroy = nonlocal_destroy,
};
