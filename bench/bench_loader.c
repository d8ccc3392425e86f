/* Loader throughput on Cityscapes-size inputs: IMAGES generated 2048x1024 PNG
 * pairs (a smooth scene with noise, so that they compress like photographs,
 * and labels of Cityscapes label ids), crop 769, the full Cityscapes
 * augmentation, batch 2, with 1 and 2 worker threads. Each run: two warm-up
 * batches, then BATCHES timed batches; images/s = images delivered / seconds.
 * A breakdown of one worker's time (PNG decode of image and label, augment)
 * comes first. Target: at least 10 images/s with 2 workers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/fsutil.h"
#include "data/loader.h"

#define IMAGES 6
#define WIDTH 2048
#define HEIGHT 1024
#define CROP 769
#define BATCH 2
#define BATCHES 12
#define TARGET 10.0

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Sky, buildings, road bands with soft edges and sensor-like noise. */
static void make_pair(int k, image *img, image *lab) {
  uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1);
  static const uint8_t ids[] = {23, 11, 21, 7, 8, 26, 24, 17, 20, 0, 1};
  for (int y = 0; y < HEIGHT; y++)
    for (int c = 0; c < WIDTH; c++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      int noise = (int)(x % 9) - 4;
      int band = (y * 5 / HEIGHT + c / 300 + k) % 11;
      double shade = 60 + 120 * (0.5 + 0.5 * sin(c * 0.004 + y * 0.003 + k));
      size_t i = (size_t)y * WIDTH + c;
      for (int ch = 0; ch < 3; ch++) {
        int v = (int)(shade + 15 * ch + 8 * band) + noise;
        img->data[3 * i + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
      lab->data[i] = ids[band];
    }
}

static dnl_status write_dataset(const char *root) {
  char *image_dir = fs_join3(root, "train", "image"), *label_dir = fs_join3(root, "train", "label");
  image img = {0}, lab = {0};
  dnl_status st = image_dir && label_dir ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "out of memory");
  if (st == DNL_OK)
    st = fs_mkdirs(image_dir);
  if (st == DNL_OK)
    st = fs_mkdirs(label_dir);
  if (st == DNL_OK)
    st = image_reserve(&img, WIDTH, HEIGHT, 3);
  if (st == DNL_OK)
    st = image_reserve(&lab, WIDTH, HEIGHT, 1);
  for (int k = 0; st == DNL_OK && k < IMAGES; k++) {
    char name[64], ip[1024], lp[1024];
    snprintf(name, sizeof name, "bench_%02d.png", k);
    snprintf(ip, sizeof ip, "%s/%s", image_dir, name);
    snprintf(lp, sizeof lp, "%s/%s", label_dir, name);
    make_pair(k, &img, &lab);
    st = image_write_png(ip, &img, NULL, 0);
    if (st == DNL_OK)
      st = image_write_png(lp, &lab, NULL, 0);
  }
  image_free(&img);
  image_free(&lab);
  free(image_dir);
  free(label_dir);
  return st;
}

/* One thread's time per step for one sample, averaged over the images. */
static dnl_status breakdown(dataset *ds, const augment_config *aug) {
  image img = {0}, lab = {0};
  augment_scratch scratch = {0};
  float *out = malloc(sizeof(float) * 3 * CROP * CROP);
  int32_t *lout = malloc(sizeof(int32_t) * CROP * CROP);
  double t_img = 0, t_lab = 0, t_aug = 0;
  dnl_status st = out && lout ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "out of memory");
  for (int i = 0; st == DNL_OK && i < IMAGES; i++) {
    double t0 = now();
    st = image_read_rgb(dataset_image_path(ds, i), &img);
    double t1 = now();
    if (st == DNL_OK)
      st = image_read_label(dataset_label_path(ds, i), &lab);
    double t2 = now();
    rng r;
    rng_seed3(&r, 1, 0, (uint64_t)i);
    if (st == DNL_OK)
      st = augment_train(aug, &r, &img, &lab, out, lout, &scratch);
    double t3 = now();
    t_img += t1 - t0;
    t_lab += t2 - t1;
    t_aug += t3 - t2;
  }
  if (st == DNL_OK)
    printf("one thread per sample: image PNG decode %.1f ms, label PNG decode %.1f ms, "
           "augment %.1f ms\n",
           1e3 * t_img / IMAGES, 1e3 * t_lab / IMAGES, 1e3 * t_aug / IMAGES);
  free(out);
  free(lout);
  image_free(&img);
  image_free(&lab);
  augment_scratch_free(&scratch);
  return st;
}

static dnl_status measure(dataset *ds, int workers, double *rate) {
  loader_config c;
  DNL_TRY(loader_config_init(&c, ds, LOADER_TRAIN));
  c.batch_size = BATCH;
  c.workers = workers;
  c.seed = 7;
  loader *l;
  DNL_TRY(loader_create(&c, &l));
  const loader_batch *b;
  dnl_status st = DNL_OK;
  for (int i = 0; st == DNL_OK && i < 2; i++)
    st = loader_next(l, &b);
  double t0 = now();
  for (int i = 0; st == DNL_OK && i < BATCHES; i++)
    st = loader_next(l, &b);
  *rate = BATCH * BATCHES / (now() - t0);
  loader_destroy(l);
  return st;
}

int main(void) {
  char root[] = "/tmp/dnl_bench_loader_XXXXXX";
  if (!mkdtemp(root)) {
    perror("bench_loader: mkdtemp");
    return 1;
  }
  printf("bench_loader: %d generated %dx%d PNG pairs in %s, crop %d, batch %d, "
         "Cityscapes augmentation\n", IMAGES, WIDTH, HEIGHT, root, CROP, BATCH);
  double t0 = now();
  dnl_status st = write_dataset(root);
  dataset *ds = NULL;
  if (st == DNL_OK) {
    printf("wrote them in %.1f s\n", now() - t0);
    st = dataset_open("cityscapes", root, "train", &ds);
  }
  augment_config aug;
  if (st == DNL_OK)
    st = augment_defaults("cityscapes", &aug);
  if (st == DNL_OK)
    st = breakdown(ds, &aug);
  double rate[3] = {0};
  for (int w = 1; st == DNL_OK && w <= 2; w++) {
    st = measure(ds, w, &rate[w]);
    if (st == DNL_OK)
      printf("workers %d: %.1f images/s\n", w, rate[w]);
  }
  dataset_close(ds);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "bench_loader: could not remove %s\n", root);
  if (st != DNL_OK) {
    fprintf(stderr, "bench_loader: %s\n", dnl_last_error());
    return 1;
  }
  printf("target >= %.0f images/s with 2 workers: %s\n", TARGET,
         rate[2] >= TARGET ? "met" : "MISSED");
  return 0;
}
