/* none: the baseline without a context block; every option stays at its default. */
#include "blocks/nonlocal_common.h"

NONLOCAL_VARIANT(none, false, NONLOCAL_UNARY_NONE, 0, BLOCK_WHITEN_NONE,
                 "identity, the baseline head without a context block: out = x");
