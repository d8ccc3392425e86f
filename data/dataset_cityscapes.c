/* Cityscapes: 19 evaluated classes; the native layout pairs leftImg8bit/ with
 * gtFine/X_gtFine_labelIds.png city by city. */
#include <stdlib.h>
#include <string.h>

#include "data/dataset_spec.h"

static const char *const names[19] = {
    "road",  "sidewalk", "building", "wall",       "fence",   "pole", "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck", "bus", "train", "motorcycle", "bicycle",
};

/* label ids of the train ids 0..18 (the official labels table) */
static const int train_id_to_label_id[19] = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                             23, 24, 25, 26, 27, 28, 31, 32, 33};

/* Label ids 0..33 are defined (all but the 19 are ignored); 255 is ignore. */
static void label_map(uint8_t map[256], bool known[256]) {
  for (int v = 0; v < 256; v++) {
    map[v] = DATASET_IGNORE;
    known[v] = v <= 33 || v == DATASET_IGNORE;
  }
  for (int t = 0; t < 19; t++)
    map[train_id_to_label_id[t]] = (uint8_t)t;
}

static bool native_present(const char *root, const char *split) {
  char *dir = fs_join3(root, "leftImg8bit", split);
  bool present = dir && fs_is_dir(dir);
  free(dir);
  return present;
}

static dnl_status scan_cities(const char *image_split, const char *label_split,
                              dataset_scan *scan) {
  strlist cities = {0};
  dnl_status st = fs_list_dirs(image_split, &cities);
  /* cities present only under gtFine still need their labels reported */
  if (st == DNL_OK)
    st = fs_list_dirs(label_split, &cities);
  strlist_sort(&cities);
  static const char *const image_suffix[] = {"_leftImg8bit.png", NULL};
  for (int i = 0; st == DNL_OK && i < cities.n; i++) {
    if (i > 0 && !strcmp(cities.items[i], cities.items[i - 1]))
      continue;
    char *img = fs_join(image_split, cities.items[i]);
    char *lab = fs_join(label_split, cities.items[i]);
    st = img && lab ? dataset_scan_pair_dirs(scan, img, image_suffix, lab, "_gtFine_labelIds.png")
                    : dnl_error(DNL_ERR_NOMEM, "out of memory listing Cityscapes");
    free(img);
    free(lab);
  }
  strlist_free(&cities);
  return st;
}

static dnl_status native_scan(const char *root, const char *split, dataset_scan *scan) {
  char *image_split = fs_join3(root, "leftImg8bit", split);
  char *label_split = fs_join3(root, "gtFine", split);
  dnl_status st = DNL_OK;
  if (!image_split || !label_split)
    st = dnl_error(DNL_ERR_NOMEM, "out of memory listing Cityscapes");
  else if (!fs_is_dir(label_split))
    st = dnl_error(DNL_ERR_IO, "cityscapes: missing directory %s (the gtFine labels)",
                   label_split);
  else
    st = scan_cities(image_split, label_split, scan);
  free(image_split);
  free(label_split);
  return st;
}

const dataset_spec dataset_spec_cityscapes = {
    .name = "cityscapes",
    .num_classes = 19,
    .class_names = names,
    .label_map = label_map,
    .native_present = native_present,
    .native_scan = native_scan,
    .native_layout = "ROOT/leftImg8bit/SPLIT/CITY/*_leftImg8bit.png + "
                     "ROOT/gtFine/SPLIT/CITY/*_gtFine_labelIds.png",
};
