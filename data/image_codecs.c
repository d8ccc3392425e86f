#include "data/image_codecs.h"

#include <stdio.h>

#include "data/jpeg_io.h"
#include "data/png_io.h"

static const image_codec *const codecs[] = {&png_codec, &jpeg_codec};
enum { N_CODECS = sizeof codecs / sizeof codecs[0] };

const image_codec *image_codec_sniff(const unsigned char *head, size_t len) {
  for (int i = 0; i < N_CODECS; i++)
    if (codecs[i]->sniff(head, len))
      return codecs[i];
  return NULL;
}

const image_codec *image_codec_of(image_format fmt) {
  for (int i = 0; i < N_CODECS; i++)
    if (codecs[i]->format == fmt)
      return codecs[i];
  return NULL;
}

void image_codec_names(char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_CODECS && used < len; i++) {
    const char *sep = i == 0 ? "" : i == N_CODECS - 1 ? " or " : ", ";
    int n = snprintf(buf + used, len - used, "%s%s", sep, codecs[i]->name);
    if (n < 0)
      return;
    used += (size_t)n;
  }
}
