/* dnl: the disentangled non-local block, whitened pairwise term plus unary term. */
#include "blocks/nonlocal_common.h"

NONLOCAL_VARIANT(dnl, true, NONLOCAL_UNARY_MASK,
                 1u << BLOCK_WHITEN_NONE | 1u << BLOCK_WHITEN_IN | 1u << BLOCK_WHITEN_LN,
                 BLOCK_WHITEN_IN,
                 "disentangled non-local: out = x + gamma * Y_pair (whitened: "
                 "in, ln or none) + Y_un (unary term)");
