/* The variants by name. Adding a variant: its file blocks/<name>.c defining
 * block_<name>_ops, and one X(<name>) line below. */
#include <stdio.h>
#include <string.h>

#include "blocks/block.h"

#define BLOCK_VARIANTS(X) \
  X(none)                 \
  X(nl)                   \
  X(pairwise)             \
  X(unary)                \
  X(dnl_shared)           \
  X(dnl)

#define DECLARE(name) extern const block_ops block_##name##_ops;
BLOCK_VARIANTS(DECLARE)
#undef DECLARE

#define ENTRY(name) &block_##name##_ops,
static const block_ops *const variants[] = {BLOCK_VARIANTS(ENTRY)};
#undef ENTRY

#define VARIANT_COUNT ((int)(sizeof variants / sizeof variants[0]))

int block_count(void) { return VARIANT_COUNT; }

const block_ops *block_at(int i) { return i >= 0 && i < VARIANT_COUNT ? variants[i] : NULL; }

const block_ops *block_find(const char *name) {
  for (int i = 0; name && i < VARIANT_COUNT; i++)
    if (strcmp(variants[i]->name, name) == 0)
      return variants[i];
  return NULL;
}

dnl_status block_lookup(const char *name, const block_ops **out) {
  *out = block_find(name);
  if (*out)
    return DNL_OK;
  char known[128] = "";
  for (int i = 0; i < VARIANT_COUNT; i++) {
    strcat(known, i ? ", " : "");
    strcat(known, variants[i]->name);
  }
  return dnl_error(DNL_ERR_ARG, "block: variant = '%s' is unknown (allowed: %s)",
                   name ? name : "(null)", known);
}
