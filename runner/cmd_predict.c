/* runner predict CONFIG --checkpoint F [--out DIR] [--palette | --dataset-ids]
 * [--save-logits FILE.h5] IMAGES...
 *
 * Each image is decoded, normalised as the dataset's evaluation input, run
 * through infer_image with the config's eval mode (single, multiscale,
 * sliding, flips), and its argmax written as DIR/<stem>.png: train ids, raw
 * dataset ids, or train ids with a colour palette. --save-logits writes one
 * HDF5 file with a float32 dataset /logits/<stem> [K, H, W] per image (the
 * summed logits before the argmax), /classes (names) and root attributes
 * (checkpoint, dataset, eval_mode, config). It is built as FILE.h5.tmp and
 * renamed when complete, so a failure leaves no partial file. */
#include "runner/cmd_predict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/fsutil.h"
#include "data/label_ids.h"
#include "lib/store/h5attr.h"
#include "lib/store/h5dset.h"
#include "lib/store/h5file.h"
#include "runner/cmd_run.h"
#include "runner/evaluate.h"
#include "runner/weights_load.h"

#define MAX_SETS 64
#define STEM_MAX 256

typedef enum { LABELS_TRAIN_IDS, LABELS_DATASET_IDS, LABELS_PALETTE } label_kind;

typedef struct predict_args {
  const char *config, *checkpoint, *map, *out_dir, *logits_path;
  const char *sets[MAX_SETS + 1]; /* + the --device override, last so that it wins */
  int nsets;
  label_kind labels;
  bool quiet;
  char **images;
  int nimages;
} predict_args;

static const char usage_text[] =
    "usage: runner predict CONFIG --checkpoint FILE [--map MAP] [--out DIR]\n"
    "                      [--palette | --dataset-ids]\n"
    "                      [--save-logits FILE.h5] [--quiet] [--device cpu|cuda]\n"
    "                      [--set key=value]... IMAGES...\n"
    "  writes DIR/<stem>.png (default DIR: predictions) with the predicted train ids of\n"
    "  each PNG/JPEG image, using the config's eval mode (eval.mode, eval.scales, ...)\n"
    "  --checkpoint   a training checkpoint, a file of runner import, or a PyTorch /\n"
    "                 safetensors file with --map (the authors' models: --map published)\n"
    "  --dataset-ids  the dataset's raw label values instead (Cityscapes label ids, ADE20K +1)\n"
    "  --palette      train ids as a colour palette PNG\n"
    "  --save-logits  also the summed logits [K, H, W] of every image in one HDF5 file,\n"
    "                 dataset /logits/<stem> per image\n"
    "  --device       run on this device instead of the config's device (no CPU fallback)\n";

static int parse_args(int argc, char **argv, predict_args *a) {
  memset(a, 0, sizeof *a);
  a->out_dir = "predictions";
  a->images = calloc((size_t)argc, sizeof *a->images);
  if (!a->images) {
    fprintf(stderr, "runner predict: out of memory\n");
    return 2;
  }
  bool palette = false, dataset_ids = false;
  const char *device = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (!strcmp(arg, "--device") && has_value) {
      if (!(device = cmd_device_override("predict", argv[++i])))
        return 2;
    } else if (!strcmp(arg, "--set") && has_value) {
      if (a->nsets == MAX_SETS) {
        fprintf(stderr, "runner predict: at most %d --set options\n", MAX_SETS);
        return 2;
      }
      a->sets[a->nsets++] = argv[++i];
    } else if (!strcmp(arg, "--checkpoint") && has_value) {
      a->checkpoint = argv[++i];
    } else if (!strcmp(arg, "--map") && has_value) {
      a->map = argv[++i];
    } else if (!strcmp(arg, "--out") && has_value) {
      a->out_dir = argv[++i];
    } else if (!strcmp(arg, "--save-logits") && has_value) {
      a->logits_path = argv[++i];
    } else if (!strcmp(arg, "--palette")) {
      palette = true;
    } else if (!strcmp(arg, "--dataset-ids")) {
      dataset_ids = true;
    } else if (!strcmp(arg, "--quiet")) {
      a->quiet = true;
    } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("%s", usage_text);
      return 1;
    } else if (arg[0] == '-') {
      fprintf(stderr, "runner predict: unexpected argument '%s'\n%s", arg, usage_text);
      return 2;
    } else if (!a->config) {
      a->config = arg;
    } else {
      a->images[a->nimages++] = argv[i];
    }
  }
  const char *missing = !a->config       ? "the config file"
                        : !a->checkpoint ? "--checkpoint FILE"
                        : !a->nimages    ? "the images"
                                         : NULL;
  if (missing) {
    fprintf(stderr, "runner predict: missing %s\n%s", missing, usage_text);
    return 2;
  }
  if (palette && dataset_ids) {
    fprintf(stderr, "runner predict: --palette and --dataset-ids exclude each other\n");
    return 2;
  }
  a->labels = palette ? LABELS_PALETTE : dataset_ids ? LABELS_DATASET_IDS : LABELS_TRAIN_IDS;
  if (device)
    a->sets[a->nsets++] = device;
  return 0;
}

/* File name without directory and extension. */
static dnl_status image_stem(const char *path, char stem[STEM_MAX]) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
  if (len == 0 || len >= STEM_MAX)
    return dnl_error(DNL_ERR_ARG, "%s: cannot name an output after this file", path);
  memcpy(stem, base, len);
  stem[len] = '\0';
  return DNL_OK;
}

/* Before any work: every image's header is readable and no two share a stem
 * (their outputs would overwrite each other). */
static dnl_status check_images(const predict_args *a) {
  char si[STEM_MAX], sj[STEM_MAX];
  for (int i = 0; i < a->nimages; i++) {
    int w, h;
    DNL_TRY(image_read_size(a->images[i], &w, &h));
    DNL_TRY(image_stem(a->images[i], si));
    for (int j = 0; j < i; j++) {
      DNL_TRY(image_stem(a->images[j], sj));
      if (!strcmp(si, sj))
        return dnl_error(DNL_ERR_ARG, "%s and %s would both be written as %s.png", a->images[j],
                         a->images[i], si);
    }
  }
  return DNL_OK;
}

/* What stays the same from image to image. */
typedef struct predictor {
  session *s;
  const predict_args *a;
  infer_opts opts;
  augment_config aug;
  dataset_info info;
  uint8_t raw_ids[256];
  uint8_t palette[256 * 3];
  hid_t logits_file;  /* < 0 without --save-logits */
  hid_t logits_group; /* its /logits */
  image img, out;
  float *x, *logits;
  int32_t *pred;
  size_t cap; /* pixels the buffers hold */
  infer_buffers bufs;
} predictor;

static dnl_status reserve(predictor *p, size_t pixels) {
  if (pixels <= p->cap)
    return DNL_OK;
  const size_t k = (size_t)p->info.num_classes;
  free(p->x), free(p->logits), free(p->pred);
  p->x = malloc(3 * pixels * sizeof(float));
  p->logits = malloc(k * pixels * sizeof(float));
  p->pred = malloc(pixels * sizeof(int32_t));
  p->cap = p->x && p->logits && p->pred ? pixels : 0;
  if (!p->cap)
    return dnl_error(DNL_ERR_NOMEM, "predict: buffers of %zu pixels", pixels);
  return DNL_OK;
}

static dnl_status predict_one(predictor *p, const char *path) {
  char stem[STEM_MAX];
  DNL_TRY(image_stem(path, stem));
  DNL_TRY(image_read_rgb(path, &p->img));
  const int h = p->img.h, w = p->img.w, k = p->info.num_classes;
  const size_t pixels = (size_t)h * w;
  DNL_TRY(reserve(p, pixels));
  augment_normalize(&p->aug, &p->img, p->x);
  dnl_status st = infer_image(&p->s->net, &p->s->ctx, p->x, h, w, &p->opts, &p->bufs,
                                  p->logits);
  if (st != DNL_OK)
    return dnl_error_context(st, "%s", path);
  logits_argmax(p->logits, k, pixels, p->pred);
  DNL_TRY(image_reserve(&p->out, w, h, 1));
  const bool raw = p->a->labels == LABELS_DATASET_IDS;
  for (size_t i = 0; i < pixels; i++)
    p->out.data[i] = raw ? p->raw_ids[p->pred[i]] : (uint8_t)p->pred[i];
  char name[STEM_MAX + 8];
  snprintf(name, sizeof name, "%s.png", stem);
  char *png = fs_join(p->a->out_dir, name);
  snprintf(name, sizeof name, "%s.png.tmp", stem);
  char *tmp = fs_join(p->a->out_dir, name);
  if (!png || !tmp) {
    free(png), free(tmp);
    return dnl_error(DNL_ERR_NOMEM, "predict: output path");
  }
  /* written aside and renamed, so that a kill never leaves a partial PNG */
  const bool pal = p->a->labels == LABELS_PALETTE;
  st = image_write_png(tmp, &p->out, pal ? p->palette : NULL, pal ? 256 : 0);
  if (st == DNL_OK && rename(tmp, png) != 0) {
    st = dnl_error(DNL_ERR_IO, "%s: cannot rename %s: %s", png, tmp, strerror(errno));
    unlink(tmp);
  }
  free(tmp);
  if (st == DNL_OK && p->logits_group >= 0) {
    size_t dims[3] = {(size_t)k, (size_t)h, (size_t)w};
    st = h5dset_write(p->logits_group, stem, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, p->logits);
    if (st != DNL_OK)
      dnl_error_context(st, "%s: logits of %s", p->a->logits_path, path);
  }
  if (st == DNL_OK && !p->a->quiet)
    fprintf(stderr, "%s -> %s (%dx%d)\n", path, png, w, h);
  free(png);
  return st;
}

static dnl_status open_logits(predictor *p, const char *tmp) {
  DNL_TRY(h5file_create(tmp, &p->logits_file));
  const session *s = p->s;
  DNL_TRY(h5attr_write_str(p->logits_file, "format", "dnl-logits"));
  DNL_TRY(h5attr_write_str(p->logits_file, "checkpoint", p->a->checkpoint));
  DNL_TRY(h5attr_write_str(p->logits_file, "dataset", s->cfg.dataset));
  DNL_TRY(h5attr_write_str(p->logits_file, "eval_mode", s->cfg.eval_mode));
  DNL_TRY(h5attr_write_str(p->logits_file, "config", s->config_text));
  DNL_TRY(h5dset_write_strings(p->logits_file, "classes", (size_t)p->info.num_classes,
                               p->info.class_names));
  p->logits_group = H5Gcreate2(p->logits_file, "logits", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (p->logits_group < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot create the group /logits", tmp);
  return DNL_OK;
}

/* Everything after the session is open; the logits file is complete or absent. */
static dnl_status predict_all(session *s, const predict_args *a) {
  predictor p = {.s = s, .a = a, .logits_file = -1, .logits_group = -1};
  DNL_TRY(check_images(a));
  DNL_TRY(dataset_info_get(s->cfg.dataset, &p.info));
  DNL_TRY(session_build_net_for_eval(s, p.info.num_classes));
  weights_source ws = {.path = a->checkpoint, .config = a->config, .block = &s->cfg.net.block};
  if (a->map)
    DNL_TRY(weights_source_set_map(&ws, a->map));
  DNL_TRY(weights_load(&s->ps, &ws));
  if (ws.note[0] && !a->quiet)
    fprintf(stderr, "note: %s\n", ws.note);
  DNL_TRY(eval_options(&s->cfg, &p.opts));
  DNL_TRY(augment_defaults(s->cfg.dataset, &p.aug));
  DNL_TRY(label_ids_raw_of_train(&p.info, p.raw_ids));
  label_ids_palette(&p.info, p.palette);
  DNL_TRY(fs_mkdirs(a->out_dir));
  char tmp[1200] = "";
  dnl_status st = DNL_OK;
  if (a->logits_path) {
    if (snprintf(tmp, sizeof tmp, "%s.tmp", a->logits_path) >= (int)sizeof tmp)
      return dnl_error(DNL_ERR_ARG, "--save-logits: path too long");
    st = open_logits(&p, tmp);
  }
  for (int i = 0; i < a->nimages && st == DNL_OK; i++)
    st = predict_one(&p, a->images[i]);
  if (p.logits_group >= 0)
    H5Gclose(p.logits_group);
  if (p.logits_file >= 0) {
    dnl_status cl = h5file_close(p.logits_file, tmp);
    if (st == DNL_OK)
      st = cl;
    if (st == DNL_OK && rename(tmp, a->logits_path) != 0)
      st = dnl_error(DNL_ERR_IO, "%s: cannot rename %s: %s", a->logits_path, tmp, strerror(errno));
  }
  if (st != DNL_OK && tmp[0])
    unlink(tmp);
  image_free(&p.img);
  image_free(&p.out);
  free(p.x), free(p.logits), free(p.pred);
  infer_buffers_free(&p.bufs);
  return st;
}

int cmd_predict(int argc, char **argv) {
  predict_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc) {
    free(a.images);
    return rc == 1 ? 0 : rc;
  }
  session s;
  dnl_status st = session_open(&s, a.config, a.sets, a.nsets);
  if (st == DNL_OK)
    st = predict_all(&s, &a);
  if (st != DNL_OK)
    fprintf(stderr, "runner predict: %s\n", dnl_last_error());
  else if (!a.quiet)
    fprintf(stderr, "wrote %d label images to %s%s%s\n", a.nimages, a.out_dir,
            a.logits_path ? " and logits to " : "", a.logits_path ? a.logits_path : "");
  session_close(&s);
  free(a.images);
  return st == DNL_OK ? 0 : 1;
}
