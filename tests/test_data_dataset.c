/* Dataset readers: mapping tables, class names, each layout, and the errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/synth.h"
#include "tests/test_data_util.h"
#include "tests/test_util.h"

#include <criterion/redirect.h> /* after criterion.h */

static char *dir;
static void setup(void) { dir = tdata_tmpdir(); }
static void teardown(void) {
  tdata_rmrf(dir);
  free(dir);
}

TestSuite(data_dataset, .init = setup, .fini = teardown);

static dataset_info info_of(const char *name) {
  dataset_info info;
  TRY_OK(dataset_info_get(name, &info));
  return info;
}

Test(data_dataset, cityscapes_table_and_names) {
  dataset_info c = info_of("cityscapes");
  static const int ids[19] = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22,
                              23, 24, 25, 26, 27, 28, 31, 32, 33};
  int seen[19] = {0};
  for (int v = 0; v < 256; v++) {
    int t = c.label_map[v];
    if (t != 255) {
      cr_assert(t < 19);
      cr_assert_eq(ids[t], v, "label id %d maps to train id %d", v, t);
      seen[t]++;
    }
    cr_assert_eq(c.label_known[v], v <= 33 || v == 255, "value %d", v);
  }
  for (int t = 0; t < 19; t++)
    cr_assert_eq(seen[t], 1);
  cr_assert(c.label_map[0] == 255 && c.label_map[6] == 255 && c.label_map[34] == 255);
  cr_assert_eq(c.num_classes, 19);
  cr_assert_str_eq(c.class_names[0], "road");
  cr_assert_str_eq(c.class_names[6], "traffic light");
  cr_assert_str_eq(c.class_names[18], "bicycle");
}

Test(data_dataset, ade20k_and_pascal_context_tables_and_names) {
  dataset_info a = info_of("ade20k"), p59 = info_of("pascal_context"),
               p60 = info_of("pascal_context60"), s = info_of("synth");
  cr_assert(a.num_classes == 150 && p59.num_classes == 59 && p60.num_classes == 60 &&
            s.num_classes == SYNTH_CLASSES);
  cr_assert(a.label_map[0] == 255 && a.label_map[1] == 0 && a.label_map[150] == 149);
  cr_assert(a.label_known[150] && !a.label_known[151] && a.label_map[151] == 255);
  cr_assert(p59.label_map[0] == 255 && p59.label_map[1] == 0 && p59.label_map[59] == 58);
  cr_assert(!p59.label_known[60] && p59.label_map[60] == 255);
  for (int v = 0; v < 60; v++)
    cr_assert_eq(p60.label_map[v], v);
  cr_assert(!p60.label_known[60] && p60.label_known[255]);
  cr_assert_str_eq(a.class_names[0], "wall");
  cr_assert_str_eq(a.class_names[149], "flag");
  cr_assert_str_eq(p59.class_names[0], "aeroplane");
  cr_assert_str_eq(p59.class_names[58], "wood");
  cr_assert_str_eq(p60.class_names[0], "background");
  cr_assert_str_eq(p60.class_names[59], "wood");
  const char *const *names = dataset_names();
  int count = 0;
  for (int d = 0; names[d]; d++, count++) {
    dataset_info info = info_of(names[d]);
    for (int c = 0; c < info.num_classes; c++)
      cr_assert(info.class_names[c] && info.class_names[c][0], "%s class %d", names[d], c);
    for (int c = 1; c < info.num_classes; c++)
      cr_assert(strcmp(info.class_names[c], info.class_names[c - 1]) != 0);
  }
  cr_assert_eq(count, 5);
  dataset_info bad;
  cr_assert(dataset_info_get("cityscape", &bad) == DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "cityscapes"), "%s", dnl_last_error());
}

/* Opens, checks the pair count, then reads pair i and compares the mapped label
 * with map[] applied to the raw values written by tdata_write_pair. */
static void expect_mapped(dataset *ds, int i, int w, int h, const uint8_t *raw, int n,
                          const uint8_t *mapped) {
  image img = {0}, lab = {0};
  TRY_OK(dataset_read(ds, i, &img, &lab));
  cr_assert(img.w == w && img.h == h && img.c == 3 && lab.c == 1);
  image want = tdata_label(w, h, 4, raw, n);
  for (int k = 0; k < w * h; k++) {
    int j = 0;
    while (raw[j] != want.data[k])
      j++;
    cr_assert_eq(lab.data[k], mapped[j], "pixel %d: raw %d", k, raw[j]);
  }
  image_free(&want);
  image_free(&img);
  image_free(&lab);
}

Test(data_dataset, original_layout_sorted_and_mapped) {
  char a[512], b[512];
  const uint8_t raw[] = {7, 26, 0, 33, 255};
  const uint8_t mapped[] = {0, 13, 255, 18, 255};
  const char *names[] = {"frankfurt_1", "aachen_2", "bremen_3"};
  for (int i = 0; i < 3; i++) {
    char rel_i[64], rel_l[64];
    snprintf(rel_i, sizeof rel_i, "train/image/%s.%s", names[i], i == 1 ? "jpg" : "png");
    snprintf(rel_l, sizeof rel_l, "train/label/%s.png", names[i]);
    tdata_write_pair(tdata_path(a, sizeof a, dir, rel_i), tdata_path(b, sizeof b, dir, rel_l),
                     24 + i, 16, raw, 5, (unsigned)i);
  }
  dataset *ds;
  TRY_OK(dataset_open("cityscapes", dir, "train", &ds));
  cr_assert_eq(dataset_size(ds), 3);
  cr_assert_str_eq(dataset_layout(ds), "original");
  cr_assert(strstr(dataset_image_path(ds, 0), "aachen_2.jpg"));
  cr_assert(strstr(dataset_label_path(ds, 0), "aachen_2.png"));
  cr_assert(strstr(dataset_image_path(ds, 1), "bremen_3.png"));
  cr_assert(strstr(dataset_image_path(ds, 2), "frankfurt_1.png"));
  expect_mapped(ds, 0, 25, 16, raw, 5, mapped); /* palette label */
  expect_mapped(ds, 2, 24, 16, raw, 5, mapped); /* gray label */
  int w, h;
  TRY_OK(dataset_image_size(ds, 1, &w, &h));
  cr_assert(w == 26 && h == 16);
  cr_assert_eq(dataset_num_classes(ds), 19);
  cr_assert_str_eq(dataset_class_name(ds, 13), "car");
  cr_assert_null(dataset_class_name(ds, 19));
  long unknown[256];
  dataset_unknown_labels(ds, unknown);
  for (int v = 0; v < 256; v++)
    cr_assert_eq(unknown[v], 0);
  dataset_close(ds);
}

Test(data_dataset, cityscapes_native_layout) {
  char a[512], b[512];
  const uint8_t raw[] = {24, 26, 1, 7};
  const uint8_t mapped[] = {11, 13, 255, 0};
  const char *files[][2] = {{"bochum", "bochum_000000_000313"},
                            {"aachen", "aachen_000001_000019"},
                            {"aachen", "aachen_000000_000019"}};
  for (int i = 0; i < 3; i++) {
    char ri[256], rl[256];
    snprintf(ri, sizeof ri, "leftImg8bit/train/%s/%s_leftImg8bit.png", files[i][0],
             files[i][1]);
    snprintf(rl, sizeof rl, "gtFine/train/%s/%s_gtFine_labelIds.png", files[i][0],
             files[i][1]);
    tdata_write_pair(tdata_path(a, sizeof a, dir, ri), tdata_path(b, sizeof b, dir, rl), 32, 16,
                     raw, 4, (unsigned)i);
    /* the other gtFine files must be ignored */
    snprintf(rl, sizeof rl, "gtFine/train/%s/%s_gtFine_color.png", files[i][0], files[i][1]);
    image junk = tdata_rgb(8, 8, 0);
    tdata_write_image(tdata_path(b, sizeof b, dir, rl), &junk);
    image_free(&junk);
  }
  dataset *ds;
  TRY_OK(dataset_open("cityscapes", dir, "train", &ds));
  cr_assert_str_eq(dataset_layout(ds), "native");
  cr_assert_eq(dataset_size(ds), 3);
  cr_assert(strstr(dataset_image_path(ds, 0), "aachen/aachen_000000_000019_leftImg8bit.png"));
  cr_assert(strstr(dataset_label_path(ds, 0), "aachen_000000_000019_gtFine_labelIds.png"));
  cr_assert(strstr(dataset_image_path(ds, 1), "aachen_000001_000019"));
  cr_assert(strstr(dataset_image_path(ds, 2), "bochum/"));
  for (int i = 0; i < 3; i++)
    expect_mapped(ds, i, 32, 16, raw, 4, mapped);
  dataset_close(ds);
  cr_assert(dataset_open("cityscapes", dir, "val", &ds) != DNL_OK);
  cr_assert(strstr(dnl_last_error(), "val"), "%s", dnl_last_error());
}

Test(data_dataset, ade20k_native_layout_with_split_aliases) {
  char a[512], b[512];
  const uint8_t raw[] = {0, 1, 150, 42};
  const uint8_t mapped[] = {255, 0, 149, 41};
  for (int i = 0; i < 2; i++) {
    char ri[128], rl[128];
    snprintf(ri, sizeof ri, "images/training/ADE_train_%08d.jpg", i + 1);
    snprintf(rl, sizeof rl, "annotations/training/ADE_train_%08d.png", i + 1);
    tdata_write_pair(tdata_path(a, sizeof a, dir, ri), tdata_path(b, sizeof b, dir, rl), 20, 28,
                     raw, 4, (unsigned)i);
  }
  tdata_write_pair(tdata_path(a, sizeof a, dir, "images/validation/ADE_val_00000001.jpg"),
                   tdata_path(b, sizeof b, dir, "annotations/validation/ADE_val_00000001.png"),
                   12, 12, raw, 4, 0);
  dataset *ds;
  TRY_OK(dataset_open("ade20k", dir, "train", &ds));
  cr_assert_eq(dataset_size(ds), 2);
  cr_assert_str_eq(dataset_layout(ds), "native");
  expect_mapped(ds, 0, 20, 28, raw, 4, mapped);
  expect_mapped(ds, 1, 20, 28, raw, 4, mapped);
  dataset_close(ds);
  TRY_OK(dataset_open("ade20k", dir, "validation", &ds));
  cr_assert_eq(dataset_size(ds), 1);
  dataset_close(ds);
  TRY_OK(dataset_open("ade20k", dir, "val", &ds));
  cr_assert_eq(dataset_size(ds), 1);
  dataset_close(ds);
}

Test(data_dataset, pascal_context_59_and_60) {
  char a[512], b[512];
  const uint8_t raw[] = {0, 1, 59, 30};
  const uint8_t mapped59[] = {255, 0, 58, 29};
  tdata_write_pair(tdata_path(a, sizeof a, dir, "val/image/2008_000002.jpg"),
                   tdata_path(b, sizeof b, dir, "val/label/2008_000002.png"), 16, 12, raw, 4,
                   1);
  dataset *ds;
  TRY_OK(dataset_open("pascal_context", dir, "val", &ds));
  expect_mapped(ds, 0, 16, 12, raw, 4, mapped59);
  dataset_close(ds);
  TRY_OK(dataset_open("pascal_context60", dir, "val", &ds));
  expect_mapped(ds, 0, 16, 12, raw, 4, raw);
  dataset_close(ds);
}

/* Runs after the suite's setup (Criterion calls both). */
static void capture_stderr(void) { cr_redirect_stderr(); }

/* The warning goes to stderr once per value; here it is captured and checked. */
Test(data_dataset, unknown_label_values_are_counted_and_ignored, .init = capture_stderr) {
  char a[512], b[512];
  const uint8_t raw[] = {7, 200};
  const uint8_t mapped[] = {0, 255};
  tdata_write_pair(tdata_path(a, sizeof a, dir, "train/image/x.png"),
                   tdata_path(b, sizeof b, dir, "train/label/x.png"), 8, 8, raw, 2, 0);
  dataset *ds;
  TRY_OK(dataset_open("cityscapes", dir, "train", &ds));
  expect_mapped(ds, 0, 8, 8, raw, 2, mapped);
  expect_mapped(ds, 0, 8, 8, raw, 2, mapped);
  long unknown[256];
  dataset_unknown_labels(ds, unknown);
  image want = tdata_label(8, 8, 4, raw, 2);
  long n200 = 0;
  for (int k = 0; k < 64; k++)
    n200 += want.data[k] == 200;
  cr_assert(n200 > 0);
  cr_assert_eq(unknown[200], 2 * n200);
  cr_assert_eq(unknown[7], 0);
  char warning[1024];
  snprintf(warning, sizeof warning,
           "warning: cityscapes: label value 200 in %s is not a cityscapes label; mapped to "
           "ignore (255), further occurrences are only counted\n",
           b);
  fflush(stderr);
  cr_assert_stderr_eq_str(warning, "exactly one warning line");
  image_free(&want);
  dataset_close(ds);
}

static void expect_open_error(const char *name, const char *split, const char *needle) {
  dataset *ds = NULL;
  dnl_status st = dataset_open(name, dir, split, &ds);
  cr_assert(st != DNL_OK, "opening %s/%s should fail", name, split);
  cr_assert_null(ds);
  cr_assert(strstr(dnl_last_error(), needle), "message '%s' lacks '%s'", dnl_last_error(),
            needle);
}

Test(data_dataset, image_without_label_and_label_without_image) {
  char a[512], b[512];
  const uint8_t raw[] = {1};
  tdata_write_pair(tdata_path(a, sizeof a, dir, "train/image/a.png"),
                   tdata_path(b, sizeof b, dir, "train/label/a.png"), 8, 8, raw, 1, 0);
  image img = tdata_rgb(8, 8, 0);
  tdata_write_image(tdata_path(a, sizeof a, dir, "train/image/lonely.png"), &img);
  expect_open_error("synth", "train", a);
  remove(a);
  tdata_write_image(tdata_path(b, sizeof b, dir, "train/label/orphan.png"), &img);
  expect_open_error("synth", "train", b);
  image_free(&img);
}

static void count_problem(void *user, const char *line) {
  (void)line;
  (*(int *)user)++;
}

Test(data_dataset, lenient_open_reports_every_problem) {
  char a[512], b[512];
  const uint8_t raw[] = {1};
  tdata_write_pair(tdata_path(a, sizeof a, dir, "train/image/a.png"),
                   tdata_path(b, sizeof b, dir, "train/label/a.png"), 8, 8, raw, 1, 0);
  image img = tdata_rgb(8, 8, 0);
  tdata_write_image(tdata_path(a, sizeof a, dir, "train/image/b.png"), &img);
  tdata_write_image(tdata_path(a, sizeof a, dir, "train/image/c.jpg"), &img);
  tdata_write_image(tdata_path(b, sizeof b, dir, "train/label/d.png"), &img);
  int problems = 0;
  dataset *ds;
  TRY_OK(dataset_open_lenient("synth", dir, "train", count_problem, &problems, &ds));
  cr_assert_eq(problems, 3);
  cr_assert_eq(dataset_size(ds), 1);
  dataset_close(ds);
  image_free(&img);
}

Test(data_dataset, size_mismatch_names_both_files) {
  char a[512], b[512];
  image img = tdata_rgb(10, 8, 0);
  const uint8_t raw[] = {1};
  image lab = tdata_label(10, 9, 4, raw, 1);
  tdata_write_image(tdata_path(a, sizeof a, dir, "val/image/m.png"), &img);
  tdata_write_label(tdata_path(b, sizeof b, dir, "val/label/m.png"), &lab, false);
  dataset *ds;
  TRY_OK(dataset_open("synth", dir, "val", &ds));
  image i2 = {0}, l2 = {0};
  dnl_status st = dataset_read(ds, 0, &i2, &l2);
  cr_assert(st == DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), a) && strstr(dnl_last_error(), b), "%s",
            dnl_last_error());
  dataset_close(ds);
  image_free(&img);
  image_free(&lab);
  image_free(&i2);
  image_free(&l2);
}

Test(data_dataset, missing_directories) {
  char a[512];
  expect_open_error("ade20k", "train", "no split 'train'");
  image img = tdata_rgb(8, 8, 0);
  tdata_write_image(tdata_path(a, sizeof a, dir, "train/image/x.png"), &img);
  expect_open_error("ade20k", "train", "train/label");
  tdata_path(a, sizeof a, dir, "images/validation/x.jpg");
  tdata_write_image(a, &img);
  expect_open_error("ade20k", "val", "annotations/validation");
  tdata_write_image(tdata_path(a, sizeof a, dir, "leftImg8bit/val/zurich/z_leftImg8bit.png"),
                    &img);
  expect_open_error("cityscapes", "val", "gtFine/val");
  image_free(&img);
  dataset *ds;
  cr_assert(dataset_open("synth", "/nonexistent/root", "train", &ds) == DNL_ERR_IO);
  cr_assert(strstr(dnl_last_error(), "/nonexistent/root"));
  cr_assert(dataset_open("nosuch", dir, "train", &ds) == DNL_ERR_ARG);
}

Test(data_dataset, empty_split_is_an_error) {
  char a[512];
  tdata_path(a, sizeof a, dir, "train/image/.keep");
  tdata_path(a, sizeof a, dir, "train/label/.keep");
  expect_open_error("synth", "train", "no image/label pairs");
}
