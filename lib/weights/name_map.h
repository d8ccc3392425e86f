/* Renaming the tensors of other code bases' checkpoints to this project's
 * parameter names (SPEC 2), e.g. torchvision's layer1.0.conv1.weight ->
 * backbone.layer1.0.conv1.weight. Every map first removes DataParallel's
 * "module." prefixes and drops BN step counters (num_batches_tracked). */
#ifndef DNL_NAME_MAP_H
#define DNL_NAME_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/status.h"

typedef enum {
  NAME_MAP_NONE,        /* names are already this project's */
  NAME_MAP_TORCHCV,     /* the original code's ImageNet backbone: prefix.*, layerN.*, fc.* */
  NAME_MAP_TORCHVISION, /* torchvision ResNet: 7x7 conv1/bn1 (not mapped), layerN.*, fc.* */
  NAME_MAP_MMSEG,       /* mmsegmentation ResNetV1c: [backbone.]stem.*, [backbone.]layerN.* */
  NAME_MAP_PUBLISHED,   /* the authors' full models (SPEC 7): backbone.*, nlm.*, dsn.* */
} name_map;

#define NAME_MAP_COUNT 5

/* "none", "torchcv", "torchvision", "mmseg", "published". */
dnl_status name_map_parse(const char *s, name_map *out);
const char *name_map_str(name_map m);

/* The project name of a source tensor name into dst (true), or false with
 * *why saying why the tensor has no counterpart. dst gets at most len - 1
 * characters; a longer result is returned truncated, so callers check its length. */
bool name_map_apply(name_map m, const char *src, char *dst, size_t len, const char **why);

/* For a file imported without --map: which names its tensors carry. OK with
 * *out = NAME_MAP_NONE when they are this project's (backbone.*, head.*,
 * aux.*). Otherwise an error naming path: the map to give when one fits (the
 * authors' nlm.* / dsn.* names: published), else the maps tried and three of
 * the names. BN step counters and module. prefixes are not counted. */
dnl_status name_map_detect(const char *path, const char *const *names, int n, name_map *out);

#endif
