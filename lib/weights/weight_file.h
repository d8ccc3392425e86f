/* Opening a foreign weight file for import: PyTorch checkpoints (torch.save's
 * zip format and its legacy format) and safetensors files, recognised by
 * their content through the table of formats in weight_file.c
 * (lib/weights/weight_format.h). */
#ifndef DNL_WEIGHT_FILE_H
#define DNL_WEIGHT_FILE_H

#include "lib/core/status.h"
#include "lib/weights/weight_format.h"

/* Maps path, recognises its format and lists its tensors. Errors name the
 * file and, where one is at fault, the key. */
dnl_status weight_file_open(const char *path, weight_file *wf);
void weight_file_close(weight_file *wf);

#endif
