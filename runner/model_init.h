/* The run config's model.init: pretrained weights (a checkpoint, or a file
 * made by `runner import`) copied into a freshly initialised network by name
 * and shape; what was loaded, missing, unexpected or mismatched is reported. */
#ifndef DNL_RUNNER_MODEL_INIT_H
#define DNL_RUNNER_MODEL_INIT_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/core/params.h"
#include "lib/store/checkpoint.h"

/* Loads path into the finalized store and prints the report to log. With
 * n_only > 0 only tensors whose names start with one of the prefixes in only
 * are taken (model.init_only). A missing or unreadable file, or one of which
 * no tensor matches the network, is an error. */
dnl_status model_init_load(param_store *ps, const char *path, const char *const *only, int n_only,
                           FILE *log);

/* One line per missing / unexpected / mismatched tensor with its shapes;
 * loaded ones one per line too when list_loaded, else counted per module. */
void model_init_print_report(FILE *f, const checkpoint_report *rep, bool list_loaded);

#endif
