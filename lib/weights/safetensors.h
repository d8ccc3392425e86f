/* safetensors files: an 8-byte little-endian header length N, N bytes of
 * JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * "__metadata__": {..}}, then the data, offsets counted from its start. The
 * header is parsed by jansson (duplicate names refused, nesting and the memory
 * a parse may take bounded); every tensor's bytes must lie in the data and
 * apart from every other tensor's. */
#ifndef DNL_SAFETENSORS_H
#define DNL_SAFETENSORS_H

#include "lib/weights/weight_format.h"

/* "safetensors". Its sniff accepts a header length followed by a JSON object
 * or array; whether the header fits and what it holds is left to the read. */
extern const weight_format safetensors_format;

#endif
