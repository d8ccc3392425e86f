#include "tests/test_data_util.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/fsutil.h"

char *tdata_tmpdir(void) {
  char *dir = strdup("/tmp/dnl_data_test_XXXXXX");
  cr_assert_not_null(dir);
  cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
  return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void tdata_rmrf(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

const char *tdata_path(char *buf, size_t len, const char *dir, const char *rel) {
  snprintf(buf, len, "%s/%s", dir, rel);
  char parent[1024];
  snprintf(parent, sizeof parent, "%s", buf);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    dnl_status st = fs_mkdirs(parent);
    cr_assert(st == DNL_OK, "%s", dnl_last_error());
  }
  return buf;
}

image tdata_rgb(int w, int h, unsigned salt) {
  image img = {0};
  cr_assert(image_reserve(&img, w, h, 3) == DNL_OK);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        img.data[((size_t)y * w + x) * 3 + c] =
            (uint8_t)((x * (7 + c) + y * (3 + 2 * c) + salt * 31u + c * 50) & 0xff);
  return img;
}

image tdata_label(int w, int h, int block, const uint8_t *values, int n) {
  image img = {0};
  cr_assert(image_reserve(&img, w, h, 1) == DNL_OK);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      img.data[(size_t)y * w + x] = values[(x / block + y / block) % n];
  return img;
}

void tdata_write_image(const char *path, const image *img) {
  dnl_status st = str_ends_with(path, ".jpg") ? image_write_jpeg(path, img, 95)
                                              : image_write_png(path, img, NULL, 0);
  cr_assert(st == DNL_OK, "%s", dnl_last_error());
}

void tdata_write_label(const char *path, const image *label, bool palette) {
  uint8_t pal[256 * 3];
  for (int i = 0; i < 256 * 3; i++)
    pal[i] = (uint8_t)(i * 37 % 251); /* colours unrelated to the indices */
  dnl_status st = image_write_png(path, label, palette ? pal : NULL, 256);
  cr_assert(st == DNL_OK, "%s", dnl_last_error());
}

void tdata_write_pair(const char *image_path, const char *label_path, int w, int h,
                      const uint8_t *values, int n, unsigned salt) {
  image img = tdata_rgb(w, h, salt);
  image lab = tdata_label(w, h, 4, values, n);
  tdata_write_image(image_path, &img);
  tdata_write_label(label_path, &lab, salt % 2 == 1);
  image_free(&img);
  image_free(&lab);
}

void tdata_truncate(const char *path, long bytes) {
  cr_assert(truncate(path, bytes) == 0, "truncate %s", path);
}

long tdata_file_size(const char *path) {
  struct stat st;
  cr_assert(stat(path, &st) == 0, "stat %s", path);
  return (long)st.st_size;
}

bool tdata_files_equal(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  bool same = fa && fb;
  while (same) {
    int ca = fgetc(fa), cb = fgetc(fb);
    same = ca == cb;
    if (ca == EOF || cb == EOF)
      break;
  }
  if (fa)
    fclose(fa);
  if (fb)
    fclose(fb);
  return same;
}
