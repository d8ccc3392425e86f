/* The attention parts of a context block (shared/SPEC.md section 1) over the
 * backend kernels, with the layer conventions: outputs and saved tensors come
 * from ctx->act, backward passes accumulate into the given gradients.
 *  - whitening of Q or K (steps 1): mean-centering in place;
 *  - pairwise attention (steps 2-4) with the fused or the reference kernel;
 *  - unary attention (step 5): softmax of the unary logits over positions and
 *    the attention-pooled value vector;
 *  - attention rows of chosen query positions, for inspection. */
#ifndef DNL_ATTENTION_H
#define DNL_ATTENTION_H

#include "lib/layers/layer.h"

typedef enum {
  WHITEN_NONE,    /* plain non-local */
  WHITEN_CHANNEL, /* "in": each channel's mean over the positions of a sample */
  WHITEN_SAMPLE,  /* "ln": one mean over all channels and positions of a sample */
} whiten_mode;

/* Centers t [N, C, H, W] in place. The map is its own adjoint, so the same
 * call turns the gradient of the whitened tensor into that of its input. */
dnl_status whiten_apply(layer_ctx *ctx, whiten_mode mode, tensor *t);

typedef struct pairwise_attention {
  bool fused;            /* fused kernel, else the materialised reference */
  float scale;           /* s of the logits */
  attention_shape shape; /* of the last forward */
  tensor saved;          /* reference: attn [N, P, P]; fused: lse [N, P] */
} pairwise_attention;

/* q, k [N, d, H, W], v [N, dv, H, W] -> out [N, dv, H, W]. */
dnl_status pairwise_attention_forward(pairwise_attention *a, layer_ctx *ctx, const tensor *q,
                                      const tensor *k, const tensor *v, tensor *out);
/* out: the forward's output. dq, dk, dv accumulate; NULL ones are skipped. */
dnl_status pairwise_attention_backward(pairwise_attention *a, layer_ctx *ctx, const tensor *q,
                                       const tensor *k, const tensor *v, const tensor *out,
                                       const tensor *dout, tensor *dq, tensor *dk, tensor *dv);
/* Bytes a kernel needs beyond its inputs and output: what the forward keeps
 * for the backward plus the larger of its two workspaces. */
size_t pairwise_attention_bytes(const dnl_backend *be, const attention_shape *s, bool fused);
/* Softmax rows of the queries query_pos[0..nq) (flat positions) of one sample
 * into host rows [nq, H * W]. */
dnl_status pairwise_attention_rows(layer_ctx *ctx, const tensor *q, const tensor *k,
                                   float scale, int sample, const int *query_pos, int nq,
                                   float *rows);

/* m [N, 1, H, W] unary logits, v [N, dv, H, W] -> u [N, 1, H, W] = softmax of m
 * over positions, y [N, dv] = sum_j u_j v[:, j]. */
dnl_status unary_attention_forward(layer_ctx *ctx, const tensor *m, const tensor *v, tensor *u,
                                   tensor *y);
/* dm, dv accumulate (NULL skipped). */
dnl_status unary_attention_backward(layer_ctx *ctx, const tensor *u, const tensor *v,
                                    const tensor *dy, tensor *dm, tensor *dv);

#endif
