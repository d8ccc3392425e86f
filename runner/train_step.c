#include "runner/train_step.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "lib/dist/dist.h"
#include "lib/layers/loss.h"

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

dnl_status train_step(session *s, const train_step_in *in, train_step_out *out) {
  const run_config *c = &s->cfg;
  dist *d = s->ctx.dist;
  memset(out, 0, sizeof *out);
  arena_reset(&s->act);
  DNL_TRY(params_zero_grad(&s->ps));
  /* OHEM selects and averages its hard pixels per rank, as the published
   * multi-GPU code does, so its ranks' losses count equally
   * (docs/distributed.md) */
  const double main_share = c->ohem ? 1.0 / dist_size(d) : in->share;
  s->ctx.training = true;
  tensor logits, aux;
  DNL_TRY(segnet_forward(&s->net, &s->ctx, in->images, &logits, &aux));
  loss_config lc = {.class_weights = in->class_weights, .ignore_label = LOSS_IGNORE_LABEL,
                    .ohem_thresh = (float)c->ohem_thresh, .ohem_min_kept = c->ohem_min_kept};
  tensor dlogits, daux;
  float loss_main, loss_aux = 0.0f;
  DNL_TRY(layer_ctx_zeros_like(&s->ctx, &dlogits, &logits));
  if (c->ohem)
    DNL_TRY(ohem_ce_loss(&s->ctx, &lc, &logits, in->labels, (float)main_share, &loss_main,
                         &dlogits));
  else
    DNL_TRY(ce_loss(&s->ctx, &lc, &logits, in->labels, (float)main_share, &loss_main,
                    &dlogits));
  const tensor *daux_p = NULL;
  if (aux.data) {
    DNL_TRY(layer_ctx_zeros_like(&s->ctx, &daux, &aux));
    DNL_TRY(ce_loss(&s->ctx, &lc, &aux, in->labels, (float)(c->aux_weight * in->share),
                    &loss_aux, &daux));
    daux_p = &daux;
  }
  /* the global batch's losses, and whether to stop, the same on every rank */
  double sums[3] = {main_share * loss_main, in->share * loss_aux, in->interrupted ? 1.0 : 0.0};
  DNL_TRY(dist_allreduce_sum(d, sums, 3, DIST_F64, "losses"));
  out->loss_main = (float)sums[0];
  out->loss_aux = (float)sums[1];
  out->interrupted = sums[2] > 0.0;
  out->loss = out->loss_main + (float)c->aux_weight * out->loss_aux;
  if (!isfinite(out->loss))
    return dnl_error(DNL_ERR_NUMERIC, "loss is %s", isnan(out->loss) ? "NaN" : "infinite");
  DNL_TRY(segnet_backward(&s->net, &s->ctx, &dlogits, daux_p));
  /* the all-reduce's time, not that of the backward still queued on a GPU */
  DNL_TRY(s->be->synchronize());
  const double t = now_seconds();
  DNL_TRY(dist_allreduce_sum_on(d, s->be, s->ps.grads, s->ps.total, DIST_F32, "gradients"));
  out->allreduce_seconds = now_seconds() - t;
  DNL_TRY(params_sgd_step(&s->ps, (float)in->lr, (float)c->momentum, (float)c->weight_decay));
  /* a finite loss can still come with an Inf gradient: never go on (or save a
   * checkpoint) with weights that are no longer numbers */
  size_t bad;
  DNL_TRY(s->be->count_nonfinite(s->ps.total, s->ps.values, &bad));
  if (bad)
    return dnl_error(DNL_ERR_NUMERIC, "the update made %zu parameters NaN or infinite", bad);
  return DNL_OK;
}
