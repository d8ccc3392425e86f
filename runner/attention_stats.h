/* Numbers behind the paper's qualitative claim about the two attention terms
 * (stored per run under /attention_stats, see docs/results.md):
 *  - unary: share of the unary map's mass on ground-truth region boundaries,
 *    beside the boundary pixels' share of the map;
 *  - pairwise: share of a query's attention mass inside the query's own region
 *    (the 4-connected component of its class), beside that region's share.
 * Labels are given at feature resolution (h x w); 255 = ignore. */
#ifndef DNL_ATTENTION_STATS_H
#define DNL_ATTENTION_STATS_H

#include <stdint.h>

#include "lib/core/status.h"

/* Nearest-neighbour downsampling of a label map (H x W) to h x w. */
void labels_downsample(const uint8_t *label, int H, int W, uint8_t *out, int h, int w);

/* A pixel is on a boundary when a 4-neighbour has another (non-ignore) label.
 * *mass = sum of map over boundary pixels / sum of map; *share = boundary
 * pixels / valid pixels. */
void unary_boundary_mass(const float *map, const uint8_t *label, int h, int w, double *mass,
                         double *share);

/* Cue = the ignore (255) pixels, the far stripe of the synthetic data: *mass =
 * sum of map over them / sum of map; *share = their share of the map. */
void unary_cue_mass(const float *map, const uint8_t *label, int h, int w, double *mass,
                    double *share);

/* Region = 4-connected pixels with the query pixel's label. */
dnl_status pairwise_region_mass(const float *map, const uint8_t *label, int h, int w,
                                int query, double *mass, double *share);

#endif
