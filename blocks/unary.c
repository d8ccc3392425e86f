/* unary: the unary term of DNL alone (a global-context-like block). */
#include "blocks/nonlocal_common.h"

NONLOCAL_VARIANT(unary, false, NONLOCAL_UNARY_MASK, 0, BLOCK_WHITEN_NONE,
                 "unary term only (GC-like): out = x + sum_j softmax_j(m_j) "
                 "v_j, the same vector at every position");
