/* JPEG through libjpeg-turbo (data/jpeg_io.c). */
#ifndef DNL_DATA_JPEG_IO_H
#define DNL_DATA_JPEG_IO_H

#include "data/image_codec.h"

extern const image_codec jpeg_codec;

#endif
