/* The synthetic dataset written by data/synth.c (original layout only):
 * class 0 background, 1..3 = the far cue's colour red / green / blue, 4..6 =
 * the colour of the matched disc's marker (cue modes match and both). */
#include "data/dataset_spec.h"
#include "data/synth.h"

static const char *const names[SYNTH_CLASSES] = {"background", "red",         "green",     "blue",
                                                 "match-red",  "match-green", "match-blue"};

static void label_map(uint8_t map[256], bool known[256]) {
  for (int v = 0; v < 256; v++) {
    map[v] = v < SYNTH_CLASSES ? (uint8_t)v : DATASET_IGNORE;
    known[v] = v < SYNTH_CLASSES || v == DATASET_IGNORE;
  }
}

const dataset_spec dataset_spec_synth = {
    .name = "synth",
    .num_classes = SYNTH_CLASSES,
    .class_names = names,
    .label_map = label_map,
};
