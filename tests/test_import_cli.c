/* `runner import` ($DNL_BIN/runner, set by make test) on the fixtures of
 * tests/reference/make_import_fixtures.py, and the run config's model.init
 * loading what it wrote. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "data/dataset.h"
#include "data/synth.h"
#include "lib/store/h5attr.h"
#include "lib/store/h5file.h"
#include "lib/store/h5io.h"
#include "net/segnet.h"
#include "runner/model_init.h"
#include "runner/run_config.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[256];
static char out_text[65536], err_text[65536];

static void setup(void) { tmpdir_make(dir, sizeof dir, "import_cli"); }
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(import_cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs `runner ARGS` (printf-style) from the repository root; stdout and
 * stderr land in out_text / err_text. Returns the exit status. */
__attribute__((format(printf, 1, 2))) static int runner(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int st = test_runner_vrun(dir, out_text, sizeof out_text, err_text, sizeof err_text, fmt, ap);
  va_end(ap);
  return st;
}

/* tests/fixtures/import/<name> (fixture_path's buffer is reused: copy it). */
static const char *fx(const char *name, char *buf, size_t len) {
  char file[256];
  snprintf(file, sizeof file, "import/%s", name);
  snprintf(buf, len, "%s", fixture_path(file));
  return buf;
}

/* /params/<name> of an imported file equals expected.h5:/backbone/<key>. */
static void check_param(const char *path, const char *name, const char *key) {
  char ds[300], exp_ds[300];
  snprintf(ds, sizeof ds, "params/%s", name);
  snprintf(exp_ds, sizeof exp_ds, "backbone/%s", key);
  h5io_array got, want;
  TRY_OK(h5io_read_float(path, ds, &got));
  TRY_OK(h5io_read_float(fixture_path("import/expected.h5"), exp_ds, &want));
  cr_assert_eq(got.numel, want.numel, "%s", name);
  cr_assert(!memcmp(got.data, want.data, got.numel * sizeof(float)), "%s differs", name);
  h5io_array_free(&got);
  h5io_array_free(&want);
}

Test(import_cli, torchcv_backbone_checked_against_config) {
  char pth[512], cfg[512], out[512];
  tmpdir_path(out, sizeof out, dir, "r.h5");
  cr_assert_eq(runner("import %s --map torchcv --config %s -o %s",
                      fx("backbone_zip.pth", pth, sizeof pth), fx("tiny.cfg", cfg, sizeof cfg),
                      out),
               0, "%s", err_text);
  cr_assert(strstr(out_text, "85 loaded, 24 missing, 0 unexpected, 0 mismatched"), "%s",
            out_text);
  cr_assert(strstr(out_text, "dropped     fc.weight [10, 8] float32: ImageNet classifier"), "%s",
            out_text);
  cr_assert(strstr(out_text, "loaded      backbone.layer1.0.conv1.weight [2, 4, 1, 1]"), "%s",
            out_text);
  char want[128];
  snprintf(want, sizeof want, "missing     head.cls.weight [%d, 8, 1, 1]", SYNTH_CLASSES);
  cr_assert(strstr(out_text, want), "%s", out_text);
  check_param(out, "backbone.prefix.conv1.weight", "prefix.conv1.weight");
  check_param(out, "backbone.layer2.0.downsample.1.running_var",
              "layer2.0.downsample.1.running_var");
  hid_t f;
  TRY_OK(h5file_open_read(out, &f));
  char *format = NULL, *map = NULL;
  TRY_OK(h5attr_read_str(f, "format", &format));
  TRY_OK(h5attr_read_str(f, "map", &map));
  cr_assert_str_eq(format, "dnl-import");
  cr_assert_str_eq(map, "torchcv");
  free(format);
  free(map);
  H5Fclose(f);
}

Test(import_cli, mmseg_and_torchvision_maps) {
  char pth[512], cfg[512], out[512];
  fx("tiny.cfg", cfg, sizeof cfg);
  tmpdir_path(out, sizeof out, dir, "m.h5");
  cr_assert_eq(runner("import %s --map mmseg --config %s -o %s",
                      fx("mmseg_style.pth", pth, sizeof pth), cfg, out),
               0, "%s", err_text);
  cr_assert(strstr(out_text, "85 loaded, 24 missing, 0 unexpected, 0 mismatched"), "%s",
            out_text);
  cr_assert(strstr(out_text, "dropped     decode_head.conv_seg.weight [3, 8, 1, 1]"), "%s",
            out_text);
  check_param(out, "backbone.prefix.bn3.running_mean", "prefix.bn3.running_mean");
  check_param(out, "backbone.prefix.conv2.weight", "prefix.conv2.weight");

  tmpdir_path(out, sizeof out, dir, "t.h5");
  cr_assert_eq(runner("import %s --map torchvision --config %s -o %s",
                      fx("torchvision_style.pth", pth, sizeof pth), cfg, out),
               0, "%s", err_text);
  /* the 7x7 stem is left out: the deep stem's 15 tensors stay missing */
  cr_assert(strstr(out_text, "70 loaded, 39 missing, 0 unexpected, 0 mismatched"), "%s",
            out_text);
  cr_assert(strstr(out_text, "dropped     conv1.weight [4, 3, 7, 7] float32: 7x7 stem"), "%s",
            out_text);
  cr_assert(strstr(out_text, "missing     backbone.prefix.conv1.weight [2, 3, 3, 3]"), "%s",
            out_text);
  check_param(out, "backbone.layer3.0.conv2.weight", "layer3.0.conv2.weight");
}

Test(import_cli, legacy_safetensors_and_nested_files_convert) {
  const char *files[] = {"backbone_legacy.pth", "nested_f16.pth", "nested_f64_legacy.pth",
                         "strided_zip.pth", "tiny.safetensors"};
  const char *counts[] = {"wrote %s: 87 tensors", "wrote %s: 87 tensors", "wrote %s: 87 tensors",
                          "wrote %s: 6 tensors", "wrote %s: 4 tensors"};
  for (int i = 0; i < 5; i++) {
    char pth[512], out[512], want[600];
    tmpdir_path(out, sizeof out, dir, "x.h5");
    cr_assert_eq(runner("import %s --map none -o %s", fx(files[i], pth, sizeof pth), out), 0,
                 "%s: %s", files[i], err_text);
    snprintf(want, sizeof want, counts[i], out);
    cr_assert(strstr(out_text, want), "%s: %s", files[i], out_text);
  }
  /* module. prefixes go, float64 comes back to the float32 it was */
  char pth[512], out[512];
  tmpdir_path(out, sizeof out, dir, "x.h5");
  cr_assert_eq(runner("import %s --map torchcv -o %s",
                      fx("nested_f64_legacy.pth", pth, sizeof pth), out),
               0, "%s", err_text);
  check_param(out, "backbone.layer2.0.conv3.weight", "layer2.0.conv3.weight");
}

/* The error case must leave a file already at OUT exactly as it was. */
static void expect_failure_keeps(const char *out, const char *args, const char *needle) {
  char before[65536], after[65536];
  test_read_text(out, before, sizeof before);
  cr_assert_eq(runner("import %s -o %s", args, out), 1, "import %s succeeded", args);
  cr_assert(strstr(err_text, needle), "'%s' lacks '%s'", err_text, needle);
  cr_assert(strstr(err_text, "nothing written"), "%s", err_text);
  test_read_text(out, after, sizeof after);
  cr_assert(!strcmp(before, after), "%s changed", out);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", out);
  cr_assert(!file_exists(tmp), "%s left behind", tmp);
}

Test(import_cli, errors_name_the_key_and_write_nothing) {
  char pth[512], cfg[512], out[512], args[1200];
  tmpdir_path(out, sizeof out, dir, "keep.h5");
  file_write_text(out, "an older file\n");
  fx("tiny.cfg", cfg, sizeof cfg);

  snprintf(args, sizeof args, "%s --map torchcv --config %s", fx("wrong_shape.pth", pth, sizeof pth),
           cfg);
  expect_failure_keeps(out, args, "backbone.layer2.0.conv2.weight: file [2, 2, 1, 1], network "
                                  "[2, 2, 3, 3]");
  expect_failure_keeps(out, fx("forbidden_global_zip.pth", pth, sizeof pth), "global os.system");
  expect_failure_keeps(out, fx("forbidden_global_legacy.pth", pth, sizeof pth),
                       "global builtins.eval");
  snprintf(args, sizeof args, "%s --map none", fx("dtypes.pth", pth, sizeof pth));
  expect_failure_keeps(out, args, "count: dtype int64");
  expect_failure_keeps(out, cfg, "not a PyTorch checkpoint");
  snprintf(args, sizeof args, "%s/absent.pth", dir);
  expect_failure_keeps(out, args, "absent.pth: cannot open");

  /* a new path stays absent; --skip-mismatched writes the rest */
  tmpdir_path(out, sizeof out, dir, "new.h5");
  cr_assert_eq(runner("import %s --map torchcv --config %s -o %s", pth, cfg, out), 1);
  cr_assert(!file_exists(out));
  cr_assert_eq(runner("import %s --map torchcv --config %s -o %s --skip-mismatched",
                      fx("wrong_shape.pth", pth, sizeof pth), cfg, out),
               0, "%s", err_text);
  cr_assert(strstr(out_text, "wrote") && strstr(out_text, "84 tensors"), "%s", out_text);
}

Test(import_cli, usage_errors) {
  cr_assert_eq(runner("import"), 2);
  cr_assert_eq(runner("import a.pth"), 2);
  cr_assert(strstr(err_text, "missing -o"), "%s", err_text);
  cr_assert_eq(runner("import a.pth -o b.h5 --map caffe"), 2);
  cr_assert(strstr(err_text, "--map caffe"), "%s", err_text);
  cr_assert_eq(runner("import a.pth -o b.h5 --skip-mismatched"), 2);
  cr_assert_eq(runner("import --help"), 0);
  cr_assert(strstr(out_text, "torchvision"), "%s", out_text);
}

/* The tiny network of tiny.cfg, finalized and initialised from its seed. */
static void build_net(param_store *ps, segnet *net) {
  config_t c;
  run_config rc;
  TRY_OK(cfg_load(&c, fixture_path("import/tiny.cfg")));
  TRY_OK(run_config_read(&c, &rc));
  config_destroy(&c);
  dataset_info info;
  TRY_OK(dataset_info_get(rc.dataset, &info));
  rc.net.classes = info.num_classes;
  params_init(ps);
  TRY_OK(segnet_init(net, ps, &rc.net));
  TRY_OK(params_finalize(ps, cpu_backend()));
  TRY_OK(params_init_values(ps, 5));
}

Test(import_cli, model_init_loads_values_and_reports) {
  char pth[512], out[512], log_path[512];
  tmpdir_path(out, sizeof out, dir, "init.h5");
  cr_assert_eq(runner("import %s --map torchcv -o %s", fx("backbone_legacy.pth", pth, sizeof pth),
                      out),
               0, "%s", err_text);
  param_store ps;
  segnet net;
  build_net(&ps, &net);
  const param_entry *head = params_find(&ps, "head.cls.weight");
  float *head_before = malloc(head->numel * sizeof(float));
  memcpy(head_before, ps.values + head->offset, head->numel * sizeof(float));

  tmpdir_path(log_path, sizeof log_path, dir, "log.txt");
  FILE *log = fopen(log_path, "w");
  TRY_OK(model_init_load(&ps, out, NULL, 0, log));
  fclose(log);
  char text[8192];
  test_read_text(log_path, text, sizeof text);
  cr_assert(strstr(text, "loaded 85 tensors, 24 missing, 0 unexpected, 0 mismatched"), "%s", text);
  char missing[128];
  snprintf(missing, sizeof missing, "missing     aux.cls.bias [%d]", SYNTH_CLASSES);
  cr_assert(strstr(text, "backbone.layer4 (15)") && strstr(text, missing), "%s", text);

  h5io_array want;
  TRY_OK(h5io_read_float(fixture_path("import/expected.h5"), "backbone/layer3.0.conv1.weight",
                         &want));
  const param_entry *e = params_find(&ps, "backbone.layer3.0.conv1.weight");
  cr_assert_eq(e->numel, want.numel);
  cr_assert(!memcmp(ps.values + e->offset, want.data, e->numel * sizeof(float)),
            "loaded values differ");
  cr_assert(!memcmp(ps.values + head->offset, head_before, head->numel * sizeof(float)),
            "a missing parameter changed");
  free(head_before);

  /* model.init_only: only tensors under the prefixes; the others keep their values */
  param_store ps2;
  segnet net2;
  build_net(&ps2, &net2);
  const param_entry *l4 = params_find(&ps2, "backbone.layer4.0.conv1.weight");
  float *l4_before = malloc(l4->numel * sizeof(float));
  memcpy(l4_before, ps2.values + l4->offset, l4->numel * sizeof(float));
  const char *only[] = {"backbone.layer3.", "backbone.layer2."};
  log = fopen(log_path, "w");
  TRY_OK(model_init_load(&ps2, out, only, 2, log));
  fclose(log);
  test_read_text(log_path, text, sizeof text);
  cr_assert(strstr(text, "(only backbone.layer3., backbone.layer2.): loaded 35 tensors, 0 missing, "
                         "0 unexpected, 0 mismatched; 74 network tensors outside model.init_only "
                         "keep their initialisation, 0 file tensors outside it ignored"),
            "%s", text);
  e = params_find(&ps2, "backbone.layer3.0.conv1.weight");
  cr_assert(!memcmp(ps2.values + e->offset, want.data, e->numel * sizeof(float)),
            "a tensor under the prefixes was not loaded");
  cr_assert(!memcmp(ps2.values + l4->offset, l4_before, l4->numel * sizeof(float)),
            "a tensor outside the prefixes changed");
  free(l4_before);
  segnet_free(&net2);
  params_free(&ps2);
  h5io_array_free(&want);

  /* a missing file, a PyTorch file given directly, a file of other names */
  FILE *null_log = fopen("/dev/null", "w");
  char absent[600];
  snprintf(absent, sizeof absent, "%s/none.h5", dir);
  cr_assert_neq(model_init_load(&ps, absent, NULL, 0, null_log), DNL_OK);
  cr_assert(strstr(dnl_last_error(), "model.init") && strstr(dnl_last_error(), "none.h5"), "%s",
            dnl_last_error());
  cr_assert_neq(model_init_load(&ps, pth, NULL, 0, null_log), DNL_OK);
  cr_assert(strstr(dnl_last_error(), "runner import"), "%s", dnl_last_error());
  cr_assert_eq(runner("import %s --map none -o %s", pth, out), 0, "%s", err_text);
  cr_assert_neq(model_init_load(&ps, out, NULL, 0, null_log), DNL_OK);
  cr_assert(strstr(dnl_last_error(), "no tensor matches"), "%s", dnl_last_error());
  fclose(null_log);
  segnet_free(&net);
  params_free(&ps);
}

Test(import_cli, train_starts_from_model_init) {
  char pth[512], out[512], run_cfg[512], text[2048];
  tmpdir_path(out, sizeof out, dir, "init.h5");
  cr_assert_eq(runner("import %s --map torchcv -o %s", fx("backbone_zip.pth", pth, sizeof pth),
                      out),
               0, "%s", err_text);
  tmpdir_path(run_cfg, sizeof run_cfg, dir, "run.cfg");
  /* tiny.cfg's network, on a few small synthetic images */
  snprintf(text, sizeof text,
           "model = { depth = 50; layers = [1, 1, 1, 1]; planes = [2, 2, 2, 2];\n"
           "          width = 0.03125; head_width = 8; init = \"%s\"; };\n"
           "block = { variant = \"none\"; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 32; workers = 1;\n"
           "         synth = { train = 2; val = 1; size = 32; }; };\n"
           "solver = { iterations = 1; };\n"
           "loss = { ohem = false; };\n"
           "output = { dir = \"%s/results\"; attention_images = 0; };\n",
           out, dir, dir);
  file_write_text(run_cfg, text);
  cr_assert_eq(runner("train %s --quiet", run_cfg), 0, "%s", err_text);
  cr_assert(strstr(err_text, "model.init") && strstr(err_text, "loaded 85 tensors"), "%s",
            err_text);
  cr_assert_neq(runner("train %s --quiet --set model.init=%s/gone.h5", run_cfg, dir), 0);
  cr_assert(strstr(err_text, "model.init") && strstr(err_text, "gone.h5"), "%s", err_text);
}
