/* What each dataset_<name>.c provides to data/dataset.c (internal to data/):
 * the table of specs lives in dataset.c, which includes this, never the other
 * way round. */
#ifndef DNL_DATA_DATASET_SPEC_H
#define DNL_DATA_DATASET_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "data/fsutil.h"
#include "data/train_ids.h"
#include "lib/core/status.h"

/* Pairs found so far: parallel path lists, plus one line per problem. */
typedef struct dataset_scan {
  strlist images, labels;
  strlist problems;
} dataset_scan;

void dataset_scan_free(dataset_scan *scan);

/* Pairs files of image_dir named STEM + one of image_suffixes (NULL-terminated)
 * with files of label_dir named STEM + label_suffix, appending the pairs in
 * stem order. A directory that does not exist counts as empty. */
dnl_status dataset_scan_pair_dirs(dataset_scan *scan, const char *image_dir,
                                  const char *const *image_suffixes, const char *label_dir,
                                  const char *label_suffix);

/* Image suffixes accepted by the original layout and by ADE20K. */
extern const char *const dataset_image_suffixes[];

typedef struct dataset_spec {
  const char *name;
  int num_classes;
  const char *const *class_names;
  /* fills the raw -> train id table and which raw values are defined */
  void (*label_map)(uint8_t map[256], bool known[256]);
  /* native layout, or NULLs when the dataset has only the original one */
  bool (*native_present)(const char *root, const char *split);
  dnl_status (*native_scan)(const char *root, const char *split, dataset_scan *scan);
  const char *native_layout; /* for error messages */
} dataset_spec;

extern const dataset_spec dataset_spec_cityscapes;
extern const dataset_spec dataset_spec_ade20k;
extern const dataset_spec dataset_spec_pascal_context;
extern const dataset_spec dataset_spec_pascal_context60;
extern const dataset_spec dataset_spec_synth;

#endif
