#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/image.h"
#include "net/segnet.h"
#include "runner/run_config.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static block_config dnl_block(bool scale) {
  block_config b = block_config_defaults();
  b.whiten = BLOCK_WHITEN_IN;
  b.scale = scale ? BLOCK_SCALE_ON : BLOCK_SCALE_OFF;
  return b;
}

/* The paper's ResNet-101 + DNL for 19 classes has exactly the names, shapes and
 * trainable count of the PyTorch construction of SPEC 2 (tests/fixtures/net.h5). */
Test(net, resnet101_dnl_names_shapes_and_count) {
  segnet_config cfg = {.backbone = {.depth = 101, .width = 1.0f},
                       .head_width = 512,
                       .classes = 19,
                       .dropout = 0.1f,
                       .aux = true,
                       .block = dnl_block(false)};
  param_store ps;
  params_init(&ps);
  segnet net;
  TRY_OK(segnet_init(&net, &ps, &cfg));

  hid_t f = H5Fopen(fixture_path("net.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(f >= 0);
  hid_t ds = H5Dopen2(f, "r101_dnl/names", H5P_DEFAULT);
  hid_t type = H5Dget_type(ds);
  size_t len = H5Tget_size(type);
  hid_t space = H5Dget_space(ds);
  hsize_t count;
  H5Sget_simple_extent_dims(space, &count, NULL);
  char *names = calloc(count, len + 1);
  hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, len + 1);
  cr_assert(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0);
  H5Tclose(mem), H5Sclose(space), H5Tclose(type), H5Dclose(ds), H5Fclose(f);
  h5io_array shapes;
  TRY_OK(h5io_read_int(fixture_path("net.h5"), "r101_dnl/shapes", &shapes));
  h5io_array trainable;
  TRY_OK(h5io_read_float(fixture_path("net.h5"), "r101_dnl/trainable", &trainable));

  cr_assert_eq((hsize_t)ps.count, count, "parameter + buffer count %d, PyTorch %llu", ps.count,
               (unsigned long long)count);
  for (hsize_t i = 0; i < count; i++) {
    const char *name = names + i * (len + 1);
    param_entry *e = params_find(&ps, name);
    cr_assert(e, "PyTorch tensor %s missing here", name);
    const int32_t *s = (const int32_t *)shapes.data + 4 * i;
    for (int d = 0; d < e->ndim; d++)
      cr_assert_eq(e->shape[d], s[d], "%s dim %d: %d, PyTorch %d", name, d, e->shape[d], s[d]);
  }
  cr_assert_eq((double)params_count_trainable(&ps), ((float *)trainable.data)[0]);
  cr_assert_eq(params_count_trainable(&ps), (size_t)71484392);
  free(names);
  h5io_array_free(&shapes), h5io_array_free(&trainable);
  segnet_free(&net);
  params_free(&ps);
}

/* The tiny network of tests/reference/make_net_fixtures.py with its weights. */
static void load_tiny(test_env *env, segnet *net, float dropout) {
  segnet_config cfg = {.backbone = {.depth = 18, .layers = {1, 1, 1, 1}, .width = 0.125f},
                       .head_width = 16,
                       .classes = 3,
                       .dropout = dropout,
                       .aux = true,
                       .block = dnl_block(true)};
  test_env_init(env, 1);
  TRY_OK(segnet_init(net, &env->ps, &cfg));
  test_env_finalize(env, 0);
  for (int i = 0; i < env->ps.count; i++) {
    param_entry *e = &env->ps.entries[i];
    char ds[PARAM_NAME_MAX + 16];
    snprintf(ds, sizeof ds, "tiny/state/%s", e->name);
    h5io_array a = fixture_floats("net.h5", ds, e->numel);
    memcpy(e->value->data, a.data, e->numel * sizeof(float));
    h5io_array_free(&a);
  }
}

/* A tiny network with PyTorch's weights gives PyTorch's eval-mode logits. */
Test(net, tiny_forward_matches_pytorch) {
  test_env env;
  segnet net;
  load_tiny(&env, &net, 0.1f);
  h5io_array x = fixture_floats("net.h5", "tiny/x", 2 * 3 * 37 * 29);
  h5io_array want = fixture_floats("net.h5", "tiny/logits", 2 * 3 * 37 * 29);
  tensor xt = tensor_view4(x.data, DEVICE_CPU, 2, 3, 37, 29);
  env.ctx.training = false;
  tensor logits, aux;
  TRY_OK(segnet_forward(&net, &env.ctx, &xt, &logits, &aux));
  cr_assert_null(aux.data);
  ASSERT_CLOSE(logits.data, (float *)want.data, want.numel, 1e-4, 1e-3, "logits");
  h5io_array_free(&x), h5io_array_free(&want);
  segnet_free(&net);
  test_env_free(&env);
}

/* Training mode (batch statistics, dropout off): logits and the gradient of every
 * parameter match PyTorch's autograd. */
Test(net, tiny_training_gradients_match_pytorch) {
  test_env env;
  segnet net;
  load_tiny(&env, &net, 0.0f);
  const size_t n = 2 * 3 * 37 * 29;
  h5io_array x = fixture_floats("net.h5", "tiny/x", n);
  h5io_array want = fixture_floats("net.h5", "tiny/train_logits", n);
  h5io_array rm = fixture_floats("net.h5", "tiny/r_main", n);
  h5io_array ra = fixture_floats("net.h5", "tiny/r_aux", n);
  tensor xt = tensor_view4(x.data, DEVICE_CPU, 2, 3, 37, 29);
  tensor logits, aux;
  TRY_OK(segnet_forward(&net, &env.ctx, &xt, &logits, &aux));
  ASSERT_CLOSE(logits.data, (float *)want.data, n, 1e-4, 1e-3, "train logits");
  tensor dm = tensor_view(rm.data, DEVICE_CPU, 4, logits.shape);
  tensor da = tensor_view(ra.data, DEVICE_CPU, 4, aux.shape);
  TRY_OK(params_zero_grad(&env.ps));
  TRY_OK(segnet_backward(&net, &env.ctx, &dm, &da));
  int checked = 0;
  for (int i = 0; i < env.ps.count; i++) {
    param_entry *e = &env.ps.entries[i];
    if (e->kind == PARAM_BUFFER)
      continue;
    char ds[PARAM_NAME_MAX + 16];
    snprintf(ds, sizeof ds, "tiny/grad/%s", e->name);
    h5io_array g = fixture_floats("net.h5", ds, e->numel);
    ASSERT_CLOSE(e->grad->data, (float *)g.data, e->numel, 2e-3, 2e-3, e->name);
    h5io_array_free(&g);
    checked++;
  }
  cr_assert_gt(checked, 40);
  h5io_array_free(&x), h5io_array_free(&want), h5io_array_free(&rm), h5io_array_free(&ra);
  segnet_free(&net);
  test_env_free(&env);
}

/* max |a - b| over max |b|: the error relative to the largest value */
static double max_rel_error(const float *a, const float *b, size_t n) {
  double err = 0, big = 0;
  for (size_t i = 0; i < n; i++) {
    const double d = fabs((double)a[i] - b[i]), m = fabs((double)b[i]);
    err = d > err ? d : err;
    big = m > big ? m : big;
  }
  return big > 0 ? err / big : err;
}

/* The head built the way the original code builds it (tests/reference/
 * published_net.py: conva, block, convb, then the bottleneck on
 * torch.cat([layer4, branch], 1)), for both published block families, with the
 * weights renamed in Python by SPEC 7's table: our eval-mode logits of the
 * fixed image equal PyTorch's. */
Test(net, published_layout_logits_match_pytorch) {
  const char *rows[] = {"nowd_in", "nowd_ln", "temp_in", "nl"};
  for (int r = 0; r < 4; r++) {
    char file[128], ds[PARAM_NAME_MAX + 32];
    snprintf(file, sizeof file, "published/%s.cfg", rows[r]);
    config_t c;
    run_config rc;
    TRY_OK(cfg_load(&c, fixture_path(file)));
    TRY_OK(run_config_read(&c, &rc));
    config_destroy(&c);
    dataset_info info;
    TRY_OK(dataset_info_get(rc.dataset, &info));
    rc.net.classes = info.num_classes;
    test_env env;
    segnet net;
    test_env_init(&env, 1);
    TRY_OK(segnet_init(&net, &env.ps, &rc.net));
    test_env_finalize(&env, 0);
    for (int i = 0; i < env.ps.count; i++) {
      param_entry *e = &env.ps.entries[i];
      snprintf(ds, sizeof ds, "%s/state/%s", rows[r], e->name);
      h5io_array a = fixture_floats("published/reference.h5", ds, e->numel);
      memcpy(e->value->data, a.data, e->numel * sizeof(float));
      h5io_array_free(&a);
    }
    image img = {0};
    TRY_OK(image_read_rgb(fixture_path("published/image.png"), &img));
    augment_config ac;
    TRY_OK(augment_defaults(rc.dataset, &ac));
    float *x = malloc((size_t)3 * img.w * img.h * sizeof(float));
    augment_normalize(&ac, &img, x);
    tensor xt = tensor_view4(x, DEVICE_CPU, 1, 3, img.h, img.w), logits, aux;
    env.ctx.training = false;
    TRY_OK(segnet_forward(&net, &env.ctx, &xt, &logits, &aux));
    const size_t n = (size_t)info.num_classes * img.h * img.w;
    snprintf(ds, sizeof ds, "%s/logits", rows[r]);
    h5io_array want = fixture_floats("published/reference.h5", ds, n);
    const double rel = max_rel_error(logits.data, want.data, n);
    cr_assert(rel < 1e-4, "%s: logits differ from PyTorch's by %.3g of the largest", rows[r], rel);
    h5io_array_free(&want);
    free(x);
    image_free(&img);
    segnet_free(&net);
    test_env_free(&env);
  }
}

/* params and config build the network without running it: a config for the
 * GPU works on any machine (this one has none, or the build has no CUDA). */
Test(net, params_and_config_of_a_cuda_config_need_no_gpu, .timeout = 120) {
  char dir[256];
  tmpdir_make(dir, sizeof dir, "net_cli");
  char *out, *err;
  int rc = test_run_program(dir, "runner params experiments/base/cityscapes_r101.cfg", &out, &err);
  cr_assert_eq(rc, 0, "runner params: %s", err);
  cr_assert(strstr(out, "trainable parameters: 71484392"), "output: %s", out);
  rc = test_run_program(dir, "runner config experiments/base/cityscapes_r101.cfg", &out, &err);
  cr_assert_eq(rc, 0, "runner config: %s", err);
  cr_assert(strstr(out, "device = \"cuda\";"), "the config keeps its device: %s", out);
  tmpdir_remove(dir);
}
