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
  bool flip;            /* add a horizontally flipped pass per scale */
  int crop, stride;     /* sliding windows */
} infer_opts;

dnl_status infer_mode_parse(const char *name, infer_mode *out);

/* image: host [3, H, W] normalised; logits: host [classes, H, W], overwritten
 * with the sum over passes. Runs the network in eval mode (ctx->training is
 * restored afterwards). */
dnl_status infer_image(segnet *net, layer_ctx *ctx, const float *image, int H, int W,
                       const infer_opts *o, float *logits);

/* pred[i] = argmax over classes of logits[:, i] */
void logits_argmax(const float *logits, int classes, size_t pixels, int32_t *pred);

#endif
