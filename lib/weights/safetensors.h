/* safetensors files: an 8-byte little-endian header length N, N bytes of
 * JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * "__metadata__": {..}}, then the data, offsets counted from its start. */
#ifndef DNL_SAFETENSORS_H
#define DNL_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"
#include "lib/weights/weight_file.h"

/* True when buf starts like a safetensors file (a plausible header length, then a
 * JSON object); whether the header fits is left to safetensors_read. */
bool safetensors_sniff(const uint8_t *buf, size_t len);

/* Fills wf->format and tensors from wf->map. */
dnl_status safetensors_read(weight_file *wf);

#endif
