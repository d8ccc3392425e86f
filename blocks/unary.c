/* unary: the unary term of DNL alone (a global-context-like block). */
#include "blocks/nonlocal_common.h"

static const nonlocal_spec spec = {
    .name = "unary",
    .pairwise = false,
    .unary = true,
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

const block_ops block_unary_ops = {
    .name = "unary",
    .summary = "unary term only (GC-like): out = x + sum_j softmax_j(m_j) v_j, the "
               "same vector at every position",
    .has_pairwise = false,
    .has_unary = true,
    .validate = validate,
    .resolve = resolve,
    .create = create,
    .forward = nonlocal_forward,
    .backward = nonlocal_backward,
    .attention = nonlocal_attention,
    .destroy = nonlocal_destroy,
};
