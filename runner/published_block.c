#include "runner/published_block.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/weights/pth_entry.h"

/* A block as both sides describe it. */
typedef struct block_desc {
  bool pairwise, unary, scale, out_conv, out_bn;
  block_whiten whiten;
  float temperature;
  char unsupported[160]; /* a published setting the harness does not implement */
} block_desc;

static const pk_value *get(const pk_value *dict, const char *key) {
  return dict && dict->kind == PK_DICT ? pickle_dict_get(dict, key) : NULL;
}

static bool get_bool(const pk_value *dict, const char *key, bool dflt) {
  const pk_value *v = get(dict, key);
  if (v && v->kind == PK_BOOL)
    return v->u.b;
  if (v && v->kind == PK_INT)
    return v->u.i != 0;
  return dflt;
}

static double get_float(const pk_value *dict, const char *key, double dflt) {
  const pk_value *v = get(dict, key);
  if (v && v->kind == PK_FLOAT)
    return v->u.f;
  if (v && v->kind == PK_INT)
    return (double)v->u.i;
  return dflt;
}

/* Whether the list (or tuple) under key holds the string s. */
static bool list_has(const pk_value *dict, const char *key, const char *s) {
  const pk_value *v = get(dict, key);
  if (!v || (v->kind != PK_LIST && v->kind != PK_TUPLE))
    return false;
  for (size_t i = 0; i < v->u.seq.count; i++)
    if (pickle_is_str(v->u.seq.items[i], s))
      return true;
  return false;
}

/* ["a", "b"] of a list of strings */
static void list_text(const pk_value *dict, const char *key, char *buf, size_t len) {
  const pk_value *v = get(dict, key);
  size_t n = (size_t)snprintf(buf, len, "[");
  for (size_t i = 0;
       v && (v->kind == PK_LIST || v->kind == PK_TUPLE) && i < v->u.seq.count && n < len; i++) {
    const pk_value *it = v->u.seq.items[i];
    n += (size_t)snprintf(buf + n, len - n, "%s\"%s\"", i ? ", " : "",
                          it->kind == PK_STR ? it->u.str.s : "?");
  }
  if (n < len)
    snprintf(buf + n, len - n, "]");
}

static void unsupported(block_desc *d, const char *what) {
  if (!d->unsupported[0])
    snprintf(d->unsupported, sizeof d->unsupported, "%s", what);
}

/* model/seg/ops/nonlocal_block_nowd.py */
static void describe_nowd(const pk_value *nl, block_desc *d) {
  d->pairwise = get_bool(nl, "with_nl", true);
  d->unary = get_bool(nl, "with_gc", false);
  d->scale = !list_has(nl, "nowd", "nl");
  d->temperature = 1.0f;
  if (list_has(nl, "whiten_type", "in_nostd"))
    d->whiten = BLOCK_WHITEN_IN;
  else if (list_has(nl, "whiten_type", "in"))
    unsupported(d, "whitening 'in' with the standard deviation");
  else if (list_has(nl, "whiten_type", "ln_nostd"))
    d->whiten = BLOCK_WHITEN_LN;
  else if (list_has(nl, "whiten_type", "ln") || list_has(nl, "whiten_type", "fln") ||
           list_has(nl, "whiten_type", "fln_nostd"))
    unsupported(d, "whitening 'ln' / 'fln' with the standard deviation or over the batch");
  else
    d->whiten = BLOCK_WHITEN_NONE;
}

/* model/seg/ops/nonlocal_block.py (NonLocal2d_bn) */
static void describe_bn(const pk_value *nl, block_desc *d) {
  d->pairwise = true;
  d->unary = get_bool(nl, "with_gc", false);
  d->scale = true;
  d->temperature = (float)get_float(nl, "temp", 1.0);
  if (get_bool(nl, "with_unary", false))
    unsupported(d, "with_unary (a unary term from the shared query / key embedding)");
  if (list_has(nl, "whiten_type", "spatial") || list_has(nl, "whiten_type", "bn") ||
      list_has(nl, "whiten_type", "bn_affine"))
    unsupported(d, "whitening 'spatial' / 'bn' / 'bn_affine'");
  d->whiten = list_has(nl, "whiten_type", "channel")    ? BLOCK_WHITEN_IN
              : list_has(nl, "whiten_type", "ln_nostd") ? BLOCK_WHITEN_LN
                                                        : BLOCK_WHITEN_NONE;
}

static void describe_ours(const block_config *r, block_desc *d) {
  memset(d, 0, sizeof *d);
  d->pairwise =
      !strcmp(r->variant, "nl") || !strcmp(r->variant, "pairwise") || !strcmp(r->variant, "dnl");
  d->unary = !strcmp(r->variant, "unary") || !strcmp(r->variant, "dnl");
  d->scale = r->scale == BLOCK_SCALE_ON;
  d->temperature = r->temperature;
  d->whiten = d->pairwise ? r->whiten : BLOCK_WHITEN_NONE;
  d->out_conv = r->out_conv;
  d->out_bn = r->out_norm == BLOCK_NORM_BN;
}

static const char *desc_text(const block_desc *d, char *buf, size_t len) {
  char scale[48];
  if (d->scale)
    snprintf(scale, sizeof scale, "scaling with temperature %g", (double)d->temperature);
  else
    snprintf(scale, sizeof scale, "no scaling");
  snprintf(buf, len, "%s%s%s, whitening %s, %s%s%s", d->pairwise ? "pairwise" : "",
           d->pairwise && d->unary ? " + " : "", d->unary ? "unary" : "",
           block_whiten_name(d->whiten), scale, d->out_conv ? ", output conv" : "",
           d->out_bn ? ", output BN" : "");
  return buf;
}

static bool same(const block_desc *a, const block_desc *b) {
  return a->pairwise == b->pairwise && a->unary == b->unary && a->scale == b->scale &&
         (!a->scale || fabsf(a->temperature - b->temperature) <= 1e-6f * fabsf(b->temperature)) &&
         (!a->pairwise || a->whiten == b->whiten) && a->out_conv == b->out_conv &&
         a->out_bn == b->out_bn;
}

dnl_status published_block_check(const weight_file *wf, const block_config *config_block,
                                 char *diff, size_t len, char *note, size_t note_len) {
  diff[0] = '\0';
  if (note)
    note[0] = '\0';
  block_config resolved;
  block_config cb = *config_block;
  if (cb.channels <= 0)
    cb.channels = 512;
  DNL_TRY(block_config_resolve(&cb, &resolved));
  pickle_doc doc;
  pickle_doc_init(&doc);
  const pk_value *cfg = NULL;
  dnl_status s = pth_read_entry(wf, &doc, "config_dict", &cfg);
  const pk_value *model = get(get(cfg, "network"), "model_name");
  const pk_value *nl = get(cfg, "nonlocal");
  const char *name = model && model->kind == PK_STR ? model->u.str.s : NULL;
  block_desc file = {0}, ours;
  describe_ours(&resolved, &ours);
  if (s != DNL_OK) {
    pickle_doc_free(&doc);
    return s;
  }
  if (!name || !nl || (strcmp(name, "nonlocalnowd") && strcmp(name, "nonlocalbn"))) {
    if (note)
      snprintf(note, note_len,
               "%s carries no config_dict of nonlocalnowd / nonlocalbn: its block family "
               "cannot be checked (the config's preset decides)",
               wf->path);
    pickle_doc_free(&doc);
    return DNL_OK;
  }
  if (!strcmp(name, "nonlocalnowd"))
    describe_nowd(nl, &file);
  else
    describe_bn(nl, &file);
  file.out_conv = get_bool(nl, "use_out", false);
  file.out_bn = get_bool(nl, "out_bn", false);
  if (get_bool(nl, "downsample", false))
    unsupported(&file, "downsample (keys and values max-pooled 2x2)");
  char whiten[160], a[160], b[160];
  list_text(nl, "whiten_type", whiten, sizeof whiten);
  if (file.unsupported[0])
    snprintf(diff, len,
             "block: the file's run is %s with %s, which this harness does not "
             "implement",
             name, file.unsupported);
  else if (!same(&file, &ours))
    snprintf(diff, len,
             "block: the file's run is %s with whiten_type %s (%s), the config's block is %s "
             "(%s)",
             name, whiten, desc_text(&file, a, sizeof a), resolved.variant,
             desc_text(&ours, b, sizeof b));
  pickle_doc_free(&doc);
  return DNL_OK;
}
