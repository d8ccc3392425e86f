/* nl: the plain embedded-Gaussian non-local block (pairwise term, no whitening). */
#include "blocks/nonlocal_common.h"

static const nonlocal_spec spec = {
    .name = "nl",
    .pairwise = true,
    .unary = false,
    .whiten_allowed = 1u << BLOCK_WHITEN_NONE,
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

const block_ops block_nl_ops = {
    .name = "nl",
    .summary = "embedded-Gaussian non-local: out = x + gamma * sum_j softmax_j(s "
               "q_i.k_j) v_j, no whitening, no unary term",
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
