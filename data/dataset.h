/* Segmentation datasets behind one interface.
 *
 * Names: "cityscapes" (19 classes), "ade20k" (150), "pascal_context" (59,
 * background ignored), "pascal_context60" (60, background = class 0), "synth"
 * (4, see data/synth.h). Layouts, detected automatically (docs/data.md):
 *   original: ROOT/SPLIT/image/NAME.{png,jpg} + ROOT/SPLIT/label/NAME.png
 *   cityscapes native: ROOT/leftImg8bit/SPLIT/CITY/X_leftImg8bit.png
 *                      + ROOT/gtFine/SPLIT/CITY/X_gtFine_labelIds.png
 *   ade20k native: ROOT/images/{training,validation}/X.jpg
 *                  + ROOT/annotations/{training,validation}/X.png
 *                  (split "train" / "val" map to training / validation)
 * Pairs are sorted by name (Cityscapes: city, then name), so index i is the
 * same file on every machine. Labels are mapped from raw values to train ids
 * (255 = ignore); a raw value that the dataset does not define is mapped to
 * ignore, counted, and reported once on stderr. */
#ifndef DNL_DATA_DATASET_H
#define DNL_DATA_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "data/image.h"
#include "data/train_ids.h"
#include "lib/core/status.h"

/* What a dataset is, independent of any files. */
typedef struct dataset_info {
  const char *name;
  int num_classes;
  const char *const *class_names; /* [num_classes] */
  uint8_t label_map[256];         /* raw label value -> train id (255 = ignore) */
  bool label_known[256];          /* false: a value the dataset never uses */
} dataset_info;

dnl_status dataset_info_get(const char *name, dataset_info *out);
/* The names accepted by dataset_open, NULL-terminated. */
const char *const *dataset_names(void);

typedef struct dataset dataset;

/* Finds the image/label pairs of one split. Fails, naming the file, when an
 * image has no label or a label no image, or when no pairs are found. */
dnl_status dataset_open(const char *name, const char *root, const char *split, dataset **out);

/* The same, but every pairing problem is passed to on_problem (one line each)
 * and the complete pairs are kept; fails only when the split's directories
 * are missing. For checking a dataset (runner data stats). */
typedef void (*dataset_problem_fn)(void *user, const char *problem);
dnl_status dataset_open_lenient(const char *name, const char *root, const char *split,
                                dataset_problem_fn on_problem, void *user, dataset **out);

void dataset_close(dataset *ds);

const dataset_info *dataset_get_info(const dataset *ds);
int dataset_num_classes(const dataset *ds);
const char *dataset_class_name(const dataset *ds, int c);
/* "original" or "native" */
const char *dataset_layout(const dataset *ds);
int dataset_size(const dataset *ds);
const char *dataset_image_path(const dataset *ds, int i);
const char *dataset_label_path(const dataset *ds, int i);

/* Image size from its file header (no decoding). */
dnl_status dataset_image_size(const dataset *ds, int i, int *w, int *h);

/* Decodes pair i: img as RGB (c = 3), label as train ids (c = 1). Fails,
 * naming both files, when their sizes differ. Thread-safe; img and label are
 * reused buffers (see image_reserve). */
dnl_status dataset_read(dataset *ds, int i, image *img, image *label);

/* Pixels seen so far per raw label value that the dataset does not define. */
void dataset_unknown_labels(const dataset *ds, long counts[256]);

#endif
