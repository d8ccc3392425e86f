/* The synthetic dataset written by data/synth.c (original layout only):
 * class 0 background, 1..3 = the cue colour red / green / blue. */
#include "data/dataset_spec.h"

static const char *const names[4] = {"background", "red", "green", "blue"};

static void label_map(uint8_t map[256], bool known[256]) {
  for (int v = 0; v < 256; v++) {
    map[v] = v <= 3 ? (uint8_t)v : DATASET_IGNORE;
    known[v] = v <= 3 || v == DATASET_IGNORE;
  }
}

const dataset_spec dataset_spec_synth = {
    .name = "synth",
    .num_classes = 4,
    .class_names = names,
    .label_map = label_map,
};
