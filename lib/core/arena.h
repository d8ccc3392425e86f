/* Per-step activation arena on one device.
 *
 * Allocation bumps a pointer; arena_reset() frees everything at once, and
 * arena_release() frees everything handed out since a mark (last in, first
 * out: the backward pass frees each unit's gradients this way). When a
 * step needs more than the current block, extra blocks are allocated, and the
 * next reset replaces them all by one block of the peak size, so from the
 * second step on a training loop does no device allocation at all. */
#ifndef DNL_ARENA_H
#define DNL_ARENA_H

#include <stddef.h>

#include "lib/core/backend.h"
#include "lib/core/tensor.h"

typedef struct arena_block arena_block;

typedef struct arena {
  const dnl_backend *be;
  arena_block *blocks; /* newest first */
  size_t used;         /* bytes handed out since the last reset */
  size_t peak;         /* largest `used` seen */
} arena;

/* A position in the arena to release back to. */
typedef struct arena_mark {
  arena_block *block; /* the block allocations went to (NULL: none yet) */
  size_t top, used;
} arena_mark;

dnl_status arena_init(arena *a, const dnl_backend *be, size_t initial_bytes);
void arena_free(arena *a);
void arena_reset(arena *a);

arena_mark arena_get_mark(const arena *a);
/* Frees for reuse what was allocated since the mark (which must be the newest
 * mark still in use); what came before stays valid. */
void arena_release(arena *a, arena_mark m);

/* Raw bytes, aligned to 256. */
dnl_status arena_alloc(arena *a, size_t bytes, void **out);
/* A tensor of the given shape, uninitialised. */
dnl_status arena_tensor(arena *a, tensor *t, int ndim, const int *shape);
dnl_status arena_tensor4(arena *a, tensor *t, int n, int c, int h, int w);

#endif
