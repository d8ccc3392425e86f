/* The prefetching loader: determinism across thread counts, epochs, sharding,
 * resuming, evaluation passes, errors and shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "tests/test_data_util.h"
#include "tests/test_util.h"

#define NUM_SAMPLES 10

static char *dir;
static dataset *ds;

/* Ten synth-layout pairs of different sizes (so evaluation sizes vary). */
static void setup(void) {
  dir = tdata_tmpdir();
  const uint8_t vals[] = {0, 1, 2, 3};
  for (int i = 0; i < NUM_SAMPLES; i++) {
    char a[512], b[512], ri[64], rl[64];
    snprintf(ri, sizeof ri, "train/image/s%02d.png", i);
    snprintf(rl, sizeof rl, "train/label/s%02d.png", i);
    tdata_write_pair(tdata_path(a, sizeof a, dir, ri), tdata_path(b, sizeof b, dir, rl), 40 + i,
                     30 + 2 * i, vals, 4, (unsigned)i);
  }
  TRY_OK(dataset_open("synth", dir, "train", &ds));
}

static void teardown(void) {
  dataset_close(ds);
  tdata_rmrf(dir);
  free(dir);
}

TestSuite(data_loader, .init = setup, .fini = teardown, .timeout = 60);

static loader_config train_config(int batch, int workers) {
  loader_config c;
  TRY_OK(loader_config_init(&c, ds, LOADER_TRAIN));
  c.augment.crop_w = 32;
  c.augment.crop_h = 24;
  c.augment.random_resize = true; /* the full Cityscapes-style pipeline */
  c.augment.brightness = true;
  c.batch_size = batch;
  c.workers = workers;
  c.seed = 1234;
  return c;
}

/* A copy of a batch that outlives the loader. */
typedef struct kept {
  int n, h, w;
  float *img;
  int32_t *lab;
  int samples[16];
  loader_pos pos;
} kept;

static kept keep(const loader_batch *b) {
  size_t px = (size_t)b->n * b->h * b->w;
  kept k = {b->n, b->h, b->w, malloc(3 * px * sizeof(float)), malloc(px * sizeof(int32_t)),
            {0}, b->pos};
  memcpy(k.img, b->images, 3 * px * sizeof(float));
  memcpy(k.lab, b->labels, px * sizeof(int32_t));
  memcpy(k.samples, b->samples, (size_t)b->n * sizeof(int));
  return k;
}

static void kept_free(kept *k) {
  free(k->img);
  free(k->lab);
}

static void take(const loader_config *c, int count, kept *out) {
  loader *l;
  TRY_OK(loader_create(c, &l));
  for (int i = 0; i < count; i++) {
    const loader_batch *b;
    TRY_OK(loader_next(l, &b));
    cr_assert_not_null(b);
    out[i] = keep(b);
  }
  loader_destroy(l);
}

static bool same(const kept *a, const kept *b) {
  size_t px = (size_t)a->n * a->h * a->w;
  return a->n == b->n && a->h == b->h && a->w == b->w &&
         !memcmp(a->img, b->img, 3 * px * sizeof(float)) &&
         !memcmp(a->lab, b->lab, px * sizeof(int32_t)) &&
         !memcmp(a->samples, b->samples, (size_t)a->n * sizeof(int)) &&
         a->pos.epoch == b->pos.epoch && a->pos.batch == b->pos.batch;
}

Test(data_loader, one_and_two_workers_give_identical_batches) {
  enum { N = 10 }; /* 3 batches per epoch: crosses three epoch boundaries */
  kept one[N], two[N], three[N];
  loader_config c = train_config(3, 1);
  take(&c, N, one);
  c.workers = 2;
  take(&c, N, two);
  c.workers = 3;
  c.prefetch = 7;
  take(&c, N, three);
  for (int i = 0; i < N; i++) {
    cr_assert(same(&one[i], &two[i]), "batch %d differs between 1 and 2 workers", i);
    cr_assert(same(&one[i], &three[i]), "batch %d differs between 1 and 3 workers", i);
    cr_assert(one[i].n == 3 && one[i].h == 24 && one[i].w == 32);
    cr_assert(one[i].pos.epoch == i / 3 && one[i].pos.batch == i % 3);
  }
  for (int i = 0; i < N; i++) {
    kept_free(&one[i]);
    kept_free(&two[i]);
    kept_free(&three[i]);
  }
}

Test(data_loader, epochs_are_shuffled_permutations) {
  enum { N = 15 }; /* batch 2: 5 batches = all 10 samples per epoch */
  kept b[N];
  loader_config c = train_config(2, 2);
  take(&c, N, b);
  int order[3][NUM_SAMPLES];
  for (int e = 0; e < 3; e++) {
    int seen[NUM_SAMPLES] = {0};
    for (int k = 0; k < 5; k++)
      for (int j = 0; j < 2; j++) {
        int s = b[e * 5 + k].samples[j];
        cr_assert(s >= 0 && s < NUM_SAMPLES);
        seen[s]++;
        order[e][k * 2 + j] = s;
      }
    for (int s = 0; s < NUM_SAMPLES; s++)
      cr_assert_eq(seen[s], 1, "epoch %d: sample %d seen %d times", e, s, seen[s]);
  }
  cr_assert(memcmp(order[0], order[1], sizeof order[0]) != 0, "epochs 0 and 1 in one order");
  bool identity = true;
  for (int s = 0; s < NUM_SAMPLES; s++)
    identity &= order[0][s] == s;
  cr_assert(!identity, "epoch 0 is not shuffled");
  c.seed = 99;
  kept other[5];
  take(&c, 5, other);
  bool differs = false;
  for (int k = 0; k < 5; k++)
    differs |= memcmp(other[k].samples, b[k].samples, 2 * sizeof(int)) != 0;
  cr_assert(differs, "another seed gave the same order");
  for (int i = 0; i < N; i++)
    kept_free(&b[i]);
  for (int i = 0; i < 5; i++)
    kept_free(&other[i]);
}

Test(data_loader, two_ranks_make_up_the_global_batch) {
  enum { N = 5 }; /* global batch 4: 2 per epoch, drop_last drops 2 samples */
  kept global[N], r0[N], r1[N];
  loader_config c = train_config(4, 2);
  take(&c, N, global);
  c.batch_size = 2;
  c.world = 2;
  take(&c, N, r0);
  c.rank = 1;
  c.workers = 1;
  take(&c, N, r1);
  size_t img1 = 3 * 24 * 32, lab1 = 24 * 32;
  for (int i = 0; i < N; i++) {
    cr_assert(r0[i].n == 2 && r1[i].n == 2);
    cr_assert(!memcmp(global[i].img, r0[i].img, 2 * img1 * sizeof(float)));
    cr_assert(!memcmp(global[i].img + 2 * img1, r1[i].img, 2 * img1 * sizeof(float)));
    cr_assert(!memcmp(global[i].lab, r0[i].lab, 2 * lab1 * sizeof(int32_t)));
    cr_assert(!memcmp(global[i].lab + 2 * lab1, r1[i].lab, 2 * lab1 * sizeof(int32_t)));
    cr_assert(!memcmp(global[i].samples, r0[i].samples, 2 * sizeof(int)));
    cr_assert(!memcmp(global[i].samples + 2, r1[i].samples, 2 * sizeof(int)));
    cr_assert(global[i].pos.epoch == i / 2 && r1[i].pos.epoch == i / 2);
  }
  for (int i = 0; i < N; i++) {
    kept_free(&global[i]);
    kept_free(&r0[i]);
    kept_free(&r1[i]);
  }
}

Test(data_loader, resume_from_a_saved_position) {
  enum { N = 9 };
  kept all[N];
  loader_config c = train_config(3, 2);
  take(&c, N, all);
  loader *l;
  TRY_OK(loader_create(&c, &l));
  cr_assert_eq(loader_num_batches(l), 3);
  const loader_batch *b;
  for (int i = 0; i < 4; i++)
    TRY_OK(loader_next(l, &b));
  loader_pos pos = loader_tell(l);
  cr_assert(pos.epoch == 1 && pos.batch == 1, "position (%ld, %ld)", pos.epoch, pos.batch);
  loader_destroy(l);
  c.start = pos;
  c.workers = 1;
  kept rest[N - 4];
  take(&c, N - 4, rest);
  for (int i = 0; i < N - 4; i++)
    cr_assert(same(&rest[i], &all[4 + i]), "resumed batch %d differs", i);
  c.start = (loader_pos){0, 3};
  cr_assert(loader_create(&c, &l) == DNL_ERR_ARG, "batch 3 of 3 is past the epoch");
  for (int i = 0; i < N; i++)
    kept_free(&all[i]);
  for (int i = 0; i < N - 4; i++)
    kept_free(&rest[i]);
}

Test(data_loader, evaluation_is_one_pass_at_original_size) {
  for (int world = 1; world <= 2; world++)
    for (int rank = 0; rank < world; rank++) {
      loader_config c;
      TRY_OK(loader_config_init(&c, ds, LOADER_EVAL));
      c.world = world;
      c.rank = rank;
      c.workers = 2;
      loader *l;
      TRY_OK(loader_create(&c, &l));
      cr_assert_eq(loader_num_batches(l), NUM_SAMPLES / world);
      image img = {0}, lab = {0};
      const loader_batch *b;
      for (int k = 0; k < NUM_SAMPLES / world; k++) {
        TRY_OK(loader_next(l, &b));
        cr_assert_not_null(b);
        int i = rank + k * world;
        cr_assert(b->n == 1 && b->samples[0] == i && b->w == 40 + i && b->h == 30 + 2 * i);
        TRY_OK(dataset_read(ds, i, &img, &lab));
        float *want = malloc(sizeof(float) * 3 * b->w * b->h);
        augment_normalize(&c.augment, &img, want);
        cr_assert(!memcmp(want, b->images, sizeof(float) * 3 * b->w * b->h));
        for (int p = 0; p < b->w * b->h; p++)
          cr_assert_eq(b->labels[p], lab.data[p]);
        free(want);
      }
      TRY_OK(loader_next(l, &b));
      cr_assert_null(b, "the pass must end");
      TRY_OK(loader_next(l, &b));
      cr_assert_null(b);
      image_free(&img);
      image_free(&lab);
      loader_destroy(l);
    }
}

Test(data_loader, a_corrupt_file_stops_with_its_name) {
  const char *victim = dataset_image_path(ds, 6);
  tdata_truncate(victim, tdata_file_size(victim) / 2);
  loader_config c = train_config(2, 2);
  loader *l;
  TRY_OK(loader_create(&c, &l));
  const loader_batch *b;
  dnl_status st = DNL_OK;
  int delivered = 0;
  for (; delivered < 5 && (st = loader_next(l, &b)) == DNL_OK; delivered++)
    for (int j = 0; j < b->n; j++)
      cr_assert_neq(b->samples[j], 6, "a batch with the corrupt file was delivered");
  cr_assert(st == DNL_ERR_FORMAT, "status %s", dnl_status_name(st));
  cr_assert(strstr(dnl_last_error(), victim), "message '%s'", dnl_last_error());
  cr_assert(loader_next(l, &b) == st, "the error must stick");
  cr_assert(strstr(dnl_last_error(), victim));
  loader_destroy(l);
}

Test(data_loader, destroy_while_workers_are_busy) {
  for (int round = 0; round < 5; round++) {
    loader_config c = train_config(2, 3);
    c.prefetch = 2;
    loader *l;
    TRY_OK(loader_create(&c, &l));
    if (round % 2) {
      const loader_batch *b;
      TRY_OK(loader_next(l, &b));
    }
    loader_destroy(l); /* must join without hanging (suite timeout) */
  }
}

Test(data_loader, bad_configs) {
  loader_config c = train_config(11, 1); /* more than the 10 samples */
  loader *l;
  cr_assert(loader_create(&c, &l) == DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "fewer than one global batch"), "%s", dnl_last_error());
  c = train_config(2, 1);
  c.world = 2;
  c.rank = 2;
  cr_assert(loader_create(&c, &l) == DNL_ERR_ARG);
  c = train_config(2, 0);
  cr_assert(loader_create(&c, &l) == DNL_ERR_ARG);
  c = train_config(2, 1);
  c.augment.crop_w = 0;
  cr_assert(loader_create(&c, &l) == DNL_ERR_ARG);
  c.ds = NULL;
  cr_assert(loader_create(&c, &l) == DNL_ERR_ARG);
}
