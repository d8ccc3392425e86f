/* nl: the plain embedded-Gaussian non-local block (pairwise term, no whitening). */
#include "blocks/nonlocal_common.h"

NONLOCAL_VARIANT(nl, true, NONLOCAL_UNARY_NONE, 1u << BLOCK_WHITEN_NONE, BLOCK_WHITEN_NONE,
                 "embedded-Gaussian non-local: out = x + gamma * sum_j "
                 "softmax_j(s q_i.k_j) v_j, no whitening, no unary term");
