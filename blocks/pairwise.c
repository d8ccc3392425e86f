/* pairwise: the whitened pairwise term of DNL alone. */
#include "blocks/nonlocal_common.h"

static const nonlocal_spec spec = {
    .name = "pairwise",
    .pairwise = true,
    .unary = false,
    .whiten_allowed = 1u << BLOCK_WHITEN_IN | 1u << BLOCK_WHITEN_LN,
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

const block_ops block_pairwise_ops = {
    .name = "pairwise",
    .summary = "whitened pairwise term only: out = x + gamma * sum_j softmax_j(s "
               "q'_i.k'_j) v_j, q', k' centered (in or ln)",
    .has_pairwise = true,
    .has_unary = false,
    .validate = validate,
    .resolve = resolve,
    .create = create,
    .forward = nonlocal_forward,
    .backward = nonlocal_backward,
    .attention = nonlocal_attention,
    .destroy = nonlocal_destroy,
};
