/* Matching image files with label files by name. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_spec.h"

const char *const dataset_image_suffixes[] = {".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG",
                                              NULL};

void dataset_scan_free(dataset_scan *scan) {
  strlist_free(&scan->images);
  strlist_free(&scan->labels);
  strlist_free(&scan->problems);
}

typedef struct stem_entry {
  char *stem;
  const char *name;
} stem_entry;

typedef struct stem_list {
  stem_entry *e;
  int n;
} stem_list;

static void stem_list_free(stem_list *l) {
  for (int i = 0; i < l->n; i++)
    free(l->e[i].stem);
  free(l->e);
}

static int cmp_stem(const void *a, const void *b) {
  const stem_entry *x = a, *y = b;
  int c = strcmp(x->stem, y->stem);
  return c ? c : strcmp(x->name, y->name);
}

/* Stems of the names ending with one of suffixes, sorted by stem. */
static dnl_status make_stems(const strlist *names, const char *const *suffixes, stem_list *out) {
  out->e = calloc((size_t)names->n + 1, sizeof *out->e);
  out->n = 0;
  if (!out->e)
    return dnl_error(DNL_ERR_NOMEM, "out of memory pairing files");
  for (int i = 0; i < names->n; i++) {
    const char *name = names->items[i];
    for (const char *const *s = suffixes; *s; s++) {
      if (!str_ends_with(name, *s) || strlen(name) == strlen(*s))
        continue;
      char *stem = strndup(name, strlen(name) - strlen(*s));
      if (!stem)
        return dnl_error(DNL_ERR_NOMEM, "out of memory pairing files");
      out->e[out->n++] = (stem_entry){stem, name};
      break;
    }
  }
  if (out->n > 1)
    qsort(out->e, (size_t)out->n, sizeof *out->e, cmp_stem);
  return DNL_OK;
}

__attribute__((format(printf, 2, 3))) static dnl_status add_problem(dataset_scan *scan,
                                                                    const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  return strlist_push(&scan->problems, line);
}

static dnl_status list_if_present(const char *dir, strlist *out) {
  return fs_is_dir(dir) ? fs_list_files(dir, "", out) : DNL_OK;
}

static dnl_status add_pair(dataset_scan *scan, const char *image_dir, const char *image_name,
                           const char *label_dir, const char *label_name) {
  char *img = fs_join(image_dir, image_name), *lab = fs_join(label_dir, label_name);
  dnl_status st = img && lab ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "out of memory pairing files");
  if (st == DNL_OK)
    st = strlist_push(&scan->images, img);
  if (st == DNL_OK)
    st = strlist_push(&scan->labels, lab);
  free(img);
  free(lab);
  return st;
}

/* Walks both stem-sorted lists together, pairing equal stems. */
static dnl_status merge_stems(dataset_scan *scan, const char *image_dir, const stem_list *im,
                              const char *label_dir, const char *label_suffix,
                              const stem_list *lb) {
  char path[2048], want[2048];
  int i = 0, j = 0;
  dnl_status st = DNL_OK;
  while (st == DNL_OK && (i < im->n || j < lb->n)) {
    int c = i >= im->n ? 1 : j >= lb->n ? -1 : strcmp(im->e[i].stem, lb->e[j].stem);
    if (c < 0) {
      snprintf(path, sizeof path, "%s/%s", image_dir, im->e[i].name);
      snprintf(want, sizeof want, "%s/%s%s", label_dir, im->e[i].stem, label_suffix);
      st = add_problem(scan, "image %s has no label (expected %s)", path, want);
      i++;
    } else if (c > 0) {
      snprintf(path, sizeof path, "%s/%s", label_dir, lb->e[j].name);
      snprintf(want, sizeof want, "%s/%s", image_dir, lb->e[j].stem);
      st = add_problem(scan, "label %s has no image (expected %s with an image suffix)", path,
                       want);
      j++;
    } else if (i + 1 < im->n && !strcmp(im->e[i].stem, im->e[i + 1].stem)) {
      snprintf(path, sizeof path, "%s/%s", image_dir, im->e[i].name);
      st = add_problem(scan, "images %s and %s share the name of label %s", path,
                       im->e[i + 1].name, lb->e[j].name);
      i += 2;
      j++;
    } else {
      st = add_pair(scan, image_dir, im->e[i].name, label_dir, lb->e[j].name);
      i++;
      j++;
    }
  }
  return st;
}

dnl_status dataset_scan_pair_dirs(dataset_scan *scan, const char *image_dir,
                                  const char *const *image_suffixes, const char *label_dir,
                                  const char *label_suffix) {
  strlist images = {0}, labels = {0};
  stem_list im = {0}, lb = {0};
  const char *label_suffixes[] = {label_suffix, NULL};
  dnl_status st = list_if_present(image_dir, &images);
  if (st == DNL_OK)
    st = list_if_present(label_dir, &labels);
  if (st == DNL_OK)
    st = make_stems(&images, image_suffixes, &im);
  if (st == DNL_OK)
    st = make_stems(&labels, label_suffixes, &lb);
  if (st == DNL_OK)
    st = merge_stems(scan, image_dir, &im, label_dir, label_suffix, &lb);
  stem_list_free(&im);
  stem_list_free(&lb);
  strlist_free(&images);
  strlist_free(&labels);
  return st;
}
