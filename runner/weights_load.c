#include "runner/weights_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/checkpoint.h"
#include "lib/weights/weight_import.h"
#include "runner/arch_diff.h"
#include "runner/published_block.h"

dnl_status weights_source_set_map(weights_source *src, const char *name) {
  DNL_TRY(name_map_parse(name, &src->map));
  src->map_given = true;
  return DNL_OK;
}

/* HDF5's signature at the start of the file (where this project writes it). */
static dnl_status is_hdf5(const char *path, bool *yes) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  FILE *f = fopen(path, "rb");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char head[8] = {0};
  *yes = fread(head, 1, sizeof head, f) == sizeof head && !memcmp(head, sig, sizeof sig);
  fclose(f);
  return DNL_OK;
}

/* One error: the architecture's differences, then the block's (either may be empty). */
static dnl_status another_architecture(const weights_source *src, const checkpoint_report *rep,
                                       const char *block_diff) {
  char diff[1500] = "";
  if (rep)
    arch_diff_describe(rep, diff, sizeof diff);
  return dnl_error(DNL_ERR_SHAPE, "%s does not fit the network of %s: %s%s%s", src->path,
                   src->config, diff, diff[0] && block_diff[0] ? "; " : "", block_diff);
}

static dnl_status load_foreign(param_store *ps, weights_source *src) {
  weight_file wf;
  DNL_TRY(weight_file_open(src->path, &wf));
  name_map map = src->map;
  dnl_status s = DNL_OK;
  if (!src->map_given) {
    const char **names = calloc((size_t)wf.tensors.count + 1, sizeof *names);
    if (!names)
      s = dnl_error(DNL_ERR_NOMEM, "%s: %d names", src->path, wf.tensors.count);
    for (int i = 0; s == DNL_OK && i < wf.tensors.count; i++)
      names[i] = wf.tensors.items[i].name;
    if (s == DNL_OK)
      s = name_map_detect(src->path, names, wf.tensors.count, &map);
    free(names);
  }
  import_plan plan = {0};
  checkpoint_report rep = {0};
  if (s == DNL_OK)
    s = import_plan_build(&wf, map, &plan);
  if (s == DNL_OK)
    s = import_plan_compare(&plan, ps, &rep);
  char block_diff[600] = "";
  if (s == DNL_OK && map == NAME_MAP_PUBLISHED && src->block)
    s = published_block_check(&wf, src->block, block_diff, sizeof block_diff, src->note,
                              sizeof src->note);
  const bool differs = rep.missing.count || rep.unexpected.count || rep.mismatched.count;
  if (s == DNL_OK && (differs || block_diff[0]))
    s = another_architecture(src, differs ? &rep : NULL, block_diff);
  if (s == DNL_OK)
    s = import_plan_load(&plan, ps);
  checkpoint_report_free(&rep);
  import_plan_free(&plan);
  weight_file_close(&wf);
  return s;
}

dnl_status weights_load(param_store *ps, weights_source *src) {
  src->note[0] = '\0';
  bool hdf5 = false;
  DNL_TRY(is_hdf5(src->path, &hdf5));
  if (!hdf5)
    return load_foreign(ps, src);
  if (src->map_given && src->map != NAME_MAP_NONE)
    return dnl_error(DNL_ERR_ARG,
                     "%s is an HDF5 file of this project: its names are mapped already (drop "
                     "--map %s)",
                     src->path, name_map_str(src->map));
  checkpoint_report rep;
  dnl_status s = checkpoint_load_values(src->path, ps, &rep);
  if (s == DNL_ERR_SHAPE && (rep.missing.count || rep.unexpected.count || rep.mismatched.count))
    s = another_architecture(src, &rep, "");
  checkpoint_report_free(&rep);
  return s;
}
