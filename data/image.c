#include "data/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_codec.h"

dnl_status image_reserve(image *img, int w, int h, int c) {
  if (w <= 0 || h <= 0 || (c != 1 && c != 3))
    return dnl_error(DNL_ERR_ARG, "image_reserve: bad size %dx%dx%d", w, h, c);
  size_t bytes = (size_t)w * (size_t)h * (size_t)c;
  if (bytes > img->cap) {
    uint8_t *data = realloc(img->data, bytes);
    if (!data)
      return dnl_error(DNL_ERR_NOMEM, "out of memory for a %dx%dx%d image", w, h, c);
    img->data = data;
    img->cap = bytes;
  }
  img->w = w;
  img->h = h;
  img->c = c;
  return DNL_OK;
}

void image_free(image *img) {
  free(img->data);
  *img = (image){0};
}

static dnl_status open_read(const char *path, FILE **f) {
  *f = fopen(path, "rb");
  if (!*f)
    return dnl_error(DNL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  return DNL_OK;
}

static dnl_status sniff_open(FILE *f, const char *path, image_format *fmt) {
  unsigned char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, f);
  rewind(f);
  static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got == 8 && memcmp(magic, png_magic, 8) == 0) {
    *fmt = IMAGE_FORMAT_PNG;
    return DNL_OK;
  }
  if (got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff) {
    *fmt = IMAGE_FORMAT_JPEG;
    return DNL_OK;
  }
  if (got == 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: empty file (expected PNG or JPEG)", path);
  return dnl_error(DNL_ERR_FORMAT, "%s: not a PNG or JPEG file", path);
}

dnl_status image_sniff(const char *path, image_format *fmt) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  dnl_status st = sniff_open(f, path, fmt);
  fclose(f);
  return st;
}

dnl_status image_read_rgb(const char *path, image *out) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  image_format fmt;
  int w, h;
  dnl_status st = sniff_open(f, path, &fmt);
  if (st == DNL_OK)
    st = fmt == IMAGE_FORMAT_PNG ? png_read_file(f, path, PNG_READ_RGB, out, &w, &h)
                                 : jpeg_read_file(f, path, out, &w, &h);
  fclose(f);
  return st;
}

dnl_status image_read_label(const char *path, image *out) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  image_format fmt;
  int w, h;
  dnl_status st = sniff_open(f, path, &fmt);
  if (st == DNL_OK && fmt != IMAGE_FORMAT_PNG)
    st = dnl_error(DNL_ERR_FORMAT, "%s: label files must be PNG (lossy JPEG labels are not "
                   "supported)", path);
  if (st == DNL_OK)
    st = png_read_file(f, path, PNG_READ_LABEL, out, &w, &h);
  fclose(f);
  return st;
}

dnl_status image_read_size(const char *path, int *w, int *h) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  image_format fmt;
  dnl_status st = sniff_open(f, path, &fmt);
  if (st == DNL_OK)
    st = fmt == IMAGE_FORMAT_PNG ? png_read_file(f, path, PNG_READ_SIZE, NULL, w, h)
                                 : jpeg_read_file(f, path, NULL, w, h);
  fclose(f);
  return st;
}

static dnl_status check_writable(const image *img, const char *path) {
  if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
    return dnl_error(DNL_ERR_ARG, "%s: cannot write an image of size %dx%dx%d", path,
                     img ? img->w : 0, img ? img->h : 0, img ? img->c : 0);
  return DNL_OK;
}

/* Runs the codec's writer, closing the file and removing it on failure. */
static dnl_status finish_write(FILE *f, const char *path, dnl_status st) {
  if (fclose(f) != 0 && st == DNL_OK)
    st = dnl_error(DNL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  if (st != DNL_OK)
    remove(path);
  return st;
}

dnl_status image_write_png(const char *path, const image *img, const uint8_t *palette,
                           int palette_len) {
  DNL_TRY(check_writable(img, path));
  FILE *f = fopen(path, "wb");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  return finish_write(f, path, png_write_file(f, path, img, palette, palette_len));
}

dnl_status image_write_jpeg(const char *path, const image *img, int quality) {
  DNL_TRY(check_writable(img, path));
  if (quality < 1 || quality > 100)
    return dnl_error(DNL_ERR_ARG, "%s: JPEG quality %d is not in 1..100", path, quality);
  FILE *f = fopen(path, "wb");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  return finish_write(f, path, jpeg_write_file(f, path, img, quality));
}
