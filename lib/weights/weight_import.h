/* lib/weights/ holds the reading of other projects' weight files: the
 * restricted pickle reader, PyTorch zip (through libzip) and legacy
 * checkpoints, safetensors (through jansson), the tensors they describe, the
 * name maps, and their import into this project's checkpoint layout. It
 * depends on lib/core and, to write HDF5, lib/store.
 *
 * Turning an opened foreign weight file into this project's checkpoint
 * layout (docs/results.md, "Checkpoints"): every tensor is renamed by a
 * name_map or dropped with a reason, and the kept ones are written as
 * float32 datasets /params/<name> of an HDF5 file that checkpoint_load_partial
 * (and so the run config's model.init) reads. Layout: docs/pretrained.md. */
#ifndef DNL_WEIGHT_IMPORT_H
#define DNL_WEIGHT_IMPORT_H

#include "lib/core/params.h"
#include "lib/store/checkpoint.h"
#include "lib/weights/name_map.h"
#include "lib/core/status.h"
#include "lib/weights/weight_file.h"

#define WEIGHT_IMPORT_FORMAT "dnl-import"

typedef struct import_entry {
  char name[PARAM_NAME_MAX]; /* this project's name */
  const wtensor *src;
} import_entry;

typedef struct import_drop {
  const wtensor *src;
  const char *why; /* static text */
} import_drop;

typedef struct import_plan {
  import_entry *kept;
  int n_kept;
  import_drop *dropped;
  int n_dropped;
} import_plan;

/* Maps every tensor of wf. Errors, naming the key: a kept tensor that is not
 * a float dtype, a name too long or holding '/', two tensors mapped to one name. */
dnl_status import_plan_build(const weight_file *wf, name_map map, import_plan *plan);
/* Moves kept entry i to the dropped list with the given reason. */
void import_plan_drop(import_plan *plan, int i, const char *why);
void import_plan_free(import_plan *plan);

/* Sorts the kept tensors against a network's parameters: loaded (same name and
 * shape), missing, unexpected, mismatched. Free rep with checkpoint_report_free. */
dnl_status import_plan_compare(const import_plan *plan, param_store *ps, checkpoint_report *rep);

/* Copies every kept tensor (as float32) into the finalized store's values; each
 * must have a parameter of its name and shape (import_plan_compare first). The
 * store changes only once every tensor has been converted. */
dnl_status import_plan_load(const import_plan *plan, param_store *ps);

/* Writes the kept tensors (float32, PyTorch layout) to out_path atomically:
 * on any error nothing is left at out_path (a previous file stays as it was). */
dnl_status import_write(const import_plan *plan, const weight_file *wf, name_map map,
                        const char *out_path);

#endif
