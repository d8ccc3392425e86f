/* runner data synth --out DIR [--seed S] [--cue global|region] [--train N] [--val N] [--size PX]
 * runner data stats --dataset NAME --root DIR [--split S] */
#include "runner/cmd_data.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/synth.h"

static void data_usage(FILE *f) {
  fprintf(f,
          "usage: runner data synth --out DIR [--seed S] [--cue global|region]\n"
          "                         [--train N] [--val N] [--size PX]\n"
          "         write the synthetic dataset (docs/synth.md) in the original layout\n"
          "       runner data stats --dataset NAME --root DIR [--split S]\n"
          "         check a dataset (every image has a readable label of its size) and\n"
          "         print the class histogram; exits 1 listing the files on any problem\n");
}

/* "--key value" pairs; returns false (with a message) on a malformed list. */
typedef struct opts {
  const char *keys[8];
  const char *values[8];
  int n;
} opts;

static bool parse_opts(int argc, char **argv, const char *const *allowed, opts *o) {
  o->n = 0;
  for (int i = 0; i < argc; i += 2) {
    bool known = false;
    for (const char *const *a = allowed; *a && !known; a++)
      known = !strcmp(argv[i], *a);
    if (!known) {
      fprintf(stderr, "runner data: unknown option '%s'\n", argv[i]);
      return false;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "runner data: option %s needs a value\n", argv[i]);
      return false;
    }
    if (o->n == 8) {
      fprintf(stderr, "runner data: too many options\n");
      return false;
    }
    o->keys[o->n] = argv[i];
    o->values[o->n++] = argv[i + 1];
  }
  return true;
}

static const char *opt(const opts *o, const char *key, const char *fallback) {
  for (int i = o->n - 1; i >= 0; i--)
    if (!strcmp(o->keys[i], key))
      return o->values[i];
  return fallback;
}

static bool parse_long(const char *key, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "runner data: %s '%s' is not an integer in %ld..%ld\n", key, s, lo, hi);
    return false;
  }
  *out = v;
  return true;
}

static int data_synth(int argc, char **argv) {
  static const char *const allowed[] = {"--out",   "--seed", "--cue", "--train",
                                        "--val",   "--size", NULL};
  opts o;
  if (!parse_opts(argc, argv, allowed, &o))
    return 2;
  const char *out = opt(&o, "--out", NULL);
  if (!out) {
    fprintf(stderr, "runner data synth: --out DIR is required\n");
    return 2;
  }
  synth_config c = synth_defaults();
  long seed = 0, n_train = c.n_train, n_val = c.n_val, size = c.size;
  const char *cue = opt(&o, "--cue", "global");
  if (!parse_long("--seed", opt(&o, "--seed", "0"), 0, LONG_MAX, &seed) ||
      !parse_long("--train", opt(&o, "--train", "400"), 0, 10000000, &n_train) ||
      !parse_long("--val", opt(&o, "--val", "100"), 0, 10000000, &n_val) ||
      !parse_long("--size", opt(&o, "--size", "128"), 32, 4096, &size))
    return 2;
  if (synth_cue_parse(cue, &c.cue) != DNL_OK) {
    fprintf(stderr, "runner data synth: --cue: %s\n", dnl_last_error());
    return 2;
  }
  c.seed = (uint64_t)seed;
  c.n_train = (int)n_train;
  c.n_val = (int)n_val;
  c.size = (int)size;
  dnl_status st = synth_generate(&c, out);
  if (st != DNL_OK) {
    fprintf(stderr, "runner data synth: %s\n", dnl_last_error());
    return 1;
  }
  printf("wrote %d train + %d val images of %d px (cue %s, seed %ld) to %s\n", c.n_train,
         c.n_val, c.size, cue, seed, out);
  return 0;
}

/* ---- stats ---- */

typedef struct problems {
  char **lines;
  int n, cap;
} problems;

static void problems_add(problems *p, const char *line) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 16;
    char **lines = realloc(p->lines, (size_t)cap * sizeof *lines);
    if (!lines)
      return; /* out of memory: the count below still reports the failure */
    p->lines = lines;
    p->cap = cap;
  }
  p->lines[p->n++] = strdup(line);
}

static void on_problem(void *user, const char *line) { problems_add(user, line); }

/* Lists the problems on stderr and frees them. */
static void print_problems(problems *p) {
  for (int i = 0; i < p->n; i++) {
    fprintf(stderr, "problem: %s\n", p->lines[i] ? p->lines[i] : "(out of memory)");
    free(p->lines[i]);
  }
  free(p->lines);
  *p = (problems){0};
}

/* Checks pair i: both files decode, sizes match, label values are defined.
 * Adds raw label value counts to raw; returns a malloc'd problem line or NULL. */
static char *check_pair(const dataset *ds, int i, image *img, image *label, long raw[256]) {
  char buf[2048];
  const char *ip = dataset_image_path(ds, i), *lp = dataset_label_path(ds, i);
  if (image_read_rgb(ip, img) != DNL_OK || image_read_label(lp, label) != DNL_OK)
    return strdup(dnl_last_error());
  if (img->w != label->w || img->h != label->h) {
    snprintf(buf, sizeof buf, "image %s is %dx%d but its label %s is %dx%d", ip, img->w, img->h,
             lp, label->w, label->h);
    return strdup(buf);
  }
  long counts[256] = {0};
  size_t n = (size_t)label->w * label->h;
  for (size_t k = 0; k < n; k++)
    counts[label->data[k]]++;
  const dataset_info *info = dataset_get_info(ds);
  int len = snprintf(buf, sizeof buf, "label %s has values that %s does not define:", lp,
                     info->name);
  bool unknown = false;
  for (int v = 0; v < 256; v++) {
    raw[v] += counts[v];
    if (counts[v] && !info->label_known[v] && len < (int)sizeof buf - 32) {
      len += snprintf(buf + len, sizeof buf - (size_t)len, " %d (%ld px)", v, counts[v]);
      unknown = true;
    }
  }
  return unknown ? strdup(buf) : NULL;
}

static void print_histogram(const dataset *ds, const long raw[256]) {
  const dataset_info *info = dataset_get_info(ds);
  long per_class[256] = {0}, total = 0;
  for (int v = 0; v < 256; v++) {
    per_class[info->label_map[v]] += raw[v];
    total += raw[v];
  }
  printf("  %3s  %-22s %14s %8s\n", "id", "class", "pixels", "share");
  for (int c = 0; c < info->num_classes; c++)
    printf("  %3d  %-22s %14ld %7.3f%%\n", c, info->class_names[c], per_class[c],
           total ? 100.0 * per_class[c] / total : 0.0);
  printf("ignored  %.3f%% of %ld pixels\n",
         total ? 100.0 * per_class[DATASET_IGNORE] / total : 0.0, total);
}

static int data_stats(int argc, char **argv) {
  static const char *const allowed[] = {"--dataset", "--root", "--split", NULL};
  opts o;
  if (!parse_opts(argc, argv, allowed, &o))
    return 2;
  const char *name = opt(&o, "--dataset", NULL), *root = opt(&o, "--root", NULL);
  const char *split = opt(&o, "--split", "train");
  if (!name || !root) {
    fprintf(stderr, "runner data stats: --dataset NAME and --root DIR are required\n");
    return 2;
  }
  problems probs = {0};
  dataset *ds;
  if (dataset_open_lenient(name, root, split, on_problem, &probs, &ds) != DNL_OK) {
    fprintf(stderr, "runner data stats: %s\n", dnl_last_error());
    print_problems(&probs);
    return 1;
  }
  int n = dataset_size(ds);
  char **file_problems = calloc((size_t)n, sizeof *file_problems);
  if (!file_problems) {
    fprintf(stderr, "runner data stats: out of memory\n");
    dataset_close(ds);
    print_problems(&probs);
    return 1;
  }
  long raw[256] = {0};
#pragma omp parallel
  {
    image img = {0}, label = {0};
    long mine[256] = {0};
#pragma omp for schedule(dynamic, 4)
    for (int i = 0; i < n; i++)
      file_problems[i] = check_pair(ds, i, &img, &label, mine);
#pragma omp critical
    for (int v = 0; v < 256; v++)
      raw[v] += mine[v];
    image_free(&img);
    image_free(&label);
  }
  for (int i = 0; i < n; i++)
    if (file_problems[i]) {
      problems_add(&probs, file_problems[i]);
      free(file_problems[i]);
    }
  free(file_problems);
  printf("dataset  %s (%s layout)\nroot     %s\nsplit    %s\nimages   %d\n", name,
         dataset_layout(ds), root, split, n);
  print_histogram(ds, raw);
  printf("problems %d\n", probs.n);
  int failed = probs.n > 0;
  print_problems(&probs);
  dataset_close(ds);
  return failed;
}

int cmd_data(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
    data_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "synth"))
    return data_synth(argc - 2, argv + 2);
  if (!strcmp(argv[1], "stats"))
    return data_stats(argc - 2, argv + 2);
  fprintf(stderr, "runner data: unknown subcommand '%s'\n", argv[1]);
  data_usage(stderr);
  return 2;
}
