/* Drawing through gnuplot: a script is written to a temporary file and run
 * with `gnuplot FILE`; every figure goes out as PNG (pngcairo) and SVG. */
#ifndef DNL_ANALYSIS_GNUPLOT_H
#define DNL_ANALYSIS_GNUPLOT_H

#include <stdio.h>

#include "lib/core/status.h"

typedef struct gp_script {
  FILE *f;
  char path[64];
} gp_script;

dnl_status gp_open(gp_script *s);
/* Writes text as a single-quoted gnuplot string (no escapes are processed). */
void gp_quote(FILE *f, const char *text);
/* Plots `plot_cmd` to base.png (w x h) and base.svg, after the setup written so far. */
void gp_output_both(gp_script *s, const char *base, int w, int h, const char *plot_cmd);
/* Removes the script without running it (after an error). */
void gp_discard(gp_script *s);
/* Runs the script and removes it; errors name the figure and gnuplot's exit status. */
dnl_status gp_run(gp_script *s, const char *what);

/* Colour of group i ("#rrggbb" and 0xRRGGBB). */
const char *gp_group_color(int i);
long gp_group_color_int(int i);

#endif
