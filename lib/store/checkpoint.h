/* Checkpoints: a param_store's values (buffers included) and momentum under
 * their PyTorch names, plus what training needs to resume exactly (iteration,
 * rng state, loader position, resolved config). Layout: docs/results.md.
 *
 * Saving writes "<path>.tmp", syncs it to disk and renames it over path, so a
 * crash or a full disk never leaves a broken checkpoint: on any error the
 * temporary file is removed and the previous checkpoint stays as it was. */
#ifndef DNL_CHECKPOINT_H
#define DNL_CHECKPOINT_H

#include <stdint.h>

#include "lib/core/params.h"
#include "lib/core/rng.h"
#include "lib/core/status.h"

typedef struct checkpoint_meta {
  int64_t iteration; /* finished iterations */
  rng rng_state;
  int64_t loader_epoch, loader_index;
  char *config; /* resolved libconfig text; malloc'ed by the readers, NULL saves "" */
} checkpoint_meta;

/* One parameter named in a comparison of a checkpoint with a param_store. */
typedef struct checkpoint_entry {
  char name[PARAM_NAME_MAX];
  char shape[64];       /* "[64, 3, 3, 3]": the checkpoint's, or the store's for missing ones */
  char store_shape[64]; /* mismatches: the store's shape */
} checkpoint_entry;

typedef struct checkpoint_list {
  int count, capacity;
  checkpoint_entry *items;
} checkpoint_list;

/* Appends an entry (store_shape NULL: none). */
dnl_status checkpoint_list_add(checkpoint_list *l, const char *name, const char *shape,
                               const char *store_shape);

typedef struct checkpoint_report {
  checkpoint_list loaded;     /* in both with the same shape */
  checkpoint_list missing;    /* in the store, not in the checkpoint */
  checkpoint_list unexpected; /* in the checkpoint, not in the store */
  checkpoint_list mismatched; /* in both, shapes differ */
  checkpoint_list excluded;   /* network tensors outside the prefixes of a filtered load */
  int ignored;                /* file tensors outside them and not in the network */
} checkpoint_report;

dnl_status checkpoint_save(const char *path, const param_store *ps, const checkpoint_meta *meta);

/* Resume: every name and shape must match ("checkpoint of another
 * architecture" lists the differences); restores values, buffers and momentum
 * bit-exactly, and fills *meta when it is not NULL (free with checkpoint_meta_free). */
dnl_status checkpoint_load(const char *path, param_store *ps, checkpoint_meta *meta);

/* Only the attributes (e.g. to read the config before building the network). */
dnl_status checkpoint_read_meta(const char *path, checkpoint_meta *meta);
void checkpoint_meta_free(checkpoint_meta *meta);

/* Pretrained imports: copies the values of entries whose name and shape match
 * and leaves the rest of the store (and all momentum) untouched. Needs only a
 * /params group. rep lists what happened; free it with checkpoint_report_free. */
dnl_status checkpoint_load_partial(const char *path, param_store *ps, checkpoint_report *rep);
/* The same for the tensors whose names start with one of the n prefixes only
 * (n = 0: all); the network's other tensors keep their values and are listed
 * as excluded, not as missing or mismatched. */
dnl_status checkpoint_load_partial_only(const char *path, param_store *ps,
                                        const char *const *prefixes, int n,
                                        checkpoint_report *rep);
void checkpoint_report_free(checkpoint_report *rep);

/* Evaluation: the values and buffers (no momentum) of a training checkpoint or
 * of a file of `runner import`, whose names and shapes must all be the store's.
 * On a difference it returns DNL_ERR_SHAPE with *rep listing it and the store
 * unchanged; otherwise rep holds the loaded list. Free rep either way. Refuses
 * newer format versions and files of the old head order. */
dnl_status checkpoint_load_values(const char *path, param_store *ps, checkpoint_report *rep);

/* "missing 2 (a [3, 4], b [5]), unexpected 1 (c [7]), shape mismatch ..." with
 * at most `first` names of each list. */
void checkpoint_report_summary(const checkpoint_report *rep, int first, char *buf, size_t len);

#endif
