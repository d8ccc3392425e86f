/* `analysis plot`: every figure of the given result files into one folder,
 * plus index.md linking them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/commands.h"
#include "analysis/figures.h"

dnl_status figure_add(figure_list *l, const figure *f) {
  if (l->n == l->capacity) {
    int cap = l->capacity ? 2 * l->capacity : 16;
    figure *items = realloc(l->items, (size_t)cap * sizeof *items);
    if (!items)
      return dnl_error(DNL_ERR_NOMEM, "analysis: figure list");
    l->items = items;
    l->capacity = cap;
  }
  l->items[l->n++] = *f;
  return DNL_OK;
}

void figure_list_free(figure_list *l) {
  free(l->items);
  memset(l, 0, sizeof *l);
}

void figure_name(const run_set *rs, const char *name, const char *dataset, char *buf,
                 size_t len) {
  if (dataset && rs->ndatasets > 1)
    snprintf(buf, len, "%s_%s", name, dataset);
  else
    snprintf(buf, len, "%s", name);
}

/* mkdir -p */
static dnl_status make_dirs(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return dnl_error(DNL_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
      *p = saved;
      if (!saved)
        break;
    }
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return dnl_error(DNL_ERR_IO, "%s is not a folder", dir);
  return DNL_OK;
}

/* <folder of the first file>/plots */
static void default_dir(const char *first, char *buf, size_t len) {
  const char *slash = strrchr(first, '/');
  if (slash)
    snprintf(buf, len, "%.*s/plots", (int)(slash - first), first);
  else
    snprintf(buf, len, "plots");
}

static int usage_error(const char *msg) {
  fprintf(stderr, "analysis plot: %s\nusage: analysis plot FILES... [-o DIR]\n", msg);
  return 2;
}

static int run_plot(char **files, int nfiles, const char *out) {
  run_set rs;
  if (run_set_load(&rs, files, nfiles) != DNL_OK) {
    fprintf(stderr, "analysis plot: %s\n", dnl_last_error());
    run_set_free(&rs);
    return 1;
  }
  char dir[4096];
  if (out)
    snprintf(dir, sizeof dir, "%s", out);
  else
    default_dir(rs.runs[0].path, dir, sizeof dir);
  figure_list figs = {0};
  dnl_status s = make_dirs(dir);
  /* a figure that fails is reported; the others are still drawn */
  dnl_status (*const drawers[])(const run_set *, const char *, figure_list *) = {
      fig_curves, fig_block_stats, fig_final_miou, fig_class_iou, fig_attention};
  int failed = 0;
  for (size_t i = 0; s == DNL_OK && i < sizeof drawers / sizeof drawers[0]; i++) {
    if (drawers[i](&rs, dir, &figs) != DNL_OK) {
      fprintf(stderr, "analysis plot: %s\n", dnl_last_error());
      failed++;
    }
  }
  if (s == DNL_OK)
    s = index_md_write(&rs, dir, &figs);
  if (s != DNL_OK)
    fprintf(stderr, "analysis plot: %s\n", dnl_last_error());
  else
    printf("analysis plot: %d figure%s of %d run%s in %s (index.md)\n", figs.n,
           figs.n == 1 ? "" : "s", rs.n, rs.n == 1 ? "" : "s", dir);
  figure_list_free(&figs);
  run_set_free(&rs);
  return s != DNL_OK || failed ? 1 : 0;
}

int analysis_plot(int argc, char **argv) {
  const char *out = NULL;
  char **files = calloc((size_t)argc + 1, sizeof *files);
  int nfiles = 0;
  if (!files)
    return 1;
  int rc = -1;
  for (int i = 0; i < argc && rc < 0; i++) {
    if (!strcmp(argv[i], "-o")) {
      if (i + 1 >= argc)
        rc = usage_error("-o needs a folder");
      else
        out = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "analysis plot: unknown option %s\n", argv[i]);
      rc = 2;
    } else {
      files[nfiles++] = argv[i];
    }
  }
  if (rc < 0)
    rc = nfiles ? run_plot(files, nfiles, out) : usage_error("no result files given");
  free(files);
  return rc;
}
