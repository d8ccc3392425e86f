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

#include "lib/weights/weight_format.h"

/* "pytorch-zip" and "pytorch-legacy" */
extern const weight_format pth_zip_format;
extern const weight_format pth_legacy_format;

#endif
