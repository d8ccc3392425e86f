/* PNG through libpng's low-level API: errors long-jump back into these
 * functions (libpng's way), so a corrupt file is a status, never an exit. */
#include "data/png_io.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* What a PNG read produces. */
typedef enum { PNG_READ_RGB, PNG_READ_LABEL, PNG_READ_SIZE } png_read_mode;

typedef struct png_failure {
  jmp_buf jump;
  char msg[200];
} png_failure;

static void on_png_error(png_structp png, png_const_charp msg) {
  png_failure *fail = png_get_error_ptr(png);
  snprintf(fail->msg, sizeof fail->msg, "%s", msg);
  longjmp(fail->jump, 1);
}

/* Ancillary-chunk complaints (colour profiles and the like) do not make a file
 * unusable; critical problems come through on_png_error. */
static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static const char *color_type_name(int ctype) {
  switch (ctype) {
  case PNG_COLOR_TYPE_GRAY:
    return "gray";
  case PNG_COLOR_TYPE_GRAY_ALPHA:
    return "gray+alpha";
  case PNG_COLOR_TYPE_RGB:
    return "RGB";
  case PNG_COLOR_TYPE_RGB_ALPHA:
    return "RGBA";
  case PNG_COLOR_TYPE_PALETTE:
    return "palette";
  }
  return "unknown";
}

/* Sets up libpng's transforms for the requested output; returns the channel
 * count, or 0 with the reason in *why for a label file that is not an index map. */
static int set_transforms(png_structp png, png_read_mode mode, int ctype, int depth, char *why,
                          size_t why_len) {
  if (mode == PNG_READ_RGB) {
    if (ctype == PNG_COLOR_TYPE_PALETTE)
      png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
      png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
      png_set_strip_16(png);
    /* also covers the alpha that expanding a palette with transparency adds */
    png_set_strip_alpha(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
      png_set_gray_to_rgb(png);
    return 3;
  }
  if (ctype != PNG_COLOR_TYPE_GRAY && ctype != PNG_COLOR_TYPE_PALETTE) {
    snprintf(why, why_len, "a label must be a single-channel gray or palette PNG, this is %s",
             color_type_name(ctype));
    return 0;
  }
  if (depth == 16) {
    snprintf(why, why_len, "16-bit label PNGs are not supported (label values are 0..255)");
    return 0;
  }
  /* unpack 1/2/4-bit values to one byte each without rescaling them */
  if (depth < 8)
    png_set_packing(png);
  return 1;
}

/* Frees the reader and passes st through. */
static dnl_status release_reader(png_structp *png, png_infop *info, dnl_status st) {
  png_destroy_read_struct(png, info, NULL);
  return st;
}

/* out is unused for PNG_READ_SIZE. */
static dnl_status read_png(FILE *f, const char *path, png_read_mode mode, image *out, int *w,
                           int *h) {
  png_failure fail = {.msg = ""};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &fail, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return dnl_error(DNL_ERR_NOMEM, "%s: out of memory starting the PNG reader", path);
  }
  png_bytep *volatile rows = NULL;
  if (setjmp(fail.jump)) {
    free((void *)rows);
    png_destroy_read_struct(&png, &info, NULL);
    return dnl_error(DNL_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", path, fail.msg);
  }
  png_init_io(png, f);
  png_read_info(png, info);
  png_uint_32 width, height;
  int depth, ctype;
  png_get_IHDR(png, info, &width, &height, &depth, &ctype, NULL, NULL, NULL);
  *w = (int)width;
  *h = (int)height;
  if (mode == PNG_READ_SIZE)
    return release_reader(&png, &info, DNL_OK);
  char why[160];
  int channels = set_transforms(png, mode, ctype, depth, why, sizeof why);
  if (channels == 0)
    return release_reader(&png, &info, dnl_error(DNL_ERR_FORMAT, "%s: %s", path, why));
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes != (size_t)width * (size_t)channels)
    return release_reader(&png, &info,
                          dnl_error(DNL_ERR_FORMAT,
                                    "%s: PNG (%s, %d bit) did not decode to %d bytes per pixel",
                                    path, color_type_name(ctype), depth, channels));
  dnl_status st = image_reserve(out, (int)width, (int)height, channels);
  if (st != DNL_OK)
    return release_reader(&png, &info, dnl_error_context(st, "%s", path));
  rows = malloc(height * sizeof *rows);
  if (!rows)
    return release_reader(&png, &info,
                          dnl_error(DNL_ERR_NOMEM, "%s: out of memory for PNG rows", path));
  for (png_uint_32 y = 0; y < height; y++)
    rows[y] = out->data + (size_t)y * rowbytes;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  free((void *)rows);
  return release_reader(&png, &info, DNL_OK);
}

static dnl_status check_palette(const char *path, const image *img, int palette_len) {
  if (img->c != 1)
    return dnl_error(DNL_ERR_ARG, "%s: a palette PNG needs a single-channel image", path);
  if (palette_len < 1 || palette_len > 256)
    return dnl_error(DNL_ERR_ARG, "%s: palette of %d colours (expected 1..256)", path, palette_len);
  size_t n = (size_t)img->w * (size_t)img->h;
  for (size_t i = 0; i < n; i++)
    if (img->data[i] >= palette_len)
      return dnl_error(DNL_ERR_ARG, "%s: index %d at pixel %zu is outside the %d-colour palette",
                       path, img->data[i], i, palette_len);
  return DNL_OK;
}

static dnl_status write_png(FILE *f, const char *path, const image *img,
                            const image_write_opts *opts) {
  const uint8_t *palette = opts->palette;
  int palette_len = opts->palette_len;
  if (palette)
    DNL_TRY(check_palette(path, img, palette_len));
  int ctype =
      img->c == 3 ? PNG_COLOR_TYPE_RGB : (palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY);
  png_failure fail = {.msg = ""};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &fail, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return dnl_error(DNL_ERR_NOMEM, "%s: out of memory starting the PNG writer", path);
  }
  if (setjmp(fail.jump)) {
    png_destroy_write_struct(&png, &info);
    return dnl_error(DNL_ERR_IO, "%s: cannot write PNG (%s)", path, fail.msg);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, ctype, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    png_color colors[256];
    for (int i = 0; i < palette_len; i++)
      colors[i] = (png_color){palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]};
    png_set_PLTE(png, info, colors, palette_len);
  }
  png_write_info(png, info);
  size_t stride = (size_t)img->w * (size_t)img->c;
  for (int y = 0; y < img->h; y++)
    png_write_row(png, img->data + (size_t)y * stride);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return DNL_OK;
}

static dnl_status read_rgb(FILE *f, const char *path, image *out) {
  int w, h;
  return read_png(f, path, PNG_READ_RGB, out, &w, &h);
}

static dnl_status read_label(FILE *f, const char *path, image *out) {
  int w, h;
  return read_png(f, path, PNG_READ_LABEL, out, &w, &h);
}

static dnl_status read_size(FILE *f, const char *path, int *w, int *h) {
  return read_png(f, path, PNG_READ_SIZE, NULL, w, h);
}

static bool sniff(const unsigned char *head, size_t len) {
  static const unsigned char magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return len >= sizeof magic && memcmp(head, magic, sizeof magic) == 0;
}

const image_codec png_codec = {
    .name = "PNG",
    .format = IMAGE_FORMAT_PNG,
    .sniff = sniff,
    .read_rgb = read_rgb,
    .read_label = read_label,
    .read_size = read_size,
    .write = write_png,
};
