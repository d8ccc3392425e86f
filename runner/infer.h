/* Test-time inference of one image (SPEC 5): raw logits summed over scales and
 * flips, sliding windows averaging overlapping logits, every logit map resized
 * back to the original size before the argmax. Images one at a time. */
#ifndef DNL_INFER_H
#define DNL_INFER_H

#include "lib/eval/metrics.h"
#include "net/segnet.h"

typedef enum { INFER_SINGLE, INFER_MULTISCALE, INFER_SLIDING } infer_mode;

typedef struct infer_opts {
  infer_mode mode;
  const double *scales; /* multiscale / sliding: the scales (single: ignored, 1.0) */
  int nscales;
  bool flip;        /* add a horizontally flipped pass per scale */
  int crop, stride; /* sliding windows */
  /* As the original code's ADE20K and Pascal Context test: the scales apply to
   * the image resized so that its short side is base_size (long side at most
   * max_size), truncated as its int(h * scale); each whole-image pass (not a
   * sliding window) is zero-padded at the right and bottom to a multiple of
   * pad_to and its logits cropped back. 0: off. */
  int base_size, max_size, pad_to;
} infer_opts;

/* Host buffers of the passes, kept from image to image and window to window
 * (zero-initialise; free with infer_buffers_free). */
typedef struct infer_buf {
  float *p;
  size_t n; /* floats */
} infer_buf;

typedef struct infer_buffers {
  infer_buf img, pass, up, win, wlog, count, pad;
} infer_buffers;

void infer_buffers_free(infer_buffers *b);

dnl_status infer_mode_parse(const char *name, infer_mode *out);

/* image: host [3, H, W] normalised; logits: host [classes, H, W], overwritten
 * with the sum over passes. Runs the network in eval mode (ctx->training is
 * restored afterwards). */
dnl_status infer_image(segnet *net, layer_ctx *ctx, const float *image, int H, int W,
                       const infer_opts *o, infer_buffers *bufs, float *logits);

/* pred[i] = argmax over classes of logits[:, i] */
void logits_argmax(const float *logits, int classes, size_t pixels, int32_t *pred);

#endif
