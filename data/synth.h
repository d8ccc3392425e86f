/* The synthetic dataset "synth": small images in which the class of an object
 * can only be read from a cue far away in the image, so that long-range context
 * matters (design and reasons: docs/synth.md).
 *
 * Classes: 0 background, 1 / 2 / 3 = the far cue is red / green / blue (the
 * cue's own pixels are ignore, 255), 4 / 5 / 6 = the matched marker is red /
 * green / blue. Four cue modes:
 *  - SYNTH_CUE_GLOBAL ("far cue stripe", SYNTH.md): grey noisy background,
 *    grey ellipses, a stripe of pure R, G or B along one random side; every
 *    ellipse takes the stripe's class and lies at least size/3 px from it.
 *  - SYNTH_CUE_REGION: the image is cut into a few large Voronoi regions of
 *    different grey levels with the same noise; each region's class is set by
 *    a small pure-colour square marker inside it. No background pixels.
 *  - SYNTH_CUE_MATCH ("match by appearance"): a few identities, each a tint
 *    shared by 2 discs placed far apart; one disc of each identity carries a
 *    pure-colour marker that gives the class (4..6) of all its discs. A disc
 *    without a marker is classified only by attending to the disc that looks
 *    like it, beyond a convolution's reach.
 *  - SYNTH_CUE_BOTH: the global stripe with its ellipses and the matched discs
 *    in one image, so each term of the block has something to learn.
 * Sample i of split s is drawn from rng_seed3(seed, s, i): the same seed gives
 * the same files. */
#ifndef DNL_DATA_SYNTH_H
#define DNL_DATA_SYNTH_H

#include <stdint.h>

#include "data/image.h"
#include "lib/core/status.h"

typedef enum { SYNTH_CUE_GLOBAL, SYNTH_CUE_REGION, SYNTH_CUE_MATCH, SYNTH_CUE_BOTH } synth_cue;

#define SYNTH_CLASSES 7      /* background, 3 far-cue classes, 3 matched classes */
#define SYNTH_MATCH_CLASS0 4 /* class of a disc whose marker is red */

typedef enum { SYNTH_TRAIN = 0, SYNTH_VAL = 1 } synth_split;

typedef struct synth_config {
  uint64_t seed;
  synth_cue cue;
  int n_train, n_val; /* 400, 100 */
  int size;           /* image side in px: 128 */
  double noise_sigma; /* Gaussian noise on grey levels in 0..1, same on all channels: 0.08 */
  /* global cue; lengths in px at size 128, scaled with size */
  int min_objects, max_objects; /* 4, 7 */
  double min_axis, max_axis;    /* ellipse semi-axes: 9, 17 */
  double stripe;                /* stripe width: 16 */
  double distance;              /* least distance object - stripe: 42 (a third) */
  /* region cue */
  int min_regions, max_regions; /* 3, 5 (at most 8; fewer when they do not fit) */
  double marker;                /* marker square side: 8 */
  /* match cue (also in both) */
  int min_identities, max_identities; /* 2, 3 */
  double min_radius, max_radius;      /* disc radius: 7, 10 */
  double match_distance;              /* least centre distance of two discs of an identity: 60 */
  double match_marker;                /* marker square side: 6 */
} synth_config;

synth_config synth_defaults(void);
/* "global", "region", "match", "both"; DNL_ERR_ARG naming the allowed ones. */
dnl_status synth_cue_parse(const char *name, synth_cue *out);
const char *synth_cue_name(synth_cue cue);
/* Rejects settings the generator cannot honour, naming the field. */
dnl_status synth_check(const synth_config *c);

/* Sample `index` of a split: img RGB and label (raw class values), size x size. */
dnl_status synth_render(const synth_config *c, synth_split split, int index, image *img,
                        image *label);

/* Writes OUT/{train,val}/{image,label}/NNNNNN.png (labels as palette PNGs) and
 * OUT/synth.txt with the settings. Refuses a directory that already holds images. */
dnl_status synth_generate(const synth_config *c, const char *out_dir);

/* The 256-colour palette of the label PNGs. */
const uint8_t *synth_palette(void);

#endif
