/* PyTorch checkpoints written by torch.save, read without Python:
 * - zip format (torch >= 1.6): <name>/data.pkl plus one record
 *   <name>/data/<key> of raw little-endian elements per storage;
 * - legacy format (_use_new_zipfile_serialization=False): five pickles (magic
 *   number, protocol version, system info, the object, the storage keys) and
 *   then, per key, an int64 element count and the raw elements.
 * The tensors are taken from the object itself when it is a dict of tensors,
 * or from its "state_dict" / "model" entry (nested ones too). */
#ifndef DNL_PTH_READER_H
#define DNL_PTH_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"
#include "lib/weights/weight_file.h"

/* True when buf starts like a legacy-format checkpoint (its magic-number pickle). */
bool pth_sniff_legacy(const uint8_t *buf, size_t len);

/* Fills wf->format, container, tensors and ignored from wf->map. */
dnl_status pth_read_zip(weight_file *wf);
dnl_status pth_read_legacy(weight_file *wf);

#endif
