/* PNG / JPEG decoding and encoding (data/image.h). */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/fsutil.h"
#include "tests/test_data_util.h"
#include "tests/test_util.h"

static char *dir;
static void setup(void) { dir = tdata_tmpdir(); }
static void teardown(void) {
  tdata_rmrf(dir);
  free(dir);
}

/* Writes a PNG of any colour type / bit depth straight through libpng, for
 * the kinds data/image.c never writes. rows: packed as libpng expects. */
static void write_raw_png(const char *path, int w, int h, int ctype, int depth, int interlace,
                          const uint8_t *data, size_t stride, const png_color *pal, int npal,
                          const uint8_t *trns, int ntrns) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  cr_assert(png && info);
  if (setjmp(png_jmpbuf(png)))
    cr_assert_fail("libpng failed writing %s", path);
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (pal)
    png_set_PLTE(png, info, pal, npal);
  if (trns)
    png_set_tRNS(png, info, trns, ntrns, NULL);
  png_write_info(png, info);
  png_bytep *rows = malloc((size_t)h * sizeof *rows);
  for (int y = 0; y < h; y++)
    rows[y] = (png_bytep)(data + (size_t)y * stride);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  fclose(f);
}

static void assert_error_names(dnl_status st, const char *path) {
  cr_assert(st != DNL_OK, "expected an error for %s", path);
  cr_assert(strstr(dnl_last_error(), path) != NULL, "message '%s' does not name %s",
            dnl_last_error(), path);
}

TestSuite(data_image, .init = setup, .fini = teardown);

Test(data_image, png_rgb_roundtrip_and_size) {
  char p[512];
  tdata_path(p, sizeof p, dir, "rgb.png");
  image a = tdata_rgb(37, 23, 5), b = {0};
  tdata_write_image(p, &a);
  TRY_OK(image_read_rgb(p, &b));
  cr_assert(b.w == 37 && b.h == 23 && b.c == 3);
  cr_assert(memcmp(a.data, b.data, 37 * 23 * 3) == 0);
  int w, h;
  TRY_OK(image_read_size(p, &w, &h));
  cr_assert(w == 37 && h == 23);
  image_format fmt;
  TRY_OK(image_sniff(p, &fmt));
  cr_assert(fmt == IMAGE_FORMAT_PNG);
  image_free(&a);
  image_free(&b);
}

Test(data_image, png_gray_as_rgb_and_as_label) {
  char p[512];
  tdata_path(p, sizeof p, dir, "gray.png");
  image g = {0}, rgb = {0}, lab = {0};
  TRY_OK(image_reserve(&g, 9, 7, 1));
  for (int i = 0; i < 63; i++)
    g.data[i] = (uint8_t)(i * 4);
  TRY_OK(image_write_png(p, &g, NULL, 0));
  TRY_OK(image_read_rgb(p, &rgb));
  TRY_OK(image_read_label(p, &lab));
  cr_assert(lab.c == 1 && memcmp(lab.data, g.data, 63) == 0);
  for (int i = 0; i < 63; i++)
    cr_assert(rgb.data[3 * i] == g.data[i] && rgb.data[3 * i + 1] == g.data[i] &&
              rgb.data[3 * i + 2] == g.data[i]);
  image_free(&g);
  image_free(&rgb);
  image_free(&lab);
}

Test(data_image, palette_label_keeps_indices_rgb_expands) {
  char p[512];
  tdata_path(p, sizeof p, dir, "pal.png");
  uint8_t values[] = {0, 3, 7, 255, 19};
  image lab = tdata_label(20, 12, 3, values, 5), back = {0}, rgb = {0};
  uint8_t pal[256 * 3];
  for (int i = 0; i < 256; i++) {
    pal[3 * i] = (uint8_t)(255 - i);
    pal[3 * i + 1] = (uint8_t)(i * 3);
    pal[3 * i + 2] = 77;
  }
  TRY_OK(image_write_png(p, &lab, pal, 256));
  TRY_OK(image_read_label(p, &back));
  cr_assert(back.c == 1 && memcmp(back.data, lab.data, 240) == 0,
            "palette indices must be read as they are");
  TRY_OK(image_read_rgb(p, &rgb));
  for (int i = 0; i < 240; i++) {
    int v = lab.data[i];
    cr_assert(rgb.data[3 * i] == pal[3 * v] && rgb.data[3 * i + 1] == pal[3 * v + 1] &&
              rgb.data[3 * i + 2] == pal[3 * v + 2]);
  }
  image_free(&lab);
  image_free(&back);
  image_free(&rgb);
}

Test(data_image, low_bit_depth_palette_and_gray_labels) {
  char p[512];
  /* 4-bit palette with transparency, 2-bit gray: values must not be rescaled */
  uint8_t packed4[6 * 2], packed2[6 * 1];
  for (int y = 0; y < 6; y++) {
    packed4[2 * y] = (uint8_t)((y << 4) | (y + 1)); /* pixels y, y+1, y+2, y+3 */
    packed4[2 * y + 1] = (uint8_t)(((y + 2) << 4) | (y + 3));
    packed2[y] = (uint8_t)((0 << 6) | (1 << 4) | (2 << 2) | 3);
  }
  png_color pal[16];
  for (int i = 0; i < 16; i++)
    pal[i] = (png_color){(png_byte)(i * 16), 0, (png_byte)(255 - i)};
  uint8_t trns[2] = {0, 128};
  tdata_path(p, sizeof p, dir, "pal4.png");
  write_raw_png(p, 4, 6, PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_NONE, packed4, 2, pal, 16,
                trns, 2);
  image lab = {0}, rgb = {0};
  TRY_OK(image_read_label(p, &lab));
  for (int y = 0; y < 6; y++)
    for (int x = 0; x < 4; x++)
      cr_assert_eq(lab.data[y * 4 + x], y + x);
  TRY_OK(image_read_rgb(p, &rgb));
  cr_assert(rgb.c == 3 && rgb.data[(1 * 4 + 2) * 3] == pal[3].red &&
                rgb.data[(1 * 4 + 2) * 3 + 2] == pal[3].blue,
            "palette + tRNS must expand to RGB without alpha");
  tdata_path(p, sizeof p, dir, "gray2.png");
  write_raw_png(p, 4, 6, PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_NONE, packed2, 1, NULL, 0, NULL,
                0);
  TRY_OK(image_read_label(p, &lab));
  for (int i = 0; i < 24; i++)
    cr_assert_eq(lab.data[i], i % 4);
  image_free(&lab);
  image_free(&rgb);
}

Test(data_image, rgba_drops_alpha_and_16_bit_keeps_high_byte) {
  char p[512];
  uint8_t rgba[5 * 4 * 4], rgb16[5 * 4 * 6];
  for (int i = 0; i < 20; i++) {
    for (int c = 0; c < 3; c++) {
      rgba[4 * i + c] = (uint8_t)(i * 10 + c);
      rgb16[6 * i + 2 * c] = (uint8_t)(i * 12 + c); /* big-endian high byte */
      rgb16[6 * i + 2 * c + 1] = 0x55;
    }
    rgba[4 * i + 3] = (uint8_t)(i * 13); /* alpha, must not blend */
  }
  image out = {0};
  tdata_path(p, sizeof p, dir, "rgba.png");
  write_raw_png(p, 5, 4, PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_ADAM7, rgba, 20, NULL, 0,
                NULL, 0);
  TRY_OK(image_read_rgb(p, &out));
  for (int i = 0; i < 20; i++)
    for (int c = 0; c < 3; c++)
      cr_assert_eq(out.data[3 * i + c], rgba[4 * i + c]);
  assert_error_names(image_read_label(p, &out), p);
  cr_assert(strstr(dnl_last_error(), "single-channel"), "%s", dnl_last_error());
  tdata_path(p, sizeof p, dir, "rgb16.png");
  write_raw_png(p, 5, 4, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, rgb16, 30, NULL, 0, NULL,
                0);
  TRY_OK(image_read_rgb(p, &out));
  for (int i = 0; i < 20; i++)
    for (int c = 0; c < 3; c++)
      cr_assert_eq(out.data[3 * i + c], rgb16[6 * i + 2 * c]);
  image_free(&out);
}

Test(data_image, sixteen_bit_label_rejected) {
  char p[512];
  uint8_t g16[4 * 3 * 2] = {0};
  tdata_path(p, sizeof p, dir, "g16.png");
  write_raw_png(p, 4, 3, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, g16, 8, NULL, 0, NULL, 0);
  image out = {0};
  assert_error_names(image_read_label(p, &out), p);
  cr_assert(strstr(dnl_last_error(), "16-bit"), "%s", dnl_last_error());
  image_free(&out);
}

Test(data_image, jpeg_decode_matches_what_was_written) {
  char p[512];
  tdata_path(p, sizeof p, dir, "smooth.jpg");
  image a = {0}, b = {0};
  TRY_OK(image_reserve(&a, 64, 48, 3));
  for (int y = 0; y < 48; y++)
    for (int x = 0; x < 64; x++) {
      uint8_t *px = a.data + (y * 64 + x) * 3;
      px[0] = (uint8_t)(40 + 2 * x);
      px[1] = (uint8_t)(30 + 3 * y);
      px[2] = (uint8_t)(200 - x - y);
    }
  TRY_OK(image_write_jpeg(p, &a, 100));
  TRY_OK(image_read_rgb(p, &b));
  cr_assert(b.w == 64 && b.h == 48 && b.c == 3);
  double sum = 0;
  int worst = 0;
  for (int i = 0; i < 64 * 48 * 3; i++) {
    int d = abs((int)a.data[i] - (int)b.data[i]);
    sum += d;
    worst = d > worst ? d : worst;
  }
  cr_assert(worst <= 8 && sum / (64 * 48 * 3) < 1.5, "JPEG error too large: max %d mean %g",
            worst, sum / (64 * 48 * 3));
  int w, h;
  TRY_OK(image_read_size(p, &w, &h));
  cr_assert(w == 64 && h == 48);
  image_format fmt;
  TRY_OK(image_sniff(p, &fmt));
  cr_assert(fmt == IMAGE_FORMAT_JPEG);
  /* a JPEG is never a label */
  assert_error_names(image_read_label(p, &b), p);
  image_free(&a);
  image_free(&b);
}

Test(data_image, gray_jpeg_reads_as_rgb) {
  char p[512];
  tdata_path(p, sizeof p, dir, "gray.jpg");
  image g = {0}, out = {0};
  TRY_OK(image_reserve(&g, 16, 16, 1));
  memset(g.data, 90, 256);
  TRY_OK(image_write_jpeg(p, &g, 90));
  TRY_OK(image_read_rgb(p, &out));
  for (int i = 0; i < 256; i++)
    cr_assert(abs(out.data[3 * i] - 90) <= 1 && out.data[3 * i] == out.data[3 * i + 1] &&
              out.data[3 * i] == out.data[3 * i + 2]);
  image_free(&g);
  image_free(&out);
}

Test(data_image, truncated_png_is_an_error_naming_the_file) {
  char p[512];
  tdata_path(p, sizeof p, dir, "cut.png");
  image a = tdata_rgb(64, 64, 1), out = {0};
  tdata_write_image(p, &a);
  long full = tdata_file_size(p);
  tdata_truncate(p, full / 2);
  assert_error_names(image_read_rgb(p, &out), p);
  cr_assert(strstr(dnl_last_error(), "corrupt or truncated"), "%s", dnl_last_error());
  tdata_truncate(p, 20); /* inside the header chunk */
  assert_error_names(image_read_rgb(p, &out), p);
  assert_error_names(image_read_size(p, &(int){0}, &(int){0}), p);
  image_free(&a);
  image_free(&out);
}

Test(data_image, truncated_or_corrupt_jpeg_is_an_error_naming_the_file) {
  char p[512];
  tdata_path(p, sizeof p, dir, "cut.jpg");
  image a = tdata_rgb(64, 64, 2), out = {0};
  tdata_write_image(p, &a);
  tdata_truncate(p, tdata_file_size(p) / 2);
  assert_error_names(image_read_rgb(p, &out), p);
  tdata_path(p, sizeof p, dir, "junk.jpg");
  FILE *f = fopen(p, "wb");
  static const char junk[] = "\xff\xd8\xff\xe0 this is not a jpeg stream at all";
  fwrite(junk, 1, sizeof junk - 1, f);
  fclose(f);
  assert_error_names(image_read_rgb(p, &out), p);
  image_free(&a);
  image_free(&out);
}

Test(data_image, missing_empty_and_foreign_files) {
  char p[512];
  image out = {0};
  tdata_path(p, sizeof p, dir, "nope.png");
  assert_error_names(image_read_rgb(p, &out), p);
  cr_assert(strstr(dnl_last_error(), "cannot open"), "%s", dnl_last_error());
  tdata_path(p, sizeof p, dir, "empty.png");
  fclose(fopen(p, "wb"));
  assert_error_names(image_read_label(p, &out), p);
  tdata_path(p, sizeof p, dir, "text.png");
  FILE *f = fopen(p, "wb");
  fputs("hello, not an image\n", f);
  fclose(f);
  assert_error_names(image_read_rgb(p, &out), p);
  cr_assert(strstr(dnl_last_error(), "not a PNG or JPEG"), "%s", dnl_last_error());
  image_free(&out);
}

Test(data_image, bad_writes_are_errors) {
  char p[512];
  image lab = {0};
  TRY_OK(image_reserve(&lab, 4, 4, 1));
  memset(lab.data, 9, 16);
  uint8_t pal[4 * 3] = {0};
  tdata_path(p, sizeof p, dir, "small_pal.png");
  cr_assert(image_write_png(p, &lab, pal, 4) == DNL_ERR_ARG, "index 9 >= 4 colours");
  cr_assert(!fs_is_file(p));
  cr_assert(image_write_png("/nonexistent_dir/x.png", &lab, NULL, 0) == DNL_ERR_IO);
  cr_assert(image_write_jpeg(p, &lab, 0) == DNL_ERR_ARG);
  image_free(&lab);
}
