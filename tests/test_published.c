/* The authors' published models (SPEC 7) through `runner import --map published`,
 * `runner predict` and `runner eval`, on the tiny published-layout checkpoints of
 * tests/reference/make_published_fixtures.py (both block families, saved as the
 * authors' code saved them: state_dict with module. prefixes, zip and legacy). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "data/image.h"
#include "lib/store/h5io.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[256];
static char out_text[1 << 18], err_text[65536];

static void setup(void) { tmpdir_make(dir, sizeof dir, "published"); }
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(published, .init = setup, .fini = teardown, .timeout = 120);

static const char *const rows[] = {"nowd_in", "nowd_ln", "temp_in", "nl"};
static const int row_classes[] = {19, 59, 150, 19};
static const int row_tensors[] = {117, 117, 117, 115};

/* `runner ARGS` (printf-style) from the repository root; outputs in out_text /
 * err_text; the exit status. */
__attribute__((format(printf, 1, 2))) static int runner(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int st = test_runner_vrun(dir, out_text, sizeof out_text, err_text, sizeof err_text, fmt, ap);
  va_end(ap);
  return st;
}

/* tests/fixtures/published/<row><ext> */
static const char *fx(const char *row, const char *ext, char *buf, size_t len) {
  char file[128];
  snprintf(file, sizeof file, "published/%s%s", row, ext);
  snprintf(buf, len, "%s", fixture_path(file));
  return buf;
}

/* max |a - b| over max |b| */
static double max_rel_error(const float *a, const float *b, size_t n) {
  double err = 0, big = 0;
  for (size_t i = 0; i < n; i++) {
    err = fmax(err, fabs((double)a[i] - b[i]));
    big = fmax(big, fabs((double)b[i]));
  }
  return big > 0 ? err / big : err;
}

/* The logits runner predict saved for image.png equal PyTorch's within 1e-4 of
 * the largest. */
static void expect_logits(const char *row, int classes, const char *logits_file) {
  char ref[128];
  snprintf(ref, sizeof ref, "%s/logits", row);
  const size_t n = (size_t)classes * 33 * 41;
  h5io_array want = fixture_floats("published/reference.h5", ref, n), got;
  TRY_OK(h5io_read_float(logits_file, "logits/image", &got));
  cr_assert_eq(got.numel, n, "%s: %zu logits", row, got.numel);
  const double rel = max_rel_error(got.data, want.data, n);
  cr_assert(rel < 1e-4, "%s: predicted logits differ from PyTorch's by %.3g of the largest", row,
            rel);
  h5io_array_free(&want);
  h5io_array_free(&got);
}

/* Both families, import then predict, and predict from the .pth directly. */
Test(published, import_and_predict_match_pytorch) {
  for (int r = 0; r < 4; r++) {
    char pth[512], cfg[512], img[512], h5[512], logits[512], want[128];
    fx(rows[r], ".pth", pth, sizeof pth);
    fx(rows[r], ".cfg", cfg, sizeof cfg);
    fx("image", ".png", img, sizeof img);
    tmpdir_path(h5, sizeof h5, dir, "imported.h5");
    tmpdir_path(logits, sizeof logits, dir, "logits.h5");
    cr_assert_eq(runner("import %s --map published --config %s -o %s", pth, cfg, h5), 0, "%s: %s",
                 rows[r], err_text);
    snprintf(want, sizeof want, "%d loaded, 0 missing, 0 unexpected, 0 mismatched", row_tensors[r]);
    cr_assert(strstr(out_text, want), "%s: %s", rows[r], out_text);
    cr_assert(strstr(out_text, "under 'state_dict'"), "%s", out_text);
    cr_assert(strstr(out_text, "dropped     21 BN step counters"), "%s", out_text);
    cr_assert(strstr(out_text, "loaded      head.bottleneck.weight [8, 40, 3, 3]"), "%s", out_text);
    cr_assert_eq(runner("predict %s --checkpoint %s --out %s --save-logits %s --quiet %s", cfg, h5,
                        dir, logits, img),
                 0, "%s: %s", rows[r], err_text);
    expect_logits(rows[r], row_classes[r], logits);
    cr_assert_eq(runner("predict %s --checkpoint %s --map published --out %s --save-logits %s "
                        "--quiet %s",
                        cfg, pth, dir, logits, img),
                 0, "%s: %s", rows[r], err_text);
    expect_logits(rows[r], row_classes[r], logits);
  }
}

/* The ADE20K / Pascal Context protocol (short side 520 capped at 1040, scales,
 * flip, padding to 8) at a tiny size: base size 40, scales 0.75 and 1. */
Test(published, whole_image_protocol_matches_pytorch) {
  char pth[512], cfg[512], img[512], logits[512];
  tmpdir_path(logits, sizeof logits, dir, "protocol.h5");
  cr_assert_eq(runner("predict %s --checkpoint %s --map published --out %s --save-logits %s "
                      "--quiet --set eval.mode=multiscale --set 'eval.scales=[0.75, 1.0]' --set "
                      "eval.flip=true --set eval.base_size=40 --set eval.max_size=1040 --set "
                      "eval.pad_to=8 %s",
                      fx("nowd_in", ".cfg", cfg, sizeof cfg),
                      fx("nowd_in", ".pth", pth, sizeof pth), dir, logits,
                      fx("image", ".png", img, sizeof img)),
               0, "%s", err_text);
  const size_t n = (size_t)19 * 33 * 41;
  h5io_array want = fixture_floats("published/reference.h5", "nowd_in/logits_protocol", n), got;
  TRY_OK(h5io_read_float(logits, "logits/image", &got));
  const double rel = max_rel_error(got.data, want.data, n);
  cr_assert(rel < 1e-4, "protocol logits differ from PyTorch's by %.3g of the largest", rel);
  h5io_array_free(&want);
  h5io_array_free(&got);
}

/* A safetensors file of published names: no run configuration to check the
 * block family against, said in a note; the logits are PyTorch's. */
Test(published, safetensors_with_map_published) {
  char st[512], cfg[512], img[512], logits[512];
  tmpdir_path(logits, sizeof logits, dir, "st.h5");
  cr_assert_eq(runner("predict %s --checkpoint %s --map published --out %s --save-logits %s %s",
                      fx("temp_in", ".cfg", cfg, sizeof cfg),
                      fx("temp_in", ".safetensors", st, sizeof st), dir, logits,
                      fx("image", ".png", img, sizeof img)),
               0, "%s", err_text);
  cr_assert(strstr(err_text, "note: ") && strstr(err_text, "its block family cannot be checked"),
            "%s", err_text);
  expect_logits("temp_in", 150, logits);
}

/* A published file imported with --config: what each tensor became. */
Test(published, import_maps_every_tensor) {
  char pth[512], cfg[512], h5[512];
  tmpdir_path(h5, sizeof h5, dir, "nowd_ln.h5");
  cr_assert_eq(runner("import %s --map published --config %s -o %s",
                      fx("nowd_ln", ".pth", pth, sizeof pth),
                      fx("nowd_ln", ".cfg", cfg, sizeof cfg), h5),
               0, "%s", err_text);
  cr_assert(strstr(out_text, "pytorch-legacy, 138 tensors under 'state_dict'; 117 mapped, 21 "
                             "dropped"),
            "%s", out_text);
  static const char *const names[] = {"head.conva.weight",
                                      "head.conva_bn.running_var",
                                      "head.block.query.bias",
                                      "head.block.key.weight",
                                      "head.block.value.weight",
                                      "head.block.mask.bias",
                                      "head.block.gamma",
                                      "head.convb_bn.weight",
                                      "head.bottleneck.weight",
                                      "head.bottleneck_bn.running_mean",
                                      "head.cls.bias",
                                      "aux.conv.weight",
                                      "aux.bn.bias",
                                      "aux.cls.weight",
                                      "backbone.prefix.bn3.running_var",
                                      "backbone.layer4.0.downsample.1.bias"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char ds[256], ref[256];
    snprintf(ds, sizeof ds, "params/%s", names[i]);
    snprintf(ref, sizeof ref, "nowd_ln/state/%s", names[i]);
    h5io_array got, want;
    TRY_OK(h5io_read_float(h5, ds, &got));
    TRY_OK(h5io_read_float(fixture_path("published/reference.h5"), ref, &want));
    cr_assert(got.numel == want.numel && !memcmp(got.data, want.data, got.numel * sizeof(float)),
              "%s differs from PyTorch's", names[i]);
    h5io_array_free(&got);
    h5io_array_free(&want);
  }
}

/* An error names what is wrong and leaves nothing at OUT. */
static void expect_import_error(const char *args, const char *needle) {
  char out[512];
  tmpdir_path(out, sizeof out, dir, "never.h5");
  cr_assert_eq(runner("import %s -o %s", args, out), 1, "import %s succeeded", args);
  cr_assert(strstr(err_text, needle), "'%s' lacks '%s'", err_text, needle);
  cr_assert(strstr(err_text, "nothing written"), "%s", err_text);
  cr_assert(!file_exists(out), "%s written", out);
}

Test(published, bad_input_is_one_error_and_writes_nothing) {
  char pth[512], cfg[512], args[1400];
  fx("nowd_in", ".pth", pth, sizeof pth);
  /* no --map: the hint names the map */
  expect_import_error(pth, "holds the authors' published names");
  expect_import_error(pth, "--map published");
  /* another architecture: classes, depth, the block's terms */
  snprintf(args, sizeof args, "%s --map published --config %s",
           fx("nowd_ln", ".pth", pth, sizeof pth), fx("nowd_in", ".cfg", cfg, sizeof cfg));
  expect_import_error(args, "does not fit the network of");
  expect_import_error(args, "classes: 59 in the file, 19 in the network");
  snprintf(args, sizeof args, "%s --map published --config %s --set 'model.layers=[1,1,2,1]'",
           fx("nl", ".pth", pth, sizeof pth), cfg);
  expect_import_error(args, "layer3: 1 residual units in the file, 2 in the network; block: in "
                            "the network only: a unary term (conv_mask)");
  snprintf(args, sizeof args,
           "%s --map published --config %s --set model.depth=101 --set "
           "'model.layers=[3,4,23,3]'",
           pth, cfg);
  expect_import_error(args, "backbone: another depth in the file, ResNet-101 in the network");
  /* the block family and its settings, from the run configuration the file carries */
  snprintf(args, sizeof args, "%s --map published --config %s --set data.dataset=pascal_context",
           fx("nowd_ln", ".pth", pth, sizeof pth), fx("nowd_in", ".cfg", cfg, sizeof cfg));
  expect_import_error(args, "block: the file's run is nonlocalnowd with whiten_type "
                            "[\"ln_nostd\"] (pairwise + unary, whitening ln, no scaling), the "
                            "config's block is dnl (pairwise + unary, whitening none, no scaling)");
  snprintf(args, sizeof args, "%s --map published --config %s --set data.dataset=cityscapes",
           fx("temp_in", ".pth", pth, sizeof pth), fx("temp_in", ".cfg", cfg, sizeof cfg));
  expect_import_error(args, "classes: 150 in the file, 19 in the network; block: the file's run "
                            "is nonlocalbn with whiten_type [\"channel\"] (pairwise + unary, "
                            "whitening in, scaling with temperature 0.1), the config's block is "
                            "dnl (pairwise + unary, whitening in, scaling with temperature 0.05)");
  /* names of no known map */
  char bad[512];
  snprintf(bad, sizeof bad, "%s", fixture_path("import/dtypes.pth"));
  expect_import_error(bad, "match no known map (tried none, published, torchcv, mmseg, "
                           "torchvision), e.g. 'half', 'bfloat', 'double'");
}

/* eval and predict refuse what does not fit, naming the file and the config. */
Test(published, eval_and_predict_refuse_another_architecture) {
  char pth[512], cfg[512], img[512];
  fx("image", ".png", img, sizeof img);
  cr_assert_eq(runner("predict %s --checkpoint %s --map published --out %s --quiet %s",
                      fx("nowd_in", ".cfg", cfg, sizeof cfg),
                      fx("temp_in", ".pth", pth, sizeof pth), dir, img),
               1);
  cr_assert(strstr(err_text, "temp_in.pth does not fit the network of") &&
                strstr(err_text, "nowd_in.cfg: classes: 150 in the file, 19 in the network"),
            "%s", err_text);
  cr_assert_eq(runner("predict %s --checkpoint %s --out %s --quiet %s", cfg, pth, dir, img), 1);
  cr_assert(strstr(err_text, "--map published"), "%s", err_text);
  cr_assert_eq(
      runner("predict %s --checkpoint %s --map nonsense --out %s --quiet %s", cfg, pth, dir, img),
      1);
  cr_assert(strstr(err_text, "--map nonsense"), "%s", err_text);
}

/* A one-image Cityscapes validation set (original layout) whose labels are the
 * argmax of PyTorch's logits: eval of the published weights scores 100 %. */
static void write_val_set(const char *root) {
  char path[1600];
  snprintf(path, sizeof path, "mkdir -p %s/val/image %s/val/label && cp %s %s/val/image/a.png",
           root, root, fixture_path("published/image.png"), root);
  cr_assert_eq(system(path), 0);
  static const uint8_t label_id[19] = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                       23, 24, 25, 26, 27, 28, 31, 32, 33};
  const int h = 33, w = 41, k = 19;
  h5io_array logits = fixture_floats("published/reference.h5", "nowd_in/logits", (size_t)k * h * w);
  const float *l = logits.data;
  image lab = {0};
  TRY_OK(image_reserve(&lab, w, h, 1));
  for (int i = 0; i < h * w; i++) {
    int best = 0;
    for (int c = 1; c < k; c++)
      if (l[(size_t)c * h * w + i] > l[(size_t)best * h * w + i])
        best = c;
    lab.data[i] = label_id[best];
  }
  snprintf(path, sizeof path, "%s/val/label/a.png", root);
  TRY_OK(image_write_png(path, &lab, NULL, 0));
  image_free(&lab);
  h5io_array_free(&logits);
}

Test(published, eval_takes_published_and_imported_weights) {
  char root[300], pth[512], cfg[512], h5[512];
  tmpdir_path(root, sizeof root, dir, "cityscapes");
  write_val_set(root);
  fx("nowd_in", ".pth", pth, sizeof pth);
  fx("nowd_in", ".cfg", cfg, sizeof cfg);
  cr_assert_eq(runner("eval %s --checkpoint %s --map published --set data.root=%s", cfg, pth, root),
               0, "%s", err_text);
  cr_assert(strstr(out_text, "pixel accuracy 100.00%"), "%s", out_text);
  tmpdir_path(h5, sizeof h5, dir, "nowd_in.h5");
  cr_assert_eq(runner("import %s --map published -o %s --quiet", pth, h5), 0, "%s", err_text);
  cr_assert_eq(
      runner("eval %s --checkpoint %s --set data.root=%s --set eval.flip=true", cfg, h5, root), 0,
      "%s", err_text);
  cr_assert(strstr(out_text, "(1 images, mode single + flip)"), "%s", out_text);
}

/* runner sweep --eval-only: the runs whose file is in the checkpoint folder are
 * evaluated into <sweep>-published/, the others skipped with a line; analysis
 * table --paper puts the published number beside ours. */
Test(published, sweep_eval_only_and_paper_table) {
  char root[300], ck[300], res[300], sweep[300], text[2048], cmd[2400];
  tmpdir_path(root, sizeof root, dir, "cityscapes");
  write_val_set(root);
  tmpdir_path(ck, sizeof ck, dir, "published");
  tmpdir_path(res, sizeof res, dir, "results");
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/readme-dnl_nowd_in.pth", ck,
           fixture_path("published/nowd_in.pth"), ck);
  cr_assert_eq(system(cmd), 0);
  tmpdir_path(sweep, sizeof sweep, dir, "readme.cfg");
  char *base = realpath(fixture_path("published/nowd_in.cfg"), NULL);
  cr_assert_not_null(base);
  snprintf(
      text, sizeof text,
      "sweep = { name = \"tiny\"; base = \"%s\"; set = { data = { root = \"%s\"; }; };\n"
      "  matrix = ( { values = (\n"
      "    { name = \"readme-dnl_nowd_in\"; block = { preset = \"dnl_nowd_in_published\"; }; },\n"
      "    { name = \"readme-nl\"; block = { preset = \"nl_published\"; }; } ); } ); };\n",
      base, root);
  free(base);
  file_write_text(sweep, text);
  cr_assert_eq(runner("sweep %s --eval-only --checkpoint-dir %s --out %s --quiet", sweep, ck, res),
               0, "%s", err_text);
  cr_assert(strstr(out_text, "readme-dnl_nowd_in           mIoU 100.00%"), "%s", out_text);
  cr_assert(strstr(out_text, "readme-nl                    skipped: no "), "%s", out_text);
  cr_assert(strstr(out_text, "1 evaluated, 1 skipped (no file), 0 failed"), "%s", out_text);
  cr_assert_eq(runner("sweep %s --eval-only --out %s", sweep, res), 2);
  cr_assert(strstr(err_text, "--checkpoint-dir go together"), "%s", err_text);

  snprintf(cmd, sizeof cmd, "%s/analysis table --paper %s/tiny-published/*.h5 > %s/table.md",
           getenv("DNL_BIN"), res, dir);
  cr_assert_eq(system(cmd), 0);
  tmpdir_path(cmd, sizeof cmd, dir, "table.md");
  test_read_text(cmd, text, sizeof text);
  cr_assert(strstr(text, "| cityscapes | 100.00 | 1 | 80.15 | +19.85 |"), "%s", text);
}
