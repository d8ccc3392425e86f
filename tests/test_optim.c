#include <math.h>
#include <string.h>

#include "lib/core/params.h"
#include "tests/test_util.h"

/* Three steps of torch.optim.SGD (momentum 0.9, no Nesterov) with a weight-decay
 * group and a no-decay group, the learning rate from PolynomialLR; a buffer in
 * the same store must not move. */
Test(sgd, matches_pytorch_two_groups_three_steps) {
  h5io_array hyper = fixture_floats("layers.h5", "sgd/hyper", 5); /* base mom wd max power */
  h5io_array w0 = fixture_floats("layers.h5", "sgd/w_decay0", 12);
  h5io_array v0 = fixture_floats("layers.h5", "sgd/w_nodecay0", 5);
  h5io_array gw = fixture_floats("layers.h5", "sgd/grad_decay", 36);
  h5io_array gv = fixture_floats("layers.h5", "sgd/grad_nodecay", 15);
  h5io_array ww = fixture_floats("layers.h5", "sgd/w_decay", 36);
  h5io_array wv = fixture_floats("layers.h5", "sgd/w_nodecay", 15);
  h5io_array lr = fixture_floats("layers.h5", "sgd/lr", 3);
  const float *h = hyper.data;

  param_store ps;
  params_init(&ps);
  tensor w, dw, v, dv, buf;
  const param_init zero = {PARAM_INIT_CONST, 0, 0};
  TRY_OK(params_add(&ps, "head.conva.weight", 2, (const int[2]){4, 3}, PARAM_TRAINABLE, zero,
                    &w, &dw));
  TRY_OK(params_add(&ps, "head.block.query.bias", 1, (const int[1]){5}, PARAM_NO_DECAY, zero,
                    &v, &dv));
  TRY_OK(params_add(&ps, "head.conva_bn.running_var", 1, (const int[1]){5}, PARAM_BUFFER,
                    zero, &buf, NULL));
  TRY_OK(params_finalize(&ps, cpu_backend()));
  memcpy(w.data, w0.data, 12 * sizeof(float));
  memcpy(v.data, v0.data, 5 * sizeof(float));
  for (int i = 0; i < 5; i++)
    buf.data[i] = 1.0f + (float)i;
  for (int step = 0; step < 3; step++) {
    const double rate = poly_lr(h[0], step, (long)h[3], h[4]);
    cr_assert(fabs(rate - ((float *)lr.data)[step]) < 1e-8, "step %d lr %.9g, torch %.9g",
              step, rate, (double)((float *)lr.data)[step]);
    memcpy(dw.data, (float *)gw.data + step * 12, 12 * sizeof(float));
    memcpy(dv.data, (float *)gv.data + step * 5, 5 * sizeof(float));
    TRY_OK(params_sgd_step(&ps, (float)rate, h[1], h[2]));
    ASSERT_CLOSE(w.data, (float *)ww.data + step * 12, 12, 1e-6, 1e-5, "decay group");
    ASSERT_CLOSE(v.data, (float *)wv.data + step * 5, 5, 1e-6, 1e-5, "no-decay group");
  }
  for (int i = 0; i < 5; i++)
    cr_assert_eq(buf.data[i], 1.0f + (float)i, "buffer moved");
  params_free(&ps);
  h5io_array *all[] = {&hyper, &w0, &v0, &gw, &gv, &ww, &wv, &lr};
  for (size_t i = 0; i < 8; i++)
    h5io_array_free(all[i]);
}

/* poly_lr against PolynomialLR stepped through a whole schedule. */
Test(poly_lr, matches_pytorch_schedule) {
  h5io_array it, lr, setting;
  TRY_OK(h5io_read_int(fixture_path("layers.h5"), "poly_lr/iter", &it));
  TRY_OK(h5io_read_float(fixture_path("layers.h5"), "poly_lr/lr", &lr));
  TRY_OK(h5io_read_float(fixture_path("layers.h5"), "poly_lr/setting", &setting));
  cr_assert_eq(it.numel, lr.numel);
  const float *s = setting.data;
  for (size_t i = 0; i < it.numel; i++) {
    const double got = poly_lr(s[0], ((int32_t *)it.data)[i], (long)s[1], s[2]);
    const double want = ((float *)lr.data)[i];
    cr_assert(fabs(got - want) <= 1e-6 * want, "iteration %d: %.9g, torch %.9g",
              ((int32_t *)it.data)[i], got, want);
  }
  h5io_array_free(&it), h5io_array_free(&lr), h5io_array_free(&setting);
}

Test(poly_lr, endpoints) {
  cr_assert_eq(poly_lr(0.01, 0, 60000, 0.9), 0.01, "iteration 0 uses the base rate");
  cr_assert_float_eq(poly_lr(0.01, 30000, 60000, 0.9), 0.01 * pow(0.5, 0.9), 1e-15);
  cr_assert_eq(poly_lr(0.01, 60000, 60000, 0.9), 0.0);
  cr_assert_eq(poly_lr(0.01, 5, 0, 0.9), 0.0, "an empty schedule gives 0, not NaN");
}
