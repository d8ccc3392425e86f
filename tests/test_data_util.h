/* Helpers for the data/ tests: temporary directories and fixture files that
 * the tests write themselves (no downloads). */
#ifndef DNL_TEST_DATA_UTIL_H
#define DNL_TEST_DATA_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "data/image.h"

/* A fresh directory under /tmp (caller frees the string and removes the tree). */
char *tdata_tmpdir(void);
/* rm -rf */
void tdata_rmrf(const char *dir);

/* "dir/rel" into buf (creating the parent directories of the result). */
const char *tdata_path(char *buf, size_t len, const char *dir, const char *rel);

/* An RGB image whose pixel (x, y) is a deterministic function of (x, y, salt). */
image tdata_rgb(int w, int h, unsigned salt);
/* A label image of value values[(x / block + y / block) % n]. */
image tdata_label(int w, int h, int block, const uint8_t *values, int n);

/* Writes img (PNG, or JPEG quality 95 when the path ends in .jpg) / label
 * (PNG, palette when palette is true). Fails the test on error. */
void tdata_write_image(const char *path, const image *img);
void tdata_write_label(const char *path, const image *label, bool palette);
/* Writes an image + label pair of w x h with tdata_rgb / tdata_label(values). */
void tdata_write_pair(const char *image_path, const char *label_path, int w, int h,
                      const uint8_t *values, int n, unsigned salt);

/* Keeps the first `bytes` bytes of a file. */
void tdata_truncate(const char *path, long bytes);
long tdata_file_size(const char *path);
bool tdata_files_equal(const char *a, const char *b);

#endif
