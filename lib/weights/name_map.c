#include "lib/weights/name_map.h"

#include <stdio.h>
#include <string.h>

static const char *const map_names[NAME_MAP_COUNT] = {"none", "torchcv", "torchvision", "mmseg",
                                                      "published"};

dnl_status name_map_parse(const char *s, name_map *out) {
  for (int i = 0; i < NAME_MAP_COUNT; i++) {
    if (!strcmp(s, map_names[i])) {
      *out = (name_map)i;
      return DNL_OK;
    }
  }
  return dnl_error(DNL_ERR_ARG, "--map %s: expected none, torchcv, torchvision, mmseg or published",
                   s);
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

/* The authors' full models (SPEC 7): the head is NLModule (Sequentials whose
 * BN sits in a Sequential(BN, ReLU) at .1.0), the aux head dsn a Sequential of
 * _ConvBatchNormReluBlock (conv, bn_relu.0), Dropout2d and the classifier (.2). */
static const char *const published_prefixes[][2] = {
    {"nlm.conva.0.", "head.conva."},
    {"nlm.conva.1.0.", "head.conva_bn."},
    {"nlm.ctb.conv_query.", "head.block.query."},
    {"nlm.ctb.conv_key.", "head.block.key."},
    {"nlm.ctb.conv_value.", "head.block.value."},
    {"nlm.ctb.conv_mask.", "head.block.mask."},
    {"nlm.ctb.conv_out.", "head.block.out."},
    {"nlm.ctb.out_bn.", "head.block.out_norm."},
    {"nlm.convb.0.", "head.convb."},
    {"nlm.convb.1.0.", "head.convb_bn."},
    {"nlm.bottleneck.0.", "head.bottleneck."},
    {"nlm.bottleneck.1.0.", "head.bottleneck_bn."},
    {"nlm.bottleneck.3.", "head.cls."},
    {"dsn.0.conv.", "aux.conv."},
    {"dsn.0.bn_relu.0.", "aux.bn."},
    {"dsn.2.", "aux.cls."},
};

static bool map_published(const char *n, char *dst, size_t len, const char **why) {
  if (!strcmp(n, "nlm.ctb.gamma"))
    return put(dst, len, "", "head.block.gamma");
  for (size_t i = 0; i < sizeof published_prefixes / sizeof published_prefixes[0]; i++)
    if (starts(n, published_prefixes[i][0]))
      return put(dst, len, published_prefixes[i][1], n + strlen(published_prefixes[i][0]));
  if (starts(n, "backbone.prefix.") || (starts(n, "backbone.") && is_stage(n + 9)))
    return put(dst, len, "", n);
  if (starts(n, "nlm.ctb."))
    return drop(why, "block tensor without a counterpart here (whitening by batch norm, "
                     "key_bn / query_bn, is not implemented)");
  return drop(why, "not a name of the published models (backbone.*, nlm.*, dsn.*: SPEC 7)");
}

bool name_map_apply(name_map m, const char *src, char *dst, size_t len, const char **why) {
  *why = NULL;
  while (starts(src, "module."))
    src += strlen("module.");
  if (ends(src, ".num_batches_tracked") || !strcmp(src, "num_batches_tracked"))
    return drop(why, "BN step counter, not a parameter");
  switch (m) {
  case NAME_MAP_NONE:
    return put(dst, len, "", src);
  case NAME_MAP_TORCHCV:
    return map_torchcv(src, dst, len, why);
  case NAME_MAP_TORCHVISION:
    return map_torchvision(src, dst, len, why);
  case NAME_MAP_MMSEG:
    return map_mmseg(src, dst, len, why);
  case NAME_MAP_PUBLISHED:
    return map_published(src, dst, len, why);
  }
  return drop(why, "unknown map");
}

static const char *strip_module(const char *n) {
  while (starts(n, "module."))
    n += strlen("module.");
  return n;
}

static bool is_counter(const char *n) {
  return ends(n, ".num_batches_tracked") || !strcmp(n, "num_batches_tracked");
}

static bool is_ours(const char *n) {
  return starts(n, "backbone.") || starts(n, "head.") || starts(n, "aux.");
}

static bool is_published(const char *n) { return starts(n, "nlm.") || starts(n, "dsn."); }

/* Names only a backbone map keeps (or drops knowingly, like fc.*). */
static bool fits_backbone_map(name_map m, const char *n) {
  char dst[8];
  const char *why;
  if (name_map_apply(m, n, dst, sizeof dst, &why))
    return true;
  return starts(n, "fc.") ||
         (m == NAME_MAP_TORCHVISION && (starts(n, "conv1.") || starts(n, "bn1."))) ||
         (m == NAME_MAP_MMSEG && (starts(n, "decode_head.") || starts(n, "auxiliary_head.")));
}

dnl_status name_map_detect(const char *path, const char *const *names, int n, name_map *out) {
  *out = NAME_MAP_NONE;
  int counted = 0, ours = 0, published = 0;
  for (int i = 0; i < n; i++) {
    const char *s = strip_module(names[i]);
    if (is_counter(s))
      continue;
    counted++;
    ours += is_ours(s);
    published += is_published(s);
  }
  if (published)
    return dnl_error(DNL_ERR_ARG,
                     "%s holds the authors' published names (%d tensors nlm.* / dsn.*): "
                     "import it with --map published",
                     path, published);
  if (ours == counted)
    return DNL_OK;
  /* the maps that keep a stem or stage of the backbone and know every name */
  static const name_map backbone_maps[] = {NAME_MAP_TORCHCV, NAME_MAP_MMSEG, NAME_MAP_TORCHVISION};
  for (int k = 0; k < 3; k++) {
    int fit = 0;
    for (int i = 0; i < n; i++) {
      const char *s = strip_module(names[i]);
      fit += is_counter(s) || fits_backbone_map(backbone_maps[k], s);
    }
    if (fit == n)
      return dnl_error(DNL_ERR_ARG, "%s holds %s names: import it with --map %s", path,
                       map_names[backbone_maps[k]], map_names[backbone_maps[k]]);
  }
  char ex[600] = "";
  size_t used = 0;
  for (int i = 0, k = 0; i < n && k < 3 && used < sizeof ex; i++) {
    const char *s = strip_module(names[i]);
    if (is_counter(s) || is_ours(s))
      continue;
    used += (size_t)snprintf(ex + used, sizeof ex - used, "%s'%.150s'", k++ ? ", " : "", names[i]);
  }
  return dnl_error(DNL_ERR_ARG,
                   "%s: its names match no known map (tried none, published, torchcv, mmseg, "
                   "torchvision), e.g. %s; --map none keeps them as they are",
                   path, ex);
}
