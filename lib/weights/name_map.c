#include "lib/weights/name_map.h"

#include <stdio.h>
#include <string.h>

static const char *const map_names[] = {"none", "torchcv", "torchvision", "mmseg"};

dnl_status name_map_parse(const char *s, name_map *out) {
  for (int i = 0; i < 4; i++) {
    if (!strcmp(s, map_names[i])) {
      *out = (name_map)i;
      return DNL_OK;
    }
  }
  return dnl_error(DNL_ERR_ARG, "--map %s: expected none, torchcv, torchvision or mmseg", s);
}

const char *name_map_str(name_map m) { return map_names[m]; }

static bool starts(const char *s, const char *prefix) {
  return !strncmp(s, prefix, strlen(prefix));
}

static bool ends(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* "layer1." .. "layer4." */
static bool is_stage(const char *s) {
  return starts(s, "layer") && s[5] >= '1' && s[5] <= '4' && s[6] == '.';
}

static bool put(char *dst, size_t len, const char *a, const char *b) {
  snprintf(dst, len, "%s%s", a, b);
  return true;
}

static bool drop(const char **why, const char *reason) {
  *why = reason;
  return false;
}

static bool map_torchcv(const char *n, char *dst, size_t len, const char **why) {
  if (starts(n, "backbone."))
    return put(dst, len, "", n);
  if (starts(n, "prefix.") || is_stage(n))
    return put(dst, len, "backbone.", n);
  if (starts(n, "fc."))
    return drop(why, "ImageNet classifier");
  return drop(why, "not a backbone name of the original code (prefix.*, layerN.*)");
}

static bool map_torchvision(const char *n, char *dst, size_t len, const char **why) {
  if (starts(n, "conv1.") || starts(n, "bn1."))
    return drop(why, "7x7 stem of the standard ResNet; the deep 3x3 stem "
                     "(backbone.prefix.*) keeps its initialisation");
  if (is_stage(n))
    return put(dst, len, "backbone.", n);
  if (starts(n, "fc."))
    return drop(why, "ImageNet classifier");
  return drop(why, "not a torchvision ResNet name (layerN.*)");
}

/* mmseg's stem is a Sequential: conv, bn, relu, conv, bn, relu, conv, bn, relu.
 * Segmentation checkpoints put the backbone under "backbone."; mmseg's
 * ImageNet backbone checkpoints (ResNetV1c) have the same names without it. */
static bool map_mmseg(const char *n, char *dst, size_t len, const char **why) {
  static const char *const stem[] = {"conv1", "bn1", NULL, "conv2", "bn2", NULL, "conv3", "bn3"};
  if (starts(n, "decode_head.") || starts(n, "auxiliary_head."))
    return drop(why, "mmseg head: its layout differs from this network's head");
  if (starts(n, "backbone."))
    n += strlen("backbone.");
  if (starts(n, "stem.") && n[5] >= '0' && n[5] <= '7' && n[6] == '.' && stem[n[5] - '0']) {
    snprintf(dst, len, "backbone.prefix.%s%s", stem[n[5] - '0'], n + 6);
    return true;
  }
  if (is_stage(n))
    return put(dst, len, "backbone.", n);
  if (starts(n, "fc."))
    return drop(why, "ImageNet classifier");
  return drop(why, "not an mmseg ResNetV1c name ([backbone.]stem.*, [backbone.]layerN.*)");
}

bool name_map_apply(name_map m, const char *src, char *dst, size_t len, const char **why) {
  *why = NULL;
  while (starts(src, "module."))
    src += strlen("module.");
  if (ends(src, ".num_batches_tracked") || !strcmp(src, "num_batches_tracked"))
    return drop(why, "BN step counter, not a parameter");
  switch (m) {
  case NAME_MAP_NONE: return put(dst, len, "", src);
  case NAME_MAP_TORCHCV: return map_torchcv(src, dst, len, why);
  case NAME_MAP_TORCHVISION: return map_torchvision(src, dst, len, why);
  case NAME_MAP_MMSEG: return map_mmseg(src, dst, len, why);
  }
  return drop(why, "unknown map");
}
