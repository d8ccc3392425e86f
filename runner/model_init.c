#include "runner/model_init.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Length of the first two dotted components ("backbone.layer1"). */
static size_t module_len(const char *name) {
  const char *dot = strchr(name, '.');
  if (dot && strchr(dot + 1, '.'))
    dot = strchr(dot + 1, '.');
  return dot ? (size_t)(dot - name) : strlen(name);
}

static void print_loaded_by_module(FILE *f, const checkpoint_list *l) {
  fprintf(f, "  loaded %d:", l->count);
  for (int i = 0; i < l->count;) {
    const char *name = l->items[i].name;
    size_t n = module_len(name);
    int j = i + 1;
    while (j < l->count && module_len(l->items[j].name) == n && !strncmp(l->items[j].name, name, n))
      j++;
    fprintf(f, "%s %.*s (%d)", i ? "," : "", (int)n, name, j - i);
    i = j;
  }
  fprintf(f, "\n");
}

void model_init_print_report(FILE *f, const checkpoint_report *rep, bool list_loaded) {
  if (list_loaded) {
    for (int i = 0; i < rep->loaded.count; i++)
      fprintf(f, "  loaded      %s %s\n", rep->loaded.items[i].name, rep->loaded.items[i].shape);
  } else if (rep->loaded.count) {
    print_loaded_by_module(f, &rep->loaded);
  }
  for (int i = 0; i < rep->missing.count; i++)
    fprintf(f, "  missing     %s %s\n", rep->missing.items[i].name, rep->missing.items[i].shape);
  for (int i = 0; i < rep->unexpected.count; i++)
    fprintf(f, "  unexpected  %s %s\n", rep->unexpected.items[i].name,
            rep->unexpected.items[i].shape);
  for (int i = 0; i < rep->mismatched.count; i++)
    fprintf(f, "  mismatched  %s: file %s, network %s\n", rep->mismatched.items[i].name,
            rep->mismatched.items[i].shape, rep->mismatched.items[i].store_shape);
}

dnl_status model_init_load(param_store *ps, const char *path, const char *const *only, int n_only,
                           FILE *log) {
  if (access(path, R_OK) != 0)
    return dnl_error(DNL_ERR_IO, "model.init %s: cannot read: %s", path, strerror(errno));
  checkpoint_report rep;
  dnl_status s = checkpoint_load_partial_only(path, ps, only, n_only, &rep);
  if (s != DNL_OK)
    return dnl_error_context(s, "model.init (PyTorch and safetensors files are converted with "
                                "`runner import`)");
  char filter[512] = "";
  for (int i = 0, u = 0; i < n_only && u < (int)sizeof filter; i++)
    u += snprintf(filter + u, sizeof filter - (size_t)u, "%s%s%s", i ? ", " : " (only ", only[i],
                  i + 1 == n_only ? ")" : "");
  if (rep.loaded.count == 0) {
    s = dnl_error(DNL_ERR_SHAPE,
                  "model.init %s%s: no tensor matches the network (%d unexpected, %d with "
                  "another shape): were the names mapped with `runner import --map`?",
                  path, filter, rep.unexpected.count, rep.mismatched.count);
  } else {
    fprintf(log, "model.init %s%s: loaded %d tensors, %d missing, %d unexpected, %d mismatched",
            path, filter, rep.loaded.count, rep.missing.count, rep.unexpected.count,
            rep.mismatched.count);
    if (n_only)
      fprintf(log,
              "; %d network tensors outside model.init_only keep their initialisation, "
              "%d file tensors outside it ignored",
              rep.excluded.count, rep.ignored);
    fprintf(log, "\n");
    model_init_print_report(log, &rep, false);
  }
  checkpoint_report_free(&rep);
  return s;
}
