/* The unary logits of dnl_shared (shared/SPEC.md section 1; the published code's
 * `with_unary` in NonLocal2d_bn): computed from the query/key embedding the
 * pairwise term uses, not from a conv of their own.
 *
 *   m_j = s * sum_c mu_c K'_cj
 *
 * per sample, with K' the whitened key [C', P], s the pairwise term's logit scale
 * and mu [C'] the mean the query's whitening subtracts: each channel's mean over
 * the positions (`in`), or one mean over all channels and positions broadcast to
 * every channel (`ln`). Whitening K or not changes m by a constant, which the
 * softmax over j removes.
 *
 * Use in a forward: shared_unary_mean on the raw query (before it is whitened),
 * then shared_unary_logits on the whitened key. In the backward (dm, the gradient
 * of m): shared_unary_backward_key before the key's whitening is undone,
 * shared_unary_backward_query after the query's (the mean path bypasses the
 * whitening). Tensors come from ctx->act and are valid until it is reset. */
#ifndef DNL_SHARED_UNARY_H
#define DNL_SHARED_UNARY_H

#include "lib/layers/attention.h"

typedef struct shared_unary {
  whiten_mode mode; /* WHITEN_CHANNEL or WHITEN_SAMPLE */
  float scale;      /* s */
  /* the last forward's */
  tensor mu;   /* [N, C'] */
  tensor ones; /* [max(P, C')] of 1 */
} shared_unary;

/* q [N, C', H, W] before whitening -> su->mu. */
dnl_status shared_unary_mean(shared_unary *su, layer_ctx *ctx, const tensor *q);
/* k [N, C', H, W] whitened -> m [N, 1, H, W]. */
dnl_status shared_unary_logits(shared_unary *su, layer_ctx *ctx, const tensor *k, tensor *m);
/* dk [N, C', H, W] (of the whitened key) += s * mu dm. */
dnl_status shared_unary_backward_key(shared_unary *su, layer_ctx *ctx, const tensor *dm,
                                     tensor *dk);
/* dq [N, C', H, W] (of the raw query) += the mean's adjoint of s * K' dm^T. */
dnl_status shared_unary_backward_query(shared_unary *su, layer_ctx *ctx, const tensor *k,
                                       const tensor *dm, tensor *dq);

#endif
