#include "lib/weights/pth_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/weights/wzip.h"

/* zip format: <name>/data.pkl (the pickle's strings are copies: its bytes can go) */
static dnl_status zip_object(const weight_file *wf, pickle_doc *doc, const pk_value **root) {
  wzip z;
  DNL_TRY(wzip_open(&z, wf->map, wf->len, wf->path));
  dnl_status s = DNL_OK;
  int64_t pkl = -1;
  for (int64_t i = 0; i < wzip_count(&z) && pkl < 0; i++) {
    const char *name = wzip_name(&z, i), *slash = name ? strchr(name, '/') : NULL;
    if (slash && !strcmp(slash, "/data.pkl"))
      pkl = i;
  }
  if (pkl >= 0) {
    uint8_t *data = NULL;
    size_t size, used;
    char where[1100];
    snprintf(where, sizeof where, "%s: %s", wf->path, wzip_name(&z, pkl));
    pk_value *v = NULL;
    s = wzip_read_all(&z, pkl, &data, &size);
    if (s == DNL_OK)
      s = pickle_run(doc, data, size, where, &v, &used);
    *root = v;
    free(data);
  }
  wzip_close(&z);
  return s;
}

/* legacy format: magic number, protocol version and system information
 * pickles, then the object */
static dnl_status legacy_object(const weight_file *wf, pickle_doc *doc, const pk_value **root) {
  size_t pos = 0;
  char where[1100];
  snprintf(where, sizeof where, "%s: object", wf->path);
  for (int i = 0; i < 4; i++) {
    pk_value *v = NULL;
    size_t used;
    DNL_TRY(pickle_run(doc, wf->map + pos, wf->len - pos, where, &v, &used));
    pos += used;
    *root = v;
  }
  return DNL_OK;
}

dnl_status pth_read_entry(const weight_file *wf, pickle_doc *doc, const char *key,
                          const pk_value **out) {
  *out = NULL;
  const pk_value *root = NULL;
  if (!strcmp(wf->format, "pytorch-zip"))
    DNL_TRY(zip_object(wf, doc, &root));
  else if (!strcmp(wf->format, "pytorch-legacy"))
    DNL_TRY(legacy_object(wf, doc, &root));
  if (root && root->kind == PK_DICT)
    *out = pickle_dict_get(root, key);
  return DNL_OK;
}
