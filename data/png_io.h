/* PNG through libpng (data/png_io.c). */
#ifndef DNL_DATA_PNG_IO_H
#define DNL_DATA_PNG_IO_H

#include "data/image_codec.h"

extern const image_codec png_codec;

#endif
