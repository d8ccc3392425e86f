/* What a reader of one foreign weight format provides, and the opened file it
 * fills: the lowest layer of the weight files. Each reader (pth_reader.c:
 * PyTorch zip and legacy, safetensors.c) exports its weight_format; the table
 * in lib/weights/weight_file.c picks one by the file's content. Layers:
 * wtensor.h, weight_format.h <- readers <- weight_file (open, table). */
#ifndef DNL_WEIGHT_FORMAT_H
#define DNL_WEIGHT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"
#include "lib/weights/wtensor.h"

/* A foreign weight file opened for import. The file is mapped read-only; its
 * tensors are described by wtensor records checked against the file's bytes
 * (in the map, or read on demand through source), ready to convert. */
typedef struct weight_file {
  char *path;
  const uint8_t *map; /* the whole file, read-only */
  size_t len;
  const char *format;   /* "pytorch-zip", "pytorch-legacy", "safetensors" */
  char container[64];   /* where the tensors were found: "state_dict", "model", "" (top) */
  wtensor_list tensors; /* in file order; every one passed wtensor_check */
  int ignored;          /* entries next to the tensors that are not tensors */
  /* storages read on demand (zip members), or NULL; weight_file_close frees
   * it with source_free */
  wsource *source;
  void (*source_free)(wsource *source);
} weight_file;

typedef struct weight_format {
  const char *name; /* wf->format */
  /* whether the file's first len bytes look like this format */
  bool (*sniff)(const uint8_t *buf, size_t len);
  /* fills wf->container, tensors and ignored from wf->map; errors name wf->path */
  dnl_status (*read)(weight_file *wf);
} weight_format;

#endif
