/* index.md of `analysis plot`: what was plotted from which files, every figure
 * with a one-line caption, and the attention statistics per run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/figures.h"
#include "lib/core/version.h"

static double mean_of(const float *x, size_t n) {
  double s = 0.0;
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      s += x[i];
      c++;
    }
  return c ? s / c : NAN;
}

/* " mass | share | ratio |" of a per-image pair averaged over n entries, or dashes */
static void write_pair(FILE *f, const float *mass, const float *share, size_t n) {
  if (!mass || !share) {
    fprintf(f, " - | - | - |");
    return;
  }
  double mm = mean_of(mass, n), ms = mean_of(share, n);
  fprintf(f, " %.3f | %.3f | %.2f |", mm, ms, mm / ms);
}

static void write_stats(FILE *f, const run_set *rs) {
  bool any = false;
  for (int i = 0; i < rs->n; i++) {
    const results_attention_maps *m = &rs->runs[i].attention;
    if (!m->present ||
        (!m->unary_boundary_mass && !m->pairwise_same_region_mass && !m->unary_cue_mass))
      continue;
    if (!any)
      fprintf(f, "\n## Attention statistics of the stored maps\n\nMeans over the stored "
                 "validation images (and query points) of the figures above; the block "
                 "statistics figure has the same measures over the whole validation set. A "
                 "ratio above 1 means the map puts more mass there than the area's share.\n\n"
                 "| run | group | unary mass on the cue | cue share | ratio | unary mass on "
                 "boundaries | boundary share | ratio | pairwise mass in own region | region "
                 "share | ratio |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    any = true;
    fprintf(f, "| %s | %s |", rs->runs[i].run, rs->runs[i].label);
    size_t a = (size_t)m->a, aq = (size_t)m->a * (size_t)m->q;
    write_pair(f, m->unary_cue_mass, m->cue_share, a);
    write_pair(f, m->unary_boundary_mass, m->boundary_share, a);
    write_pair(f, m->pairwise_same_region_mass, m->same_region_share, aq);
    fprintf(f, "\n");
  }
}

dnl_status index_md_write(const run_set *rs, const char *dir, const figure_list *figs) {
  char path[4096];
  snprintf(path, sizeof path, "%s/index.md", dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return dnl_error(DNL_ERR_IO, "cannot write %s", path);
  int unfinished = 0;
  for (int i = 0; i < rs->n; i++)
    unfinished += !rs->runs[i].finished;
  fprintf(f,
          "# Results\n\n%d run%s in %d group%s (group = the runs' `label`), made by "
          "`analysis plot` %s.",
          rs->n, rs->n == 1 ? "" : "s", rs->ngroups, rs->ngroups == 1 ? "" : "s", dnl_version());
  if (unfinished)
    fprintf(f, " %d run%s did not finish: drawn in the curves, left out of final numbers.",
            unfinished, unfinished == 1 ? "" : "s");
  fprintf(f, "\n\nFiles:");
  for (int i = 0; i < rs->n; i++)
    fprintf(f, "%s `%s`", i ? "," : "", rs->runs[i].path);
  fprintf(f, "\n");
  for (int i = 0; i < figs->n; i++) {
    const figure *fg = &figs->items[i];
    fprintf(f, "\n## %s\n\n![%s](%s)\n\n%s", fg->title, fg->title, fg->png, fg->caption);
    if (fg->svg[0])
      fprintf(f, " [PNG](%s), [SVG](%s)", fg->png, fg->svg);
    else
      fprintf(f, " [PNG](%s)", fg->png);
    fprintf(f, "\n");
  }
  write_stats(f, rs);
  if (fclose(f) != 0)
    return dnl_error(DNL_ERR_IO, "cannot write %s", path);
  return DNL_OK;
}
