#include "data/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "data/image_codecs.h"

static dnl_status open_read(const char *path, FILE **f) {
  *f = fopen(path, "rb");
  if (!*f)
    return dnl_error(DNL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  return DNL_OK;
}

/* The codec for the open file f, by its first bytes; f is rewound. */
static dnl_status sniff_open(FILE *f, const char *path, const image_codec **codec) {
  unsigned char head[IMAGE_SNIFF_BYTES] = {0};
  size_t got = fread(head, 1, sizeof head, f);
  rewind(f);
  char names[64];
  image_codec_names(names, sizeof names);
  if (got == 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: empty file (expected %s)", path, names);
  *codec = image_codec_sniff(head, got);
  if (!*codec)
    return dnl_error(DNL_ERR_FORMAT, "%s: not a %s file", path, names);
  return DNL_OK;
}

dnl_status image_sniff(const char *path, image_format *fmt) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  const image_codec *codec;
  dnl_status st = sniff_open(f, path, &codec);
  if (st == DNL_OK)
    *fmt = codec->format;
  fclose(f);
  return st;
}

dnl_status image_read_rgb(const char *path, image *out) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  const image_codec *codec;
  dnl_status st = sniff_open(f, path, &codec);
  if (st == DNL_OK)
    st = codec->read_rgb(f, path, out);
  fclose(f);
  return st;
}

dnl_status image_read_label(const char *path, image *out) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  const image_codec *codec;
  dnl_status st = sniff_open(f, path, &codec);
  if (st == DNL_OK && !codec->read_label)
    st =
        dnl_error(DNL_ERR_FORMAT, "%s: label files must be PNG (lossy %s labels are not supported)",
                  path, codec->name);
  if (st == DNL_OK)
    st = codec->read_label(f, path, out);
  fclose(f);
  return st;
}

dnl_status image_read_size(const char *path, int *w, int *h) {
  FILE *f;
  DNL_TRY(open_read(path, &f));
  const image_codec *codec;
  dnl_status st = sniff_open(f, path, &codec);
  if (st == DNL_OK)
    st = codec->read_size(f, path, w, h);
  fclose(f);
  return st;
}

/* Writes img through the format's codec; a failed write removes the partial file. */
static dnl_status write_as(image_format fmt, const char *path, const image *img,
                           const image_write_opts *opts) {
  if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
    return dnl_error(DNL_ERR_ARG, "%s: cannot write an image of size %dx%dx%d", path,
                     img ? img->w : 0, img ? img->h : 0, img ? img->c : 0);
  FILE *f = fopen(path, "wb");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  dnl_status st = image_codec_of(fmt)->write(f, path, img, opts);
  if (fclose(f) != 0 && st == DNL_OK)
    st = dnl_error(DNL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  if (st != DNL_OK)
    remove(path);
  return st;
}

dnl_status image_write_png(const char *path, const image *img, const uint8_t *palette,
                           int palette_len) {
  image_write_opts opts = {.palette = palette, .palette_len = palette_len};
  return write_as(IMAGE_FORMAT_PNG, path, img, &opts);
}

dnl_status image_write_jpeg(const char *path, const image *img, int quality) {
  if (quality < 1 || quality > 100)
    return dnl_error(DNL_ERR_ARG, "%s: JPEG quality %d is not in 1..100", path, quality);
  image_write_opts opts = {.quality = quality};
  return write_as(IMAGE_FORMAT_JPEG, path, img, &opts);
}
