/* The weights of `runner eval` and `runner predict` (--checkpoint FILE [--map M]):
 * a training checkpoint, a file written by `runner import`, or a PyTorch /
 * safetensors file converted in memory by a name map (given, or detected when
 * the names are this project's). Every name and shape must be the network's:
 * otherwise one error names the file, the config and what differs. */
#ifndef DNL_RUNNER_WEIGHTS_LOAD_H
#define DNL_RUNNER_WEIGHTS_LOAD_H

#include <stdbool.h>

#include "blocks/block.h"
#include "lib/core/params.h"
#include "lib/weights/name_map.h"

typedef struct weights_source {
  const char *path;
  bool map_given; /* map holds --map; else foreign files must carry this project's names */
  name_map map;
  const char *config;        /* for messages */
  const block_config *block; /* the config's block: checked against the authors' run
                                configuration a published file carries (NULL: not) */
  char note[400];            /* out: what could not be checked, or "" */
} weights_source;

/* Loads the finalized store's values and buffers (no momentum) from src. */
dnl_status weights_load(param_store *ps, weights_source *src);

/* "--map NAME" of eval and predict into src (an error for an unknown map). */
dnl_status weights_source_set_map(weights_source *src, const char *name);

#endif
