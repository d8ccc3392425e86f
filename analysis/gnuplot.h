/* Drawing through gnuplot: a script is written to a temporary file and run
 * with `gnuplot FILE`; every figure goes out as PNG (pngcairo) and SVG. */
#ifndef DNL_ANALYSIS_GNUPLOT_H
#define DNL_ANALYSIS_GNUPLOT_H

#include <stdint.h>
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
/* Runs the script and removes it; errors name the figure and gnuplot's exit status.
 * What gnuplot prints (warnings) reaches stderr prefixed with the figure's name. */
dnl_status gp_run(gp_script *s, const char *what);

/* Writes an RGB image [h, w, 3] to a new temporary file (its name into path, which
 * holds 64 bytes) for `binary array=(w,h) format='%uchar%uchar%uchar' with rgbimage`;
 * the caller removes it. */
dnl_status gp_write_rgb(const uint8_t *rgb, int w, int h, char path[64]);

/* Colour of group i ("#rrggbb" and 0xRRGGBB). */
const char *gp_group_color(int i);
long gp_group_color_int(int i);

#endif
