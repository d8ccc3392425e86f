/* dnl_shared: the step between nl and dnl (the published code's `with_unary` in
 * NonLocal2d_bn): whitened pairwise softmax plus a separate unary softmax whose
 * logits come from the shared query/key embedding, not from a conv of their own. */
#include "blocks/nonlocal_common.h"

NONLOCAL_VARIANT(dnl_shared, true, NONLOCAL_UNARY_SHARED,
                 1u << BLOCK_WHITEN_IN | 1u << BLOCK_WHITEN_LN, BLOCK_WHITEN_IN,
                 "whitened pairwise + unary from the shared embedding: out = x + gamma * "
                 "Y_pair (in or ln) + sum_j softmax_j(s mu_q.k'_j) v_j");
