/* The dataset interface: registry, layout detection, decoding + label mapping. */
#include "data/dataset.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_spec.h"

static const dataset_spec *const specs[] = {
    &dataset_spec_cityscapes,       &dataset_spec_ade20k, &dataset_spec_pascal_context,
    &dataset_spec_pascal_context60, &dataset_spec_synth,
};
#define NUM_SPECS (int)(sizeof specs / sizeof specs[0])

struct dataset {
  dataset_info info;
  const char *layout;
  strlist images, labels;
  atomic_long unknown[256];
};

/* The same order as specs (tests check that every name resolves). */
static const char *const spec_names[NUM_SPECS + 1] = {
    "cityscapes", "ade20k", "pascal_context", "pascal_context60", "synth", NULL};

const char *const *dataset_names(void) { return spec_names; }

static const dataset_spec *find_spec(const char *name) {
  for (int i = 0; i < NUM_SPECS; i++)
    if (!strcmp(specs[i]->name, name))
      return specs[i];
  return NULL;
}

static dnl_status unknown_name(const char *name) {
  char list[256] = "";
  for (int i = 0; i < NUM_SPECS; i++) {
    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
    strncat(list, specs[i]->name, sizeof list - strlen(list) - 1);
  }
  return dnl_error(DNL_ERR_ARG, "unknown dataset '%s' (known: %s)", name ? name : "(null)",
                   list);
}

dnl_status dataset_info_get(const char *name, dataset_info *out) {
  const dataset_spec *spec = name ? find_spec(name) : NULL;
  if (!spec)
    return unknown_name(name);
  memset(out, 0, sizeof *out);
  out->name = spec->name;
  out->num_classes = spec->num_classes;
  out->class_names = spec->class_names;
  spec->label_map(out->label_map, out->label_known);
  return DNL_OK;
}

/* Original layout when ROOT/SPLIT/image or ROOT/SPLIT/label exists, else the
 * dataset's native layout when present. */
static dnl_status scan_layout(const dataset_spec *spec, const char *root, const char *split,
                              dataset_scan *scan, const char **layout) {
  if (!fs_is_dir(root))
    return dnl_error(DNL_ERR_IO, "%s: dataset root %s is not a directory", spec->name, root);
  char *image_dir = fs_join3(root, split, "image");
  char *label_dir = fs_join3(root, split, "label");
  dnl_status st = image_dir && label_dir ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "out of memory");
  if (st == DNL_OK && (fs_is_dir(image_dir) || fs_is_dir(label_dir))) {
    *layout = "original";
    if (!fs_is_dir(image_dir) || !fs_is_dir(label_dir))
      st = dnl_error(DNL_ERR_IO, "%s: missing directory %s", spec->name,
                     fs_is_dir(image_dir) ? label_dir : image_dir);
    else
      st = dataset_scan_pair_dirs(scan, image_dir, dataset_image_suffixes, label_dir, ".png");
  } else if (st == DNL_OK && spec->native_present && spec->native_present(root, split)) {
    *layout = "native";
    st = spec->native_scan(root, split, scan);
  } else if (st == DNL_OK) {
    st = dnl_error(DNL_ERR_IO, "%s: no split '%s' under %s: expected %s/%s/{image,label}/%s%s",
                   spec->name, split, root, root, split,
                   spec->native_layout ? " or the native layout " : "",
                   spec->native_layout ? spec->native_layout : "");
  }
  free(image_dir);
  free(label_dir);
  return st;
}

static dnl_status open_common(const char *name, const char *root, const char *split,
                              dataset_problem_fn on_problem, void *user, dataset **out) {
  *out = NULL;
  if (!root || !split)
    return dnl_error(DNL_ERR_ARG, "dataset_open: root and split are required");
  dataset *ds = calloc(1, sizeof *ds);
  if (!ds)
    return dnl_error(DNL_ERR_NOMEM, "out of memory opening a dataset");
  dnl_status st = dataset_info_get(name, &ds->info);
  dataset_scan scan = {0};
  if (st == DNL_OK)
    st = scan_layout(find_spec(name), root, split, &scan, &ds->layout);
  if (st == DNL_OK && scan.problems.n > 0) {
    if (on_problem) {
      for (int i = 0; i < scan.problems.n; i++)
        on_problem(user, scan.problems.items[i]);
    } else {
      st = dnl_error(DNL_ERR_FORMAT, "%s: %s%s", name, scan.problems.items[0],
                     scan.problems.n > 1 ? " (and more: runner data stats lists them all)" : "");
    }
  }
  if (st == DNL_OK && scan.images.n == 0)
    st = dnl_error(DNL_ERR_IO, "%s: no image/label pairs found for split '%s' under %s", name,
                   split, root);
  if (st != DNL_OK) {
    dataset_scan_free(&scan);
    dataset_close(ds);
    return st;
  }
  ds->images = scan.images;
  ds->labels = scan.labels;
  strlist_free(&scan.problems);
  for (int v = 0; v < 256; v++)
    atomic_init(&ds->unknown[v], 0);
  *out = ds;
  return DNL_OK;
}

dnl_status dataset_open(const char *name, const char *root, const char *split, dataset **out) {
  return open_common(name, root, split, NULL, NULL, out);
}

dnl_status dataset_open_lenient(const char *name, const char *root, const char *split,
                                dataset_problem_fn on_problem, void *user, dataset **out) {
  if (!on_problem)
    return dnl_error(DNL_ERR_ARG, "dataset_open_lenient: on_problem is required");
  return open_common(name, root, split, on_problem, user, out);
}

void dataset_close(dataset *ds) {
  if (!ds)
    return;
  strlist_free(&ds->images);
  strlist_free(&ds->labels);
  free(ds);
}

const dataset_info *dataset_get_info(const dataset *ds) { return &ds->info; }
int dataset_num_classes(const dataset *ds) { return ds->info.num_classes; }

const char *dataset_class_name(const dataset *ds, int c) {
  return c >= 0 && c < ds->info.num_classes ? ds->info.class_names[c] : NULL;
}

const char *dataset_layout(const dataset *ds) { return ds->layout; }
int dataset_size(const dataset *ds) { return ds->images.n; }

const char *dataset_image_path(const dataset *ds, int i) {
  return i >= 0 && i < ds->images.n ? ds->images.items[i] : NULL;
}

const char *dataset_label_path(const dataset *ds, int i) {
  return i >= 0 && i < ds->labels.n ? ds->labels.items[i] : NULL;
}

static dnl_status check_index(const dataset *ds, int i) {
  if (i < 0 || i >= ds->images.n)
    return dnl_error(DNL_ERR_ARG, "%s: sample %d out of range (0..%d)", ds->info.name, i,
                     ds->images.n - 1);
  return DNL_OK;
}

dnl_status dataset_image_size(const dataset *ds, int i, int *w, int *h) {
  DNL_TRY(check_index(ds, i));
  return image_read_size(ds->images.items[i], w, h);
}

/* Maps raw values in place; unknown values become ignore and are counted. */
static void map_label(dataset *ds, image *label, const char *path) {
  long local[256] = {0};
  size_t n = (size_t)label->w * (size_t)label->h;
  uint8_t *p = label->data;
  const uint8_t *map = ds->info.label_map;
  for (size_t k = 0; k < n; k++) {
    if (!ds->info.label_known[p[k]])
      local[p[k]]++;
    p[k] = map[p[k]];
  }
  for (int v = 0; v < 256; v++) {
    if (!local[v])
      continue;
    if (atomic_fetch_add(&ds->unknown[v], local[v]) == 0)
      fprintf(stderr,
              "warning: %s: label value %d in %s is not a %s label; mapped to ignore (%d), "
              "further occurrences are only counted\n",
              ds->info.name, v, path, ds->info.name, DATASET_IGNORE);
  }
}

dnl_status dataset_read(dataset *ds, int i, image *img, image *label) {
  DNL_TRY(check_index(ds, i));
  const char *ip = ds->images.items[i], *lp = ds->labels.items[i];
  DNL_TRY(image_read_rgb(ip, img));
  DNL_TRY(image_read_label(lp, label));
  if (img->w != label->w || img->h != label->h)
    return dnl_error(DNL_ERR_SHAPE, "%s: image %s is %dx%d but its label %s is %dx%d",
                     ds->info.name, ip, img->w, img->h, lp, label->w, label->h);
  map_label(ds, label, lp);
  return DNL_OK;
}

void dataset_unknown_labels(const dataset *ds, long counts[256]) {
  for (int v = 0; v < 256; v++)
    counts[v] = atomic_load(&ds->unknown[v]);
}
