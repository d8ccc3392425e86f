#include "runner/infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dnl_status infer_mode_parse(const char *name, infer_mode *out) {
  if (!strcmp(name, "single"))
    *out = INFER_SINGLE;
  else if (!strcmp(name, "multiscale"))
    *out = INFER_MULTISCALE;
  else if (!strcmp(name, "sliding"))
    *out = INFER_SLIDING;
  else
    return dnl_error(DNL_ERR_ARG, "eval.mode: \"%s\", expected single, multiscale or sliding",
                     name);
  return DNL_OK;
}

/* b holds at least n floats (contents kept only when it does already) */
static dnl_status grow(infer_buf *b, size_t n) {
  if (n <= b->n)
    return DNL_OK;
  free(b->p);
  b->p = malloc(n * sizeof(float));
  b->n = b->p ? n : 0;
  if (!b->p)
    return dnl_error(DNL_ERR_NOMEM, "inference: %zu floats of host memory", n);
  return DNL_OK;
}

void infer_buffers_free(infer_buffers *b) {
  free(b->img.p), free(b->pass.p), free(b->up.p), free(b->win.p), free(b->wlog.p);
  free(b->count.p), free(b->pad.p);
  memset(b, 0, sizeof *b);
}

static void flip_rows(float *x, int planes, int h, int w) {
  for (int p = 0; p < planes; p++)
    for (int y = 0; y < h; y++) {
      float *r = x + ((size_t)p * h + y) * w;
      for (int i = 0, j = w - 1; i < j; i++, j--) {
        float t = r[i];
        r[i] = r[j];
        r[j] = t;
      }
    }
}

/* Network logits of a host image [3, h, w] into host out [classes, h, w]. */
static dnl_status run_net(segnet *net, layer_ctx *ctx, const float *img, int h, int w, float *out) {
  const dnl_backend *be = ctx->be;
  arena_reset(ctx->act);
  tensor x, logits, aux;
  DNL_TRY(arena_tensor4(ctx->act, &x, 1, 3, h, w));
  DNL_TRY(be->memcpy(x.data, be->device, img, DEVICE_CPU, (size_t)3 * h * w * sizeof(float)));
  DNL_TRY(segnet_forward(net, ctx, &x, &logits, &aux));
  return be->memcpy(out, DEVICE_CPU, logits.data, be->device,
                    tensor_numel(&logits) * sizeof(float));
}

/* Sliding windows over a host image [3, h, w]: averaged logits into out. */
static dnl_status run_sliding(segnet *net, layer_ctx *ctx, const float *img, int h, int w,
                              const infer_opts *o, float *out, infer_buffers *bufs) {
  infer_buf *win = &bufs->win, *wlog = &bufs->wlog, *count = &bufs->count;
  const int k = net->cfg.classes;
  if (h <= o->crop && w <= o->crop)
    return run_net(net, ctx, img, h, w, out);
  int ys[256], xs[256];
  int ny = sliding_window_starts(h, o->crop, o->stride, ys, 256);
  int nx = sliding_window_starts(w, o->crop, o->stride, xs, 256);
  if (ny > 256 || nx > 256)
    return dnl_error(DNL_ERR_ARG, "eval: %dx%d image needs more than 256 windows per axis", h, w);
  const int ch = h < o->crop ? h : o->crop, cw = w < o->crop ? w : o->crop;
  DNL_TRY(grow(win, (size_t)3 * ch * cw));
  DNL_TRY(grow(wlog, (size_t)k * ch * cw));
  DNL_TRY(grow(count, (size_t)h * w));
  memset(out, 0, (size_t)k * h * w * sizeof(float));
  memset(count->p, 0, (size_t)h * w * sizeof(float));
  for (int a = 0; a < ny; a++)
    for (int b = 0; b < nx; b++) {
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < ch; y++)
          memcpy(win->p + ((size_t)c * ch + y) * cw, img + ((size_t)c * h + ys[a] + y) * w + xs[b],
                 (size_t)cw * sizeof(float));
      DNL_TRY(run_net(net, ctx, win->p, ch, cw, wlog->p));
      for (int c = 0; c < k; c++)
        for (int y = 0; y < ch; y++) {
          float *dst = out + ((size_t)c * h + ys[a] + y) * w + xs[b];
          const float *src = wlog->p + ((size_t)c * ch + y) * cw;
          for (int x = 0; x < cw; x++)
            dst[x] += src[x];
        }
      for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++)
          count->p[(size_t)(ys[a] + y) * w + xs[b] + x] += 1.0f;
    }
  for (int c = 0; c < k; c++)
    for (size_t i = 0; i < (size_t)h * w; i++)
      out[(size_t)c * h * w + i] /= count->p[i];
  return DNL_OK;
}

/* A whole-image pass, zero-padded to a multiple of pad_to and cropped back. */
static dnl_status run_padded(segnet *net, layer_ctx *ctx, const float *img, int h, int w,
                             int pad_to, float *out, infer_buffers *bufs) {
  const int k = net->cfg.classes;
  const int ph = pad_to > 1 ? (h + pad_to - 1) / pad_to * pad_to : h;
  const int pw = pad_to > 1 ? (w + pad_to - 1) / pad_to * pad_to : w;
  if (ph == h && pw == w)
    return run_net(net, ctx, img, h, w, out);
  infer_buf *pad = &bufs->pad;
  const size_t in = (size_t)3 * ph * pw, outn = (size_t)k * ph * pw;
  DNL_TRY(grow(pad, in + outn));
  float *pimg = pad->p, *plog = pad->p + in;
  memset(pimg, 0, in * sizeof(float));
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      memcpy(pimg + ((size_t)c * ph + y) * pw, img + ((size_t)c * h + y) * w,
             (size_t)w * sizeof(float));
  DNL_TRY(run_net(net, ctx, pimg, ph, pw, plog));
  for (int c = 0; c < k; c++)
    for (int y = 0; y < h; y++)
      memcpy(out + ((size_t)c * h + y) * w, plog + ((size_t)c * ph + y) * pw,
             (size_t)w * sizeof(float));
  return DNL_OK;
}

/* The size of a pass at scale s (see infer_opts: base_size). */
static void pass_size(const infer_opts *o, int H, int W, double s, int *h, int *w) {
  if (o->base_size <= 0) {
    *h = (int)(H * s + 0.5);
    *w = (int)(W * s + 0.5);
    return;
  }
  double r = (double)o->base_size / (H < W ? H : W);
  if (o->max_size > 0 && r * (H > W ? H : W) > o->max_size)
    r = (double)o->max_size / (H > W ? H : W);
  const int hb = (int)lround(H * r), wb = (int)lround(W * r);
  *h = (int)(hb * s);
  *w = (int)(wb * s);
}

dnl_status infer_image(segnet *net, layer_ctx *ctx, const float *image, int H, int W,
                       const infer_opts *o, infer_buffers *bufs, float *logits) {
  const int k = net->cfg.classes;
  const dnl_backend *host = cpu_backend();
  const bool was_training = ctx->training;
  ctx->training = false;
  static const double one = 1.0;
  const double *scales = o->mode == INFER_SINGLE ? &one : o->scales;
  const int nscales = o->mode == INFER_SINGLE ? 1 : o->nscales;
  infer_buf *img = &bufs->img, *pass = &bufs->pass, *up = &bufs->up;
  dnl_status st = DNL_OK;
  memset(logits, 0, (size_t)k * H * W * sizeof(float));
  for (int si = 0; si < nscales && st == DNL_OK; si++) {
    int h, w;
    pass_size(o, H, W, scales[si], &h, &w);
    if (h < 1 || w < 1) {
      st = dnl_error(DNL_ERR_ARG, "eval: scale %g makes the %dx%d image empty", scales[si], H, W);
      break;
    }
    st = grow(img, (size_t)3 * h * w);
    if (st == DNL_OK)
      st = grow(pass, (size_t)k * h * w);
    if (st == DNL_OK)
      st = grow(up, (size_t)k * H * W);
    if (st != DNL_OK)
      break;
    for (int f = 0; f < (o->flip ? 2 : 1) && st == DNL_OK; f++) {
      if (h == H && w == W) {
        memcpy(img->p, image, (size_t)3 * H * W * sizeof(float));
      } else {
        resize_shape rs = {1, 3, H, W, h, w, false};
        host->resize_forward(&rs, image, img->p);
      }
      if (f)
        flip_rows(img->p, 3, h, w);
      st = o->mode == INFER_SLIDING ? run_sliding(net, ctx, img->p, h, w, o, pass->p, bufs)
                                    : run_padded(net, ctx, img->p, h, w, o->pad_to, pass->p, bufs);
      if (st != DNL_OK)
        break;
      if (f)
        flip_rows(pass->p, k, h, w);
      const float *add = pass->p;
      if (h != H || w != W) {
        resize_shape rs = {1, k, h, w, H, W, true};
        host->resize_forward(&rs, pass->p, up->p);
        add = up->p;
      }
      for (size_t i = 0; i < (size_t)k * H * W; i++)
        logits[i] += add[i];
    }
  }
  ctx->training = was_training;
  return st;
}

void logits_argmax(const float *logits, int classes, size_t pixels, int32_t *pred) {
  for (size_t i = 0; i < pixels; i++) {
    int best = 0;
    float v = logits[i];
    for (int c = 1; c < classes; c++)
      if (logits[(size_t)c * pixels + i] > v) {
        v = logits[(size_t)c * pixels + i];
        best = c;
      }
    pred[i] = best;
  }
}
