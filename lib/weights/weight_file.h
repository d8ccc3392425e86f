/* A foreign weight file opened for import: PyTorch checkpoints (torch.save's
 * zip format and its legacy format) and safetensors files, recognised by
 * their content. The file is mapped read-only; its tensors are described by
 * wtensor records checked against the mapped bytes, ready to convert. */
#ifndef DNL_WEIGHT_FILE_H
#define DNL_WEIGHT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"
#include "lib/weights/wtensor.h"

typedef struct weight_file {
  char *path;
  const uint8_t *map; /* the whole file, read-only */
  size_t len;
  const char *format;   /* "pytorch-zip", "pytorch-legacy", "safetensors" */
  char container[64];   /* where the tensors were found: "state_dict", "model", "" (top) */
  wtensor_list tensors; /* in file order; every one passed wtensor_check */
  int ignored;          /* entries next to the tensors that are not tensors */
} weight_file;

/* Maps path, recognises its format and lists its tensors. Errors name the
 * file and, where one is at fault, the key. */
dnl_status weight_file_open(const char *path, weight_file *wf);
void weight_file_close(weight_file *wf);

#endif
