/* The table of image codecs (data/image_codec.h) that data/image.c looks up:
 * a new format is a codec file and one line in data/image_codecs.c. */
#ifndef DNL_DATA_IMAGE_CODECS_H
#define DNL_DATA_IMAGE_CODECS_H

#include "data/image_codec.h"

/* The codec whose sniff accepts the file's first len bytes, or NULL. */
const image_codec *image_codec_sniff(const unsigned char *head, size_t len);

/* The codec of a format (every image_format has one). */
const image_codec *image_codec_of(image_format fmt);

/* "PNG or JPEG": the formats the table holds, for messages, into buf. */
void image_codec_names(char *buf, size_t len);

#endif
