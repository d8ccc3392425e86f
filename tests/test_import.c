/* Reading PyTorch (zip and legacy torch.save formats) and safetensors files:
 * every value of the fixtures of tests/reference/make_import_fixtures.py must
 * come out exactly as PyTorch converts it to float32, and damaged or hostile
 * files must give clear errors (never crash, never allocate what they claim). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/h5io.h"
#include "lib/weights/name_map.h"
#include "lib/weights/pickle.h"
#include "lib/weights/weight_file.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

#define EXPECTED "import/expected.h5"

TestSuite(import, .timeout = 60);

static void open_fixture(const char *name, weight_file *wf) {
  char file[256];
  snprintf(file, sizeof file, "import/%s", name);
  TRY_OK(weight_file_open(fixture_path(file), wf));
}

static const wtensor *find(const weight_file *wf, const char *name) {
  for (int i = 0; i < wf->tensors.count; i++)
    if (!strcmp(wf->tensors.items[i].name, name))
      return &wf->tensors.items[i];
  cr_assert_fail("%s: no tensor %s", wf->path, name);
  return NULL;
}

/* Bitwise equality (any NaN matches any NaN). */
static bool same_float(float a, float b) {
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b);
  return !memcmp(&a, &b, sizeof a);
}

/* Converts t and compares it with expected.h5:/group/key, shape and bits. */
static void check_values(const wtensor *t, const char *group, const char *key) {
  char ds[400];
  snprintf(ds, sizeof ds, "%s/%s", group, key);
  h5io_array e;
  TRY_OK(h5io_read_float(fixture_path(EXPECTED), ds, &e));
  cr_assert_eq(e.ndim, t->ndim, "%s: rank %d, expected %d", t->name, t->ndim, e.ndim);
  for (int d = 0; d < t->ndim; d++)
    cr_assert_eq((size_t)t->shape[d], e.shape[d], "%s: dim %d", t->name, d);
  cr_assert_eq((size_t)wtensor_numel(t), e.numel);
  float *got = malloc((e.numel ? e.numel : 1) * sizeof(float));
  TRY_OK(wtensor_to_f32(t, got));
  const float *want = e.data;
  for (size_t i = 0; i < e.numel; i++)
    cr_assert(same_float(got[i], want[i]), "%s[%zu]: %.9g, expected %.9g", t->name, i,
              (double)got[i], (double)want[i]);
  free(got);
  h5io_array_free(&e);
}

/* Every float tensor matches group/<name without prefix>; returns how many. */
static int check_all(const weight_file *wf, const char *group, const char *strip) {
  int n = 0;
  for (int i = 0; i < wf->tensors.count; i++) {
    const wtensor *t = &wf->tensors.items[i];
    if (!wdtype_is_float(t->dtype))
      continue;
    const char *key = t->name;
    if (strip) {
      cr_assert(!strncmp(key, strip, strlen(strip)), "%s lacks the prefix %s", key, strip);
      key += strlen(strip);
    }
    check_values(t, group, key);
    n++;
  }
  return n;
}

Test(import, zip_and_legacy_state_dicts_round_trip_exactly) {
  const char *files[] = {"backbone_zip.pth", "backbone_legacy.pth"};
  const char *formats[] = {"pytorch-zip", "pytorch-legacy"};
  for (int f = 0; f < 2; f++) {
    weight_file wf;
    open_fixture(files[f], &wf);
    cr_assert_str_eq(wf.format, formats[f]);
    cr_assert_str_eq(wf.container, "");
    cr_assert_eq(wf.tensors.count, 104, "%s: %d tensors", files[f], wf.tensors.count);
    cr_assert_eq(check_all(&wf, "backbone", NULL), 87);
    /* the BN step counters are int64: listed, but not convertible */
    const wtensor *c = find(&wf, "layer1.0.bn1.num_batches_tracked");
    cr_assert_eq(c->dtype, WDT_I64);
    cr_assert_eq(c->ndim, 0);
    float v;
    cr_assert_neq(wtensor_to_f32(c, &v), DNL_OK);
    cr_assert(strstr(dnl_last_error(), "layer1.0.bn1.num_batches_tracked") &&
              strstr(dnl_last_error(), "int64"), "%s", dnl_last_error());
    weight_file_close(&wf);
  }
}

Test(import, nested_state_dict_float16_with_module_prefix) {
  weight_file wf;
  open_fixture("nested_f16.pth", &wf);
  cr_assert_str_eq(wf.container, "state_dict");
  cr_assert_eq(wf.ignored, 0);
  cr_assert_eq(find(&wf, "module.prefix.conv1.weight")->dtype, WDT_F16);
  cr_assert_eq(check_all(&wf, "nested_f16", NULL), 87);
  weight_file_close(&wf);
}

Test(import, nested_model_float64_legacy_rounds_back_exactly) {
  weight_file wf;
  open_fixture("nested_f64_legacy.pth", &wf);
  cr_assert_str_eq(wf.format, "pytorch-legacy");
  cr_assert_str_eq(wf.container, "model");
  cr_assert_eq(find(&wf, "module.layer4.0.conv3.weight")->dtype, WDT_F64);
  /* float32 values stored as float64 come back bit for bit */
  cr_assert_eq(check_all(&wf, "backbone", "module."), 87);
  weight_file_close(&wf);
}

Test(import, strided_and_offset_views) {
  const char *files[] = {"strided_zip.pth", "strided_legacy.pth"};
  for (int f = 0; f < 2; f++) {
    weight_file wf;
    open_fixture(files[f], &wf);
    cr_assert_eq(check_all(&wf, "strided", NULL), 6);
    const wtensor *t = find(&wf, "transposed");
    cr_assert(t->stride[0] == 1 && t->stride[1] == 5, "%s: transposed strides", files[f]);
    const wtensor *e = find(&wf, "element");
    cr_assert(e->ndim == 0 && e->offset == 17, "%s: element offset %lld", files[f],
              (long long)e->offset);
    weight_file_close(&wf);
  }
}

Test(import, special_values_of_every_float_dtype) {
  weight_file wf;
  open_fixture("dtypes.pth", &wf);
  const char *names[] = {"half", "bfloat", "double", "float"};
  const wdtype types[] = {WDT_F16, WDT_BF16, WDT_F64, WDT_F32};
  for (int i = 0; i < 4; i++) {
    const wtensor *t = find(&wf, names[i]);
    cr_assert_eq(t->dtype, types[i], "%s", names[i]);
    check_values(t, "dtypes", names[i]);
  }
  float out[4];
  cr_assert_eq(wtensor_to_f32(find(&wf, "count"), out), DNL_ERR_UNSUPPORTED);
  cr_assert(strstr(dnl_last_error(), "count: dtype int64"), "%s", dnl_last_error());
  weight_file_close(&wf);
}

Test(import, safetensors_written_by_hand) {
  weight_file wf;
  open_fixture("tiny.safetensors", &wf);
  cr_assert_str_eq(wf.format, "safetensors");
  cr_assert_eq(wf.tensors.count, 4);
  cr_assert_eq(check_all(&wf, "safetensors", NULL), 4);
  cr_assert_eq(find(&wf, "bn.\xc3\xa9" "bias")->dtype, WDT_F16); /* a \u00e9 escape */
  weight_file_close(&wf);
}

/* An independent decoding of every half bit pattern. */
Test(import, every_float16_pattern) {
  for (uint32_t h = 0; h < 65536; h++) {
    int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    double want;
    if (exp == 31)
      want = mant ? NAN : INFINITY;
    else if (exp == 0)
      want = ldexp(mant, -24);
    else
      want = ldexp(1024 + mant, exp - 25);
    float got = wtensor_half_to_float((uint16_t)h), w = (float)(sign ? -want : want);
    cr_assert(same_float(got, w), "half 0x%04x: %g, expected %g", h, (double)got, (double)w);
    cr_assert_eq(signbit(got) != 0, sign == 1, "half 0x%04x: sign", h);
  }
}

static void expect_open_error(const char *fixture, const char *needle) {
  weight_file wf;
  char file[256];
  snprintf(file, sizeof file, "import/%s", fixture);
  cr_assert_neq(weight_file_open(fixture_path(file), &wf), DNL_OK, "%s opened", fixture);
  cr_assert(strstr(dnl_last_error(), needle), "%s: '%s' lacks '%s'", fixture, dnl_last_error(),
            needle);
}

Test(import, one_storage_with_two_dtypes_is_refused) {
  /* 4 bytes hold 2 float16 values but no float64 one: never read past them */
  expect_open_error("dtype_clash_legacy.pth", "b: storage 0 holds 0 elements of float64");
}

Test(import, forbidden_globals_are_refused_by_name) {
  expect_open_error("forbidden_global_zip.pth", "global os.system");
  expect_open_error("forbidden_global_legacy.pth", "global builtins.eval");
}

/* ---- damaged files ---- */

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(*len);
  cr_assert_eq(fread(buf, 1, *len, f), *len);
  fclose(f);
  return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(buf, 1, len, f), len);
  fclose(f);
}

static dnl_status open_bytes(const char *path, const unsigned char *buf, size_t len) {
  write_all(path, buf, len);
  weight_file wf;
  dnl_status s = weight_file_open(path, &wf);
  if (s == DNL_OK)
    weight_file_close(&wf);
  return s;
}

Test(import, every_truncation_is_an_error) {
  const char *files[] = {"backbone_zip.pth", "backbone_legacy.pth", "strided_legacy.pth",
                         "tiny.safetensors"};
  char dir[256], path[512];
  tmpdir_make(dir, sizeof dir, "import_trunc");
  tmpdir_path(path, sizeof path, dir, "cut.pth");
  for (int f = 0; f < 4; f++) {
    char file[256];
    snprintf(file, sizeof file, "import/%s", files[f]);
    size_t len;
    unsigned char *buf = read_all(fixture_path(file), &len);
    for (size_t cut = 1; cut < len; cut += cut < 64 ? 7 : len / 97 + 1) {
      cr_assert_neq(open_bytes(path, buf, cut), DNL_OK, "%s cut to %zu bytes opened", files[f],
                    cut);
      cr_assert(strstr(dnl_last_error(), "cut.pth"), "message lacks the file: %s",
                dnl_last_error());
    }
    cr_assert_neq(open_bytes(path, buf, len - 1), DNL_OK, "%s minus one byte", files[f]);
    free(buf);
  }
  tmpdir_remove(dir);
}

Test(import, zip_corruption_is_caught_by_crc) {
  char dir[256], path[512];
  tmpdir_make(dir, sizeof dir, "import_crc");
  tmpdir_path(path, sizeof path, dir, "bad.pth");
  size_t len;
  unsigned char *buf = read_all(fixture_path("import/backbone_zip.pth"), &len);
  /* the last float of a storage record: a value, not a structure */
  const char *rec = "backbone_zip/data/0";
  unsigned char *at = memmem(buf, len, rec, strlen(rec));
  cr_assert_not_null(at);
  size_t data = (size_t)(at - buf) + strlen(rec);
  uint16_t xlen = (uint16_t)(at[-2] | at[-1] << 8);
  buf[data + xlen + 1] ^= 0x40;
  cr_assert_neq(open_bytes(path, buf, len), DNL_OK);
  cr_assert(strstr(dnl_last_error(), "CRC") && strstr(dnl_last_error(), rec), "%s",
            dnl_last_error());
  free(buf);
  tmpdir_remove(dir);
}

/* Random byte changes may be accepted or refused, but must never crash or
 * hang (the sanitizer build checks the memory accesses). */
Test(import, random_damage_never_crashes) {
  const char *files[] = {"backbone_legacy.pth", "strided_zip.pth", "tiny.safetensors",
                         "nested_f16.pth"};
  char dir[256], path[512];
  tmpdir_make(dir, sizeof dir, "import_fuzz");
  tmpdir_path(path, sizeof path, dir, "fuzz.pth");
  rng r;
  rng_seed(&r, 7);
  for (int f = 0; f < 4; f++) {
    char file[256];
    snprintf(file, sizeof file, "import/%s", files[f]);
    size_t len;
    unsigned char *orig = read_all(fixture_path(file), &len);
    unsigned char *buf = malloc(len);
    for (int round = 0; round < 60; round++) {
      memcpy(buf, orig, len);
      for (int k = 0; k < 1 + round % 4; k++)
        buf[rng_u64(&r) % len] = (unsigned char)rng_u64(&r);
      weight_file wf;
      write_all(path, buf, len);
      if (weight_file_open(path, &wf) != DNL_OK)
        continue;
      for (int i = 0; i < wf.tensors.count; i++) {
        const wtensor *t = &wf.tensors.items[i];
        float *out = malloc(((size_t)wtensor_numel(t) + 1) * sizeof(float));
        wtensor_to_f32(t, out);
        free(out);
      }
      weight_file_close(&wf);
    }
    free(buf);
    free(orig);
  }
  tmpdir_remove(dir);
}

/* ---- hostile pickles ---- */

static dnl_status run_pickle(const char *bytes, size_t len) {
  pickle_doc doc;
  pickle_doc_init(&doc);
  pk_value *v;
  size_t used;
  dnl_status s = pickle_run(&doc, (const uint8_t *)bytes, len, "test", &v, &used);
  pickle_doc_free(&doc);
  return s;
}

#define PICKLE(lit) run_pickle(lit, sizeof(lit) - 1)

Test(import, hostile_pickles_are_errors_not_allocations) {
  struct {
    const char *bytes;
    size_t len;
    const char *needle;
  } cases[] = {
      {"\x80\x02N\x72\xff\xff\xff\x7f.", 9, "memo index"},           /* LONG_BINPUT 2^31 */
      {"\x80\x02X\xff\xff\xff\xff.", 8, "runs past the end"},         /* BINUNICODE 4 GiB */
      {"\x80\x02\x8b\xff\xff\xff\x7f.", 8, "runs past the end"},      /* LONG4 2 GiB */
      {"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.", 12, "longer than the pickle"},
      {"\x80\x02j\x05\x00\x00\x00.", 8, "never stored"},             /* LONG_BINGET */
      {"\x80\x02\x01.", 4, "opcode 0x01"},
      {"\x80\x02t.", 4, "no mark"},
      {"\x80\x02N", 3, "without STOP"},
      {"\x80\x02.", 3, "empty stack"},
      {"\x80\x02)Na.", 6, "not a list"},
      {"\x80\x02" "cbuiltins\nexec\n.", 18, "builtins.exec"},
      {"\x80\x02" "ctorch\nFloatStorage\n)R.", 25, "storage type is called"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_eq(run_pickle(cases[i].bytes, cases[i].len), DNL_ERR_FORMAT, "case %zu accepted", i);
    cr_assert(strstr(dnl_last_error(), cases[i].needle), "case %zu: '%s' lacks '%s'", i,
              dnl_last_error(), cases[i].needle);
  }
  TRY_OK(PICKLE("\x80\x02}q\x00(X\x01\x00\x00\x00" "aK\x01u."));
  /* a few MB of one-byte DUPs must not grow the stack without bound */
  size_t n = (1u << 22) + 16;
  char *dups = malloc(n);
  memset(dups, '2', n);
  memcpy(dups, "\x80\x02N", 3);
  dups[n - 1] = '.';
  cr_assert_eq(run_pickle(dups, n), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "more than"), "%s", dnl_last_error());
  free(dups);
}

Test(import, tensor_claims_beyond_the_storage_are_refused) {
  uint8_t bytes[64] = {0};
  wtensor t = {.name = "w", .dtype = WDT_F32, .ndim = 2, .shape = {4, 4}, .stride = {4, 1},
               .storage = bytes, .storage_numel = 16};
  TRY_OK(wtensor_check(&t));
  t.offset = 1;
  cr_assert_neq(wtensor_check(&t), DNL_OK, "one past the end");
  cr_assert(strstr(dnl_last_error(), "w: reaches element 16"), "%s", dnl_last_error());
  t.offset = 0;
  t.stride[0] = 0; /* a broadcast view: 16 elements from a storage of 4 */
  t.storage_numel = 4;
  cr_assert_neq(wtensor_check(&t), DNL_OK, "expanded view");
  t.shape[0] = INT64_MAX / 2;
  t.shape[1] = 4;
  t.stride[0] = 4;
  cr_assert_neq(wtensor_check(&t), DNL_OK, "overflow");
  cr_assert(strstr(dnl_last_error(), "overflow"), "%s", dnl_last_error());
  t.shape[0] = -1;
  cr_assert_neq(wtensor_check(&t), DNL_OK, "negative size");
}

/* ---- name maps ---- */

Test(import, name_maps) {
  struct {
    name_map map;
    const char *src, *dst; /* dst NULL: dropped */
  } cases[] = {
      {NAME_MAP_NONE, "module.module.head.cls.weight", "head.cls.weight"},
      {NAME_MAP_NONE, "module.layer1.0.bn1.num_batches_tracked", NULL},
      {NAME_MAP_TORCHCV, "prefix.bn2.running_var", "backbone.prefix.bn2.running_var"},
      {NAME_MAP_TORCHCV, "module.layer4.2.conv3.weight", "backbone.layer4.2.conv3.weight"},
      {NAME_MAP_TORCHCV, "backbone.layer1.0.conv1.weight", "backbone.layer1.0.conv1.weight"},
      {NAME_MAP_TORCHCV, "fc.weight", NULL},
      {NAME_MAP_TORCHCV, "layer5.0.conv1.weight", NULL},
      {NAME_MAP_TORCHVISION, "conv1.weight", NULL},
      {NAME_MAP_TORCHVISION, "bn1.running_mean", NULL},
      {NAME_MAP_TORCHVISION, "layer3.22.bn3.bias", "backbone.layer3.22.bn3.bias"},
      {NAME_MAP_TORCHVISION, "layer2.0.downsample.0.weight", "backbone.layer2.0.downsample.0.weight"},
      {NAME_MAP_TORCHVISION, "fc.bias", NULL},
      {NAME_MAP_MMSEG, "backbone.stem.0.weight", "backbone.prefix.conv1.weight"},
      {NAME_MAP_MMSEG, "backbone.stem.4.running_var", "backbone.prefix.bn2.running_var"},
      {NAME_MAP_MMSEG, "backbone.stem.7.bias", "backbone.prefix.bn3.bias"},
      {NAME_MAP_MMSEG, "backbone.stem.2.weight", NULL}, /* a ReLU slot */
      {NAME_MAP_MMSEG, "backbone.stem.8.weight", NULL},
      {NAME_MAP_MMSEG, "backbone.layer1.0.conv1.weight", "backbone.layer1.0.conv1.weight"},
      {NAME_MAP_MMSEG, "decode_head.conv_seg.weight", NULL},
      {NAME_MAP_MMSEG, "auxiliary_head.convs.0.conv.weight", NULL},
      {NAME_MAP_MMSEG, "prefix.conv1.weight", NULL},
      {NAME_MAP_MMSEG, "stem.3.weight", "backbone.prefix.conv2.weight"}, /* ImageNet V1c */
      {NAME_MAP_MMSEG, "layer2.1.bn2.weight", "backbone.layer2.1.bn2.weight"},
      {NAME_MAP_MMSEG, "fc.weight", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char dst[256];
    const char *why = NULL;
    bool kept = name_map_apply(cases[i].map, cases[i].src, dst, sizeof dst, &why);
    if (cases[i].dst) {
      cr_assert(kept, "%s: %s dropped (%s)", name_map_str(cases[i].map), cases[i].src, why);
      cr_assert_str_eq(dst, cases[i].dst, "%s: %s", name_map_str(cases[i].map), cases[i].src);
    } else {
      cr_assert(!kept && why && why[0], "%s: %s mapped to %s", name_map_str(cases[i].map),
                cases[i].src, dst);
    }
  }
  name_map m;
  TRY_OK(name_map_parse("mmseg", &m));
  cr_assert_eq(m, NAME_MAP_MMSEG);
  cr_assert_neq(name_map_parse("timm", &m), DNL_OK);
  cr_assert(strstr(dnl_last_error(), "timm"), "%s", dnl_last_error());
}
