/* Pascal Context after the usual 60-label preprocessing (0 = background):
 * "pascal_context" is the 59-class setting (background ignored, v -> v - 1),
 * "pascal_context60" keeps all 60 labels. Original layout only. */
#include "data/dataset_spec.h"

static const char *const names60[60] = {
    "background", "aeroplane", "bag",        "bed",       "bedclothes", "bench",
    "bicycle",    "bird",      "boat",       "book",      "bottle",     "building",
    "bus",        "cabinet",   "car",        "cat",       "ceiling",    "chair",
    "cloth",      "computer",  "cow",        "cup",       "curtain",    "dog",
    "door",       "fence",     "floor",      "flower",    "food",       "grass",
    "ground",     "horse",     "keyboard",   "light",     "motorbike",  "mountain",
    "mouse",      "person",    "plate",      "platform",  "pottedplant", "road",
    "rock",       "sheep",     "shelves",    "sidewalk",  "sign",       "sky",
    "snow",       "sofa",      "table",      "track",     "train",      "tree",
    "truck",      "tvmonitor", "wall",       "water",     "window",     "wood",
};

static void label_map59(uint8_t map[256], bool known[256]) {
  for (int v = 0; v < 256; v++) {
    map[v] = v >= 1 && v <= 59 ? (uint8_t)(v - 1) : DATASET_IGNORE;
    known[v] = v <= 59 || v == DATASET_IGNORE;
  }
}

static void label_map60(uint8_t map[256], bool known[256]) {
  for (int v = 0; v < 256; v++) {
    map[v] = v <= 59 ? (uint8_t)v : DATASET_IGNORE;
    known[v] = v <= 59 || v == DATASET_IGNORE;
  }
}

const dataset_spec dataset_spec_pascal_context = {
    .name = "pascal_context",
    .num_classes = 59,
    .class_names = names60 + 1,
    .label_map = label_map59,
};

const dataset_spec dataset_spec_pascal_context60 = {
    .name = "pascal_context60",
    .num_classes = 60,
    .class_names = names60,
    .label_map = label_map60,
};
