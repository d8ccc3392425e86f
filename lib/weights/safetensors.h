/* safetensors files: an 8-byte little-endian header length N, N bytes of
 * JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * "__metadata__": {..}}, then the data, offsets counted from its start. */
#ifndef DNL_SAFETENSORS_H
#define DNL_SAFETENSORS_H

#include "lib/weights/weight_format.h"

/* "safetensors". Its sniff accepts a plausible header length followed by a
 * JSON object; whether the header fits is left to the read. */
extern const weight_format safetensors_format;

#endif
