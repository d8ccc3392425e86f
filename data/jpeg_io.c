/* JPEG through libjpeg-turbo's libjpeg API. Its default error handler exits
 * the process; these handlers long-jump back instead, and corrupt-data
 * warnings (a truncated file is only a warning to libjpeg) count as errors. */
#include "data/jpeg_io.h" /* stdio.h first: jpeglib.h needs FILE and size_t */

#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>

typedef struct jpeg_failure {
  struct jpeg_error_mgr mgr; /* first, so the library's pointer converts back */
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} jpeg_failure;

static void on_jpeg_error(j_common_ptr cinfo) {
  jpeg_failure *fail = (jpeg_failure *)cinfo->err;
  cinfo->err->format_message(cinfo, fail->msg);
  longjmp(fail->jump, 1);
}

/* level -1 is a corrupt-data warning; higher levels are trace messages. */
static void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0)
    on_jpeg_error(cinfo);
}

static void init_failure(jpeg_failure *fail) {
  jpeg_std_error(&fail->mgr);
  fail->mgr.error_exit = on_jpeg_error;
  fail->mgr.emit_message = on_jpeg_message;
  fail->msg[0] = '\0';
}

/* out == NULL: header only (w, h). */
static dnl_status read_jpeg(FILE *f, const char *path, image *out, int *w, int *h) {
  struct jpeg_decompress_struct cinfo;
  jpeg_failure fail;
  init_failure(&fail);
  cinfo.err = &fail.mgr;
  if (setjmp(fail.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return dnl_error(DNL_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", path, fail.msg);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  *w = (int)cinfo.image_width;
  *h = (int)cinfo.image_height;
  if (!out) {
    jpeg_destroy_decompress(&cinfo);
    return DNL_OK;
  }
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW; /* the accurate integer DCT: same pixels everywhere */
  jpeg_start_decompress(&cinfo);
  dnl_status st = DNL_OK;
  if (cinfo.output_components != 3)
    st = dnl_error(DNL_ERR_FORMAT, "%s: JPEG decoded to %d channels, expected RGB", path,
                   cinfo.output_components);
  if (st == DNL_OK &&
      (st = image_reserve(out, (int)cinfo.output_width, (int)cinfo.output_height, 3)) != DNL_OK)
    dnl_error_context(st, "%s", path);
  if (st != DNL_OK) {
    jpeg_destroy_decompress(&cinfo);
    return st;
  }
  size_t stride = (size_t)out->w * 3;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->data + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return DNL_OK;
}

static dnl_status write_jpeg(FILE *f, const char *path, const image *img,
                             const image_write_opts *opts) {
  struct jpeg_compress_struct cinfo;
  jpeg_failure fail;
  init_failure(&fail);
  cinfo.err = &fail.mgr;
  if (setjmp(fail.jump)) {
    jpeg_destroy_compress(&cinfo);
    return dnl_error(DNL_ERR_IO, "%s: cannot write JPEG (%s)", path, fail.msg);
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = (JDIMENSION)img->w;
  cinfo.image_height = (JDIMENSION)img->h;
  cinfo.input_components = img->c;
  cinfo.in_color_space = img->c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, opts->quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  size_t stride = (size_t)img->w * (size_t)img->c;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = img->data + (size_t)cinfo.next_scanline * stride;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return DNL_OK;
}

static dnl_status read_rgb(FILE *f, const char *path, image *out) {
  int w, h;
  return read_jpeg(f, path, out, &w, &h);
}

static dnl_status read_size(FILE *f, const char *path, int *w, int *h) {
  return read_jpeg(f, path, NULL, w, h);
}

static bool sniff(const unsigned char *head, size_t len) {
  return len >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff;
}

/* no read_label: JPEG is lossy, labels would not survive it */
const image_codec jpeg_codec = {
    .name = "JPEG",
    .format = IMAGE_FORMAT_JPEG,
    .sniff = sniff,
    .read_rgb = read_rgb,
    .read_size = read_size,
    .write = write_jpeg,
};
