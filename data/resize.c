#include "data/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void resize_scratch_free(resize_scratch *s) {
  free(s->idx);
  free(s->wt);
  *s = (resize_scratch){0};
}

static dnl_status scratch_reserve(resize_scratch *s, size_t n) {
  if (n <= s->cap)
    return DNL_OK;
  int *idx = realloc(s->idx, n * sizeof *idx);
  if (idx)
    s->idx = idx;
  float *wt = realloc(s->wt, n * sizeof *wt);
  if (wt)
    s->wt = wt;
  if (!idx || !wt)
    return dnl_error(DNL_ERR_NOMEM, "out of memory for resize tables (%zu entries)", n);
  s->cap = n;
  return DNL_OK;
}

/* Source index and next-pixel weight for outputs [o0, o0 + n) of a src -> full
 * bilinear axis. */
static void bilinear_axis(int src, int full, int o0, int n, int *idx, float *wt) {
  double scale = (double)src / full;
  for (int i = 0; i < n; i++) {
    double f = (o0 + i + 0.5) * scale - 0.5;
    int s = (int)floor(f);
    double w = f - s;
    if (s < 0) {
      s = 0;
      w = 0;
    }
    if (s >= src - 1) {
      s = src - 1;
      w = 0;
    }
    idx[i] = s;
    wt[i] = (float)w;
  }
}

static void nearest_axis(int src, int full, int o0, int n, int *idx) {
  double scale = (double)src / full;
  for (int i = 0; i < n; i++) {
    int s = (int)floor((o0 + i) * scale);
    idx[i] = s < src - 1 ? s : src - 1;
  }
}

static dnl_status check_window(int sw, int sh, int c, const resize_window *win) {
  if (sw <= 0 || sh <= 0 || c <= 0 || win->full_w <= 0 || win->full_h <= 0 || win->w <= 0 ||
      win->h <= 0 || win->x0 < 0 || win->y0 < 0 || win->x0 + win->w > win->full_w ||
      win->y0 + win->h > win->full_h)
    return dnl_error(DNL_ERR_ARG,
                     "resize: window %dx%d at (%d,%d) of a %dx%d result from %dx%dx%d source",
                     win->w, win->h, win->x0, win->y0, win->full_w, win->full_h, sw, sh, c);
  return DNL_OK;
}

dnl_status resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c,
                              const resize_window *win, uint8_t *dst, resize_scratch *s) {
  DNL_TRY(check_window(sw, sh, c, win));
  DNL_TRY(scratch_reserve(s, (size_t)win->w + (size_t)win->h));
  int *xi = s->idx, *yi = s->idx + win->w;
  float *xw = s->wt, *yw = s->wt + win->w;
  bilinear_axis(sw, win->full_w, win->x0, win->w, xi, xw);
  bilinear_axis(sh, win->full_h, win->y0, win->h, yi, yw);
  size_t sstride = (size_t)sw * (size_t)c, dstride = (size_t)win->w * (size_t)c;
  for (int y = 0; y < win->h; y++) {
    const uint8_t *r0 = src + (size_t)yi[y] * sstride;
    const uint8_t *r1 = yi[y] + 1 < sh ? r0 + sstride : r0;
    float wy = yw[y];
    uint8_t *out = dst + (size_t)y * dstride;
    for (int x = 0; x < win->w; x++) {
      size_t a = (size_t)xi[x] * (size_t)c;
      size_t b = xi[x] + 1 < sw ? a + (size_t)c : a;
      float wx = xw[x];
      for (int k = 0; k < c; k++) {
        float top = r0[a + k] + wx * (float)(r0[b + k] - r0[a + k]);
        float bot = r1[a + k] + wx * (float)(r1[b + k] - r1[a + k]);
        float v = top + wy * (bot - top);
        out[(size_t)x * c + k] = (uint8_t)(v + 0.5f);
      }
    }
  }
  return DNL_OK;
}

dnl_status resize_nearest_u8(const uint8_t *src, int sw, int sh, int c,
                             const resize_window *win, uint8_t *dst, resize_scratch *s) {
  DNL_TRY(check_window(sw, sh, c, win));
  DNL_TRY(scratch_reserve(s, (size_t)win->w + (size_t)win->h));
  int *xi = s->idx, *yi = s->idx + win->w;
  nearest_axis(sw, win->full_w, win->x0, win->w, xi);
  nearest_axis(sh, win->full_h, win->y0, win->h, yi);
  size_t sstride = (size_t)sw * (size_t)c, dstride = (size_t)win->w * (size_t)c;
  for (int y = 0; y < win->h; y++) {
    const uint8_t *row = src + (size_t)yi[y] * sstride;
    uint8_t *out = dst + (size_t)y * dstride;
    if (c == 1) {
      for (int x = 0; x < win->w; x++)
        out[x] = row[xi[x]];
    } else {
      for (int x = 0; x < win->w; x++)
        memcpy(out + (size_t)x * c, row + (size_t)xi[x] * c, (size_t)c);
    }
  }
  return DNL_OK;
}

dnl_status resize_bilinear_f32(const float *src, int c, int sh, int sw, float *dst, int dh,
                               int dw, resize_scratch *s) {
  resize_window win = {dw, dh, 0, 0, dw, dh};
  DNL_TRY(check_window(sw, sh, c, &win));
  DNL_TRY(scratch_reserve(s, (size_t)dw + (size_t)dh));
  int *xi = s->idx, *yi = s->idx + dw;
  float *xw = s->wt, *yw = s->wt + dw;
  bilinear_axis(sw, dw, 0, dw, xi, xw);
  bilinear_axis(sh, dh, 0, dh, yi, yw);
  for (int k = 0; k < c; k++) {
    const float *plane = src + (size_t)k * sh * sw;
    float *out = dst + (size_t)k * dh * dw;
    for (int y = 0; y < dh; y++) {
      const float *r0 = plane + (size_t)yi[y] * sw;
      const float *r1 = yi[y] + 1 < sh ? r0 + sw : r0;
      float wy = yw[y];
      for (int x = 0; x < dw; x++) {
        int a = xi[x], b = a + 1 < sw ? a + 1 : a;
        float top = r0[a] + xw[x] * (r0[b] - r0[a]);
        float bot = r1[a] + xw[x] * (r1[b] - r1[a]);
        out[(size_t)y * dw + x] = top + wy * (bot - top);
      }
    }
  }
  return DNL_OK;
}
