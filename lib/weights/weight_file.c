#include "lib/weights/weight_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/weights/pth_reader.h"
#include "lib/weights/safetensors.h"

/* in the order they are tried */
static const weight_format *const formats[] = {&pth_zip_format, &pth_legacy_format,
                                               &safetensors_format};

static dnl_status map_file(weight_file *wf) {
  int fd = open(wf->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot open: %s", wf->path, strerror(errno));
  struct stat st;
  dnl_status s = DNL_OK;
  if (fstat(fd, &st) != 0)
    s = dnl_error(DNL_ERR_IO, "%s: cannot stat: %s", wf->path, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    s = dnl_error(DNL_ERR_IO, "%s: not a regular file", wf->path);
  else if (st.st_size == 0)
    s = dnl_error(DNL_ERR_FORMAT, "%s: empty file", wf->path);
  if (s == DNL_OK) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      s = dnl_error(DNL_ERR_IO, "%s: cannot map %lld bytes: %s", wf->path, (long long)st.st_size,
                    strerror(errno));
    } else {
      wf->map = p;
      wf->len = (size_t)st.st_size;
    }
  }
  close(fd);
  return s;
}

dnl_status weight_file_open(const char *path, weight_file *wf) {
  memset(wf, 0, sizeof *wf);
  wf->path = strdup(path);
  if (!wf->path)
    return dnl_error(DNL_ERR_NOMEM, "path %s", path);
  dnl_status s = map_file(wf);
  if (s == DNL_OK) {
    const weight_format *fmt = NULL;
    for (size_t i = 0; !fmt && i < sizeof formats / sizeof formats[0]; i++)
      if (formats[i]->sniff(wf->map, wf->len))
        fmt = formats[i];
    if (!fmt)
      s = dnl_error(DNL_ERR_FORMAT,
                    "%s: not a PyTorch checkpoint (zip or legacy torch.save format) nor a "
                    "safetensors file",
                    path);
    else {
      wf->format = fmt->name;
      s = fmt->read(wf);
    }
  }
  if (s != DNL_OK)
    weight_file_close(wf);
  return s;
}

void weight_file_close(weight_file *wf) {
  if (wf->source)
    wf->source_free(wf->source);
  if (wf->map)
    munmap((void *)wf->map, wf->len);
  wtensor_list_free(&wf->tensors);
  free(wf->path);
  memset(wf, 0, sizeof *wf);
}
