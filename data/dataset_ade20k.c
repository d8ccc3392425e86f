/* ADE20K (SceneParsing, 150 classes): raw 0 = "other" is ignored, v -> v - 1.
 * The native layout is the ADEChallengeData2016 archive's. */
#include <stdlib.h>
#include <string.h>

#include "data/dataset_spec.h"

static const char *const names[150] = {
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane",
    "grass", "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant",
    "curtain", "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror",
    "rug", "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub",
    "railing", "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter",
    "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs",
    "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",
    "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track",
    "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer",
    "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag",
    "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave",
    "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate",
    "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
};

static void label_map(uint8_t map[256], bool known[256]) {
  for (int v = 0; v < 256; v++) {
    map[v] = v >= 1 && v <= 150 ? (uint8_t)(v - 1) : DATASET_IGNORE;
    known[v] = v <= 150 || v == DATASET_IGNORE;
  }
}

/* The archive's split names; "train" and "val" are accepted as aliases. */
static const char *native_split(const char *split) {
  if (!strcmp(split, "train"))
    return "training";
  if (!strcmp(split, "val"))
    return "validation";
  return split;
}

static bool native_present(const char *root, const char *split) {
  char *dir = fs_join3(root, "images", native_split(split));
  bool present = dir && fs_is_dir(dir);
  free(dir);
  return present;
}

static dnl_status native_scan(const char *root, const char *split, dataset_scan *scan) {
  char *image_dir = fs_join3(root, "images", native_split(split));
  char *label_dir = fs_join3(root, "annotations", native_split(split));
  dnl_status st = DNL_OK;
  if (!image_dir || !label_dir)
    st = dnl_error(DNL_ERR_NOMEM, "out of memory listing ADE20K");
  else if (!fs_is_dir(label_dir))
    st = dnl_error(DNL_ERR_IO, "ade20k: missing directory %s (the annotations)", label_dir);
  else
    st = dataset_scan_pair_dirs(scan, image_dir, dataset_image_suffixes, label_dir, ".png");
  free(image_dir);
  free(label_dir);
  return st;
}

const dataset_spec dataset_spec_ade20k = {
    .name = "ade20k",
    .num_classes = 150,
    .class_names = names,
    .label_map = label_map,
    .native_present = native_present,
    .native_scan = native_scan,
    .native_layout = "ROOT/images/{training,validation}/*.jpg + "
                     "ROOT/annotations/{training,validation}/*.png",
};
