/* Block configs: defaults, setting an option from text, resolving, printing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/block.h"

static const char *const whiten_names[] = {"none", "in", "ln", "auto"};
static const char *const norm_names[] = {"none", "bn", "in", "ln"};
static const char *const scale_names[] = {"off", "on", "auto"};

#define COUNT(a) ((int)(sizeof a / sizeof a[0]))

const char *block_whiten_name(block_whiten w) {
  return (unsigned)w < (unsigned)COUNT(whiten_names) ? whiten_names[w] : "?";
}
const char *block_norm_name(block_norm n) {
  return (unsigned)n < (unsigned)COUNT(norm_names) ? norm_names[n] : "?";
}
const char *block_scale_name(block_scale s) {
  return (unsigned)s < (unsigned)COUNT(scale_names) ? scale_names[s] : "?";
}

block_config block_config_defaults(void) {
  block_config c = {.channels = 512,
                    .inner = 0,
                    .whiten = BLOCK_WHITEN_AUTO,
                    .temperature = 1.0f,
                    .scale = BLOCK_SCALE_AUTO,
                    .nowd = false,
                    .out_conv = false,
                    .out_norm = BLOCK_NORM_NONE,
                    .fused = true,
                    .qk_init_std = 0.01f,
                    .qk_tied = false,
                    .v_init_std = 0.01f,
                    .v_init_kaiming = false,
                    .gamma_init = 0.0f,
                    .mask_init_std = 0.01f,
                    .lr_mult = 1.0f};
  strcpy(c.variant, "dnl");
  return c;
}

static dnl_status bad_value(const char *key, const char *value, const char *allowed) {
  return dnl_error(DNL_ERR_ARG, "block config: %s = '%s' is not valid (allowed: %s)", key, value,
                   allowed);
}

static int name_index(const char *value, const char *const *names, int count) {
  for (int i = 0; i < count; i++)
    if (strcmp(value, names[i]) == 0)
      return i;
  return -1;
}

static dnl_status parse_bool(const char *key, const char *value, bool *out) {
  static const char *const yes[] = {"true", "on", "1"}, *const no[] = {"false", "off", "0"};
  if (name_index(value, yes, COUNT(yes)) >= 0)
    *out = true;
  else if (name_index(value, no, COUNT(no)) >= 0)
    *out = false;
  else
    return bad_value(key, value, "true, false (on, off, 1, 0)");
  return DNL_OK;
}

static dnl_status parse_int(const char *key, const char *value, int lo, int *out) {
  char *end;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (errno || end == value || *end || v < lo || v > 1 << 20) {
    char allowed[48];
    snprintf(allowed, sizeof allowed, "an integer in %d..%d", lo, 1 << 20);
    return bad_value(key, value, allowed);
  }
  *out = (int)v;
  return DNL_OK;
}

/* A finite number; lower > 0 (positive) or >= 0 (non-negative) when asked. */
typedef enum { FLOAT_ANY, FLOAT_NONNEGATIVE, FLOAT_POSITIVE } float_range;

static dnl_status parse_float(const char *key, const char *value, float_range range, float *out) {
  static const char *const allowed[] = {"a finite number", "a finite number >= 0",
                                        "a finite number > 0"};
  char *end;
  errno = 0;
  float v = strtof(value, &end);
  if (errno || end == value || *end || !isfinite(v) ||
      (range == FLOAT_NONNEGATIVE && !(v >= 0.0f)) || (range == FLOAT_POSITIVE && !(v > 0.0f)))
    return bad_value(key, value, allowed[range]);
  *out = v;
  return DNL_OK;
}

static dnl_status parse_enum(const char *key, const char *value, const char *const *names,
                             int count, int *out) {
  int i = name_index(value, names, count);
  if (i < 0) {
    char allowed[64] = "";
    for (int k = 0; k < count; k++) {
      strcat(allowed, k ? ", " : "");
      strcat(allowed, names[k]);
    }
    return bad_value(key, value, allowed);
  }
  *out = i;
  return DNL_OK;
}

dnl_status block_config_set(block_config *cfg, const char *key, const char *value) {
  if (!key || !value)
    return dnl_error(DNL_ERR_ARG, "block config: key and value are required");
  int e;
  if (!strcmp(key, "variant")) {
    const block_ops *ops;
    DNL_TRY(block_lookup(value, &ops));
    snprintf(cfg->variant, sizeof cfg->variant, "%s", ops->name);
    return DNL_OK;
  }
  if (!strcmp(key, "channels"))
    return parse_int(key, value, 1, &cfg->channels);
  if (!strcmp(key, "inner"))
    return parse_int(key, value, 0, &cfg->inner);
  if (!strcmp(key, "temperature"))
    return parse_float(key, value, FLOAT_POSITIVE, &cfg->temperature);
  if (!strcmp(key, "qk_init_std"))
    return parse_float(key, value, FLOAT_NONNEGATIVE, &cfg->qk_init_std);
  if (!strcmp(key, "qk_tied"))
    return parse_bool(key, value, &cfg->qk_tied);
  if (!strcmp(key, "v_init_std"))
    return parse_float(key, value, FLOAT_NONNEGATIVE, &cfg->v_init_std);
  if (!strcmp(key, "v_init_kaiming"))
    return parse_bool(key, value, &cfg->v_init_kaiming);
  if (!strcmp(key, "gamma_init"))
    return parse_float(key, value, FLOAT_ANY, &cfg->gamma_init);
  if (!strcmp(key, "mask_init_std"))
    return parse_float(key, value, FLOAT_NONNEGATIVE, &cfg->mask_init_std);
  if (!strcmp(key, "lr_mult"))
    return parse_float(key, value, FLOAT_POSITIVE, &cfg->lr_mult);
  if (!strcmp(key, "nowd"))
    return parse_bool(key, value, &cfg->nowd);
  if (!strcmp(key, "out_conv"))
    return parse_bool(key, value, &cfg->out_conv);
  if (!strcmp(key, "fused"))
    return parse_bool(key, value, &cfg->fused);
  if (!strcmp(key, "whiten")) {
    DNL_TRY(parse_enum(key, value, whiten_names, COUNT(whiten_names), &e));
    cfg->whiten = (block_whiten)e;
    return DNL_OK;
  }
  if (!strcmp(key, "out_norm")) {
    DNL_TRY(parse_enum(key, value, norm_names, COUNT(norm_names), &e));
    cfg->out_norm = (block_norm)e;
    return DNL_OK;
  }
  if (!strcmp(key, "scale")) {
    bool b;
    if (!strcmp(value, "auto")) {
      cfg->scale = BLOCK_SCALE_AUTO;
      return DNL_OK;
    }
    if (parse_bool(key, value, &b) != DNL_OK)
      return bad_value(key, value, "auto, on, off (true, false)");
    cfg->scale = b ? BLOCK_SCALE_ON : BLOCK_SCALE_OFF;
    return DNL_OK;
  }
  return dnl_error(DNL_ERR_ARG,
                   "block config: unknown key '%s' (allowed: variant, channels, inner, whiten, "
                   "temperature, scale, nowd, out_conv, out_norm, fused, qk_init_std, qk_tied, "
                   "v_init_std, v_init_kaiming, gamma_init, mask_init_std, lr_mult)",
                   key);
}

dnl_status block_config_resolve(const block_config *cfg, block_config *out) {
  const block_ops *ops;
  DNL_TRY(block_lookup(cfg->variant, &ops));
  return ops->resolve(cfg, out);
}

const char *block_config_format(const block_config *c, char *buf, size_t len) {
  snprintf(buf, len,
           "variant=%s channels=%d inner=%d whiten=%s temperature=%g scale=%s nowd=%s "
           "out_conv=%s out_norm=%s fused=%s qk_init_std=%g qk_tied=%s v_init_std=%g "
           "v_init_kaiming=%s gamma_init=%g mask_init_std=%g lr_mult=%g",
           c->variant, c->channels, c->inner, block_whiten_name(c->whiten), (double)c->temperature,
           block_scale_name(c->scale), c->nowd ? "true" : "false", c->out_conv ? "true" : "false",
           block_norm_name(c->out_norm), c->fused ? "true" : "false", (double)c->qk_init_std,
           c->qk_tied ? "true" : "false", (double)c->v_init_std,
           c->v_init_kaiming ? "true" : "false", (double)c->gamma_init, (double)c->mask_init_std,
           (double)c->lr_mult);
  return buf;
}
