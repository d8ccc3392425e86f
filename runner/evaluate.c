#include "runner/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/loader.h"
#include "lib/dist/dist.h"
#include "runner/attention_stats.h"

dnl_status eval_options(const run_config *cfg, infer_opts *o) {
  memset(o, 0, sizeof *o);
  DNL_TRY(infer_mode_parse(cfg->eval_mode, &o->mode));
  o->scales = cfg->eval_scales;
  o->nscales = cfg->n_eval_scales;
  o->flip = cfg->eval_flip;
  o->crop = cfg->eval_crop;
  o->stride = cfg->eval_stride;
  o->base_size = cfg->eval_base_size;
  o->max_size = cfg->eval_max_size;
  o->pad_to = cfg->eval_pad_to;
  return DNL_OK;
}

void eval_result_free(eval_result *r) {
  confusion_free(&r->conf);
  free(r->class_iou);
  memset(r, 0, sizeof *r);
}

/* Data-parallel ranks evaluate images rank, rank + world, ... and sum their
 * confusion matrices, so that every rank gets the scores of the whole set. */
static dnl_status sum_over_ranks(dist *d, eval_result *out) {
  const int k = out->conf.classes;
  DNL_TRY(dist_allreduce_sum(d, out->conf.counts, (size_t)k * k, DIST_I64, "confusion matrix"));
  int64_t images = out->images;
  DNL_TRY(dist_allreduce_sum(d, &images, 1, DIST_I64, "evaluated images"));
  out->images = (long)images;
  return DNL_OK;
}

dnl_status evaluate(session *s, const infer_opts *o, bool show_progress, eval_result *out) {
  memset(out, 0, sizeof *out);
  const int k = s->cfg.net.classes;
  DNL_TRY(confusion_init(&out->conf, k));
  out->class_iou = calloc((size_t)k, sizeof *out->class_iou);
  if (!out->class_iou)
    return dnl_error(DNL_ERR_NOMEM, "eval: %d classes", k);
  dist *d = s->ctx.dist;
  const int rank = dist_rank(d), world = dist_size(d);
  loader_config lc;
  DNL_TRY(loader_config_init(&lc, s->val_ds, LOADER_EVAL));
  lc.workers = 1;
  lc.rank = rank;
  lc.world = world;
  loader *ld;
  DNL_TRY(loader_create(&lc, &ld));
  long total = loader_num_batches(ld);
  /* this rank's images among the first eval.limit ones */
  const long limit = s->cfg.eval_limit;
  const long mine = limit > rank ? (limit - 1 - rank) / world + 1 : 0;
  if (limit > 0 && mine < total)
    total = mine;
  float *logits = NULL;
  int32_t *pred = NULL;
  uint8_t *label8 = NULL;
  size_t cap = 0;
  /* the statistics need the block's maps of the image itself: one plain pass */
  const bool plain = o->mode == INFER_SINGLE && !o->flip;
  eval_stats es;
  eval_stats_init(&es, &s->net, !strcmp(s->cfg.dataset, "synth"));
  infer_buffers bufs = {0};
  dnl_status st = DNL_OK;
  for (long i = 0; i < total && st == DNL_OK; i++) {
    const loader_batch *b;
    st = loader_next(ld, &b);
    if (st != DNL_OK || !b)
      break;
    size_t pixels = (size_t)b->h * b->w;
    if (pixels > cap) {
      free(logits);
      free(pred);
      free(label8);
      logits = malloc(pixels * k * sizeof *logits);
      pred = malloc(pixels * sizeof *pred);
      label8 = malloc(pixels);
      cap = pixels;
      if (!logits || !pred || !label8) {
        st = dnl_error(DNL_ERR_NOMEM, "eval: logits of a %dx%d image", b->h, b->w);
        break;
      }
    }
    st = infer_image(&s->net, &s->ctx, b->images, b->h, b->w, o, &bufs, logits);
    if (st != DNL_OK)
      break;
    logits_argmax(logits, k, pixels, pred);
    st = confusion_add(&out->conf, b->labels, pred, pixels, DATASET_IGNORE);
    if (st == DNL_OK && plain) {
      for (size_t p = 0; p < pixels; p++)
        label8[p] = (uint8_t)b->labels[p];
      st = eval_stats_add(&es, &s->net, &s->ctx, label8, b->h, b->w, i * world + rank);
    }
    out->images++;
    if (show_progress)
      fprintf(stderr, "\r  eval %ld/%ld", i + 1, total);
  }
  if (show_progress)
    fprintf(stderr, "\r\033[K");
  free(logits);
  free(pred);
  free(label8);
  infer_buffers_free(&bufs);
  loader_destroy(ld);
  if (st == DNL_OK)
    st = eval_stats_finish(&es, d, &out->stats);
  eval_stats_free(&es);
  if (st != DNL_OK)
    return dnl_error_context(st, "evaluation on %s/%s", s->cfg.root, s->cfg.val_split);
  DNL_TRY(sum_over_ranks(d, out));
  confusion_scores(&out->conf, out->class_iou, &out->miou, &out->pixel_acc);
  return DNL_OK;
}

/* Attention buffers of A images. */
typedef struct capture {
  int a, q, h, w, fh, fw;
  uint8_t *image, *label;
  int32_t *queries;
  float *pairwise, *unary;
  float *ub_mass, *b_share, *pr_mass, *r_share, *uc_mass, *c_share;
  uint8_t *small_label;
} capture;

static void capture_free(capture *c) {
  free(c->image), free(c->label), free(c->queries), free(c->pairwise), free(c->unary);
  free(c->ub_mass), free(c->b_share), free(c->pr_mass), free(c->r_share), free(c->small_label);
  free(c->uc_mass), free(c->c_share);
}

/* Buffers for up to n images (c->a counts the ones filled). */
static dnl_status capture_alloc(capture *c, int n, bool pair, bool un) {
  size_t img = (size_t)n * c->h * c->w, fm = (size_t)c->fh * c->fw;
  c->image = malloc(img * 3);
  c->label = malloc(img);
  c->queries = malloc((size_t)n * c->q * 2 * sizeof(int32_t));
  c->pairwise = pair ? malloc((size_t)n * c->q * fm * sizeof(float)) : NULL;
  c->unary = un ? malloc((size_t)n * fm * sizeof(float)) : NULL;
  c->ub_mass = calloc((size_t)n, sizeof(float));
  c->b_share = calloc((size_t)n, sizeof(float));
  c->pr_mass = calloc((size_t)n * c->q, sizeof(float));
  c->r_share = calloc((size_t)n * c->q, sizeof(float));
  c->small_label = malloc(fm);
  c->uc_mass = calloc((size_t)n, sizeof(float));
  c->c_share = calloc((size_t)n, sizeof(float));
  if (!c->image || !c->label || !c->queries || (pair && !c->pairwise) || (un && !c->unary) ||
      !c->ub_mass || !c->b_share || !c->pr_mass || !c->r_share || !c->small_label || !c->uc_mass ||
      !c->c_share)
    return dnl_error(DNL_ERR_NOMEM, "attention maps of %d images", n);
  return DNL_OK;
}

dnl_status attention_capture(session *s, results_file *rf, long iter) {
  const block_ops *ops = s->net.head.block_ops;
  const int want = s->cfg.attention_images;
  if (want <= 0 || (!ops->has_pairwise && !ops->has_unary))
    return DNL_OK;
  augment_config ac;
  DNL_TRY(augment_defaults(s->cfg.dataset, &ac));
  image img = {0}, lab = {0};
  capture c = {0};
  float *x = NULL;
  dnl_status st = DNL_OK;
  int n = dataset_size(s->val_ds);
  for (int i = 0; i < n && c.a < want && st == DNL_OK; i++) {
    st = dataset_read(s->val_ds, i, &img, &lab);
    if (st != DNL_OK)
      break;
    if (c.a == 0) {
      /* sizes from the first image; the feature size from one forward */
      c.h = img.h, c.w = img.w, c.q = s->cfg.n_attention_queries / 2;
      x = malloc((size_t)3 * img.h * img.w * sizeof(float));
      if (!x) {
        st = dnl_error(DNL_ERR_NOMEM, "attention: image buffer");
        break;
      }
    } else if (img.h != c.h || img.w != c.w) {
      continue;
    }
    augment_normalize(&ac, &img, x);
    arena_reset(&s->act);
    const bool was_training = s->ctx.training;
    s->ctx.training = false;
    tensor xt, logits, aux;
    st = arena_tensor4(&s->act, &xt, 1, 3, c.h, c.w);
    if (st == DNL_OK)
      st = s->be->memcpy(xt.data, s->be->device, x, DEVICE_CPU,
                         (size_t)3 * c.h * c.w * sizeof(float));
    if (st == DNL_OK)
      st = segnet_forward(&s->net, &s->ctx, &xt, &logits, &aux);
    s->ctx.training = was_training;
    if (st != DNL_OK)
      break;
    if (!c.image) {
      c.fh = s->net.head.a.shape[2];
      c.fw = s->net.head.a.shape[3];
      st = capture_alloc(&c, want, ops->has_pairwise, ops->has_unary);
      if (st != DNL_OK)
        break;
    }
    const int a = c.a;
    const size_t fm = (size_t)c.fh * c.fw;
    memcpy(c.image + (size_t)a * c.h * c.w * 3, img.data, (size_t)c.h * c.w * 3);
    memcpy(c.label + (size_t)a * c.h * c.w, lab.data, (size_t)c.h * c.w);
    labels_downsample(lab.data, c.h, c.w, c.small_label, c.fh, c.fw);
    int qpos[RUN_MAX_LIST];
    const bool drawn = s->cfg.auto_attention_queries &&
                       eval_stats_draw_queries(c.small_label, c.fh * c.fw, i, true, qpos, c.q) > 0;
    for (int j = 0; j < c.q; j++) {
      /* a drawn query sits at the centre of its feature cell */
      int y = drawn ? (int)((qpos[j] / c.fw + 0.5) * c.h / c.fh)
                    : (int)(s->cfg.attention_queries[2 * j] * (c.h - 1) + 0.5);
      int xq = drawn ? (int)((qpos[j] % c.fw + 0.5) * c.w / c.fw)
                     : (int)(s->cfg.attention_queries[2 * j + 1] * (c.w - 1) + 0.5);
      c.queries[((size_t)a * c.q + j) * 2] = y;
      c.queries[((size_t)a * c.q + j) * 2 + 1] = xq;
      int fy = y * c.fh / c.h, fx = xq * c.fw / c.w;
      qpos[j] = fy * c.fw + fx;
    }
    st = segnet_attention(&s->net, &s->ctx, 0, qpos, c.q,
                          ops->has_pairwise ? c.pairwise + (size_t)a * c.q * fm : NULL,
                          ops->has_unary ? c.unary + (size_t)a * fm : NULL);
    if (st != DNL_OK)
      break;
    if (ops->has_unary) {
      double m, sh;
      unary_boundary_mass(c.unary + (size_t)a * fm, c.small_label, c.fh, c.fw, &m, &sh);
      c.ub_mass[a] = (float)m;
      c.b_share[a] = (float)sh;
      unary_cue_mass(c.unary + (size_t)a * fm, c.small_label, c.fh, c.fw, &m, &sh);
      c.uc_mass[a] = (float)m;
      c.c_share[a] = (float)sh;
    }
    for (int j = 0; ops->has_pairwise && j < c.q && st == DNL_OK; j++) {
      double m, sh;
      st = pairwise_region_mass(c.pairwise + ((size_t)a * c.q + j) * fm, c.small_label, c.fh, c.fw,
                                qpos[j], &m, &sh);
      c.pr_mass[a * c.q + j] = (float)m;
      c.r_share[a * c.q + j] = (float)sh;
    }
    c.a++;
  }
  if (st == DNL_OK && c.a > 0) {
    results_attention att = {.iter = iter,
                             .a = c.a,
                             .q = c.q,
                             .h = c.h,
                             .w = c.w,
                             .fh = c.fh,
                             .fw = c.fw,
                             .feature_stride = c.h / c.fh,
                             .image = c.image,
                             .label = c.label,
                             .queries = c.queries,
                             .pairwise = c.pairwise,
                             .unary = c.unary};
    /* the cue pair only where label-255 pixels are a cue (synthetic data) */
    bool cue = false;
    for (int k = 0; ops->has_unary && !strcmp(s->cfg.dataset, "synth") && k < c.a; k++)
      cue = cue || c.c_share[k] > 0;
    results_attention_stats stats = {.a = c.a,
                                     .q = c.q,
                                     .unary_boundary_mass = ops->has_unary ? c.ub_mass : NULL,
                                     .boundary_share = ops->has_unary ? c.b_share : NULL,
                                     .pairwise_same_region_mass =
                                         ops->has_pairwise ? c.pr_mass : NULL,
                                     .same_region_share = ops->has_pairwise ? c.r_share : NULL,
                                     .unary_cue_mass = cue ? c.uc_mass : NULL,
                                     .cue_share = cue ? c.c_share : NULL};
    st = results_write_attention(rf, &att, &stats);
  }
  capture_free(&c);
  free(x);
  image_free(&img);
  image_free(&lab);
  return st;
}
