#include "lib/core/arena.h"

#include <stdlib.h>

#define ARENA_ALIGN 256

struct arena_block {
  arena_block *next;
  char *base;
  size_t size;
  size_t top;
};

static size_t align_up(size_t x) { return (x + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

static dnl_status add_block(arena *a, size_t size) {
  arena_block *b = calloc(1, sizeof *b);
  if (!b)
    return dnl_error(DNL_ERR_NOMEM, "arena: cannot allocate block header");
  void *p = NULL;
  dnl_status s = a->be->alloc(size, &p);
  if (s != DNL_OK) {
    free(b);
    return dnl_error_context(s, "arena: block of %zu bytes on %s", size, a->be->name);
  }
  b->base = p;
  b->size = size;
  b->next = a->blocks;
  a->blocks = b;
  return DNL_OK;
}

static void free_blocks(arena *a) {
  while (a->blocks) {
    arena_block *next = a->blocks->next;
    a->be->free(a->blocks->base);
    free(a->blocks);
    a->blocks = next;
  }
}

dnl_status arena_init(arena *a, const dnl_backend *be, size_t initial_bytes) {
  *a = (arena){.be = be};
  return initial_bytes ? add_block(a, align_up(initial_bytes)) : DNL_OK;
}

void arena_free(arena *a) {
  if (a->be)
    free_blocks(a);
  *a = (arena){0};
}

void arena_reset(arena *a) {
  int nblocks = 0;
  for (arena_block *b = a->blocks; b; b = b->next) {
    b->top = 0;
    nblocks++;
  }
  /* within one block the top is the bytes in use, so a step that allocates and
   * releases as this one did fits in one block of the peak size */
  if (nblocks > 1) {
    const size_t want = a->peak;
    free_blocks(a);
    /* on failure the next arena_alloc grows again and reports the error */
    if (add_block(a, align_up(want)) != DNL_OK)
      dnl_clear_error();
  }
  a->used = 0;
}

arena_mark arena_get_mark(const arena *a) {
  return (arena_mark){.block = a->blocks, .top = a->blocks ? a->blocks->top : 0,
                      .used = a->used};
}

void arena_release(arena *a, arena_mark m) {
  /* blocks added since the mark are emptied: the newest (the largest: sizes
   * never shrink along the chain) is kept for the next allocations, the others
   * are freed at once, so that a first pass that releases as it goes (eval)
   * does not keep every block it ever needed; the next reset merges the rest */
  arena_block *newest = a->blocks;
  if (newest && newest != m.block) {
    newest->top = 0;
    while (newest->next && newest->next != m.block) {
      arena_block *dead = newest->next;
      newest->next = dead->next;
      a->be->free(dead->base);
      free(dead);
    }
  }
  if (m.block)
    m.block->top = m.top;
  a->used = m.used;
}

dnl_status arena_alloc(arena *a, size_t bytes, void **out) {
  size_t need = align_up(bytes ? bytes : 1);
  arena_block *b = a->blocks;
  if (!b || b->top + need > b->size) {
    size_t grow = need;
    if (b && b->size > grow)
      grow = b->size;
    DNL_TRY(add_block(a, grow));
    b = a->blocks;
  }
  *out = b->base + b->top;
  b->top += need;
  a->used += need;
  if (a->used > a->peak)
    a->peak = a->used;
  return DNL_OK;
}

dnl_status arena_tensor(arena *a, tensor *t, int ndim, const int *shape) {
  *t = (tensor){0};
  DNL_TRY(tensor_set_shape(t, ndim, shape));
  void *p = NULL;
  DNL_TRY(arena_alloc(a, tensor_numel(t) * sizeof(float), &p));
  t->data = p;
  t->device = a->be->device;
  return DNL_OK;
}

dnl_status arena_tensor4(arena *a, tensor *t, int n, int c, int h, int w) {
  int shape[4] = {n, c, h, w};
  return arena_tensor(a, t, 4, shape);
}
