/* pairwise: the whitened pairwise term of DNL alone. */
#include "blocks/nonlocal_common.h"

NONLOCAL_VARIANT(pairwise, true, NONLOCAL_UNARY_NONE, 1u << BLOCK_WHITEN_IN | 1u << BLOCK_WHITEN_LN,
                 BLOCK_WHITEN_IN,
                 "whitened pairwise term only: out = x + gamma * sum_j "
                 "softmax_j(s q'_i.k'_j) v_j, q', k' centered (in or ln)");
