/* runner/batch_stage: the training loop's batches on the CPU (the loader's own
 * memory, no copy) and on a device, played here by a copy of the CPU table
 * that calls itself a device: batches arrive uploaded, in order and unchanged,
 * from pinned loader slots, through two alternating buffers, and the position
 * a checkpoint stores names the first batch not yet trained on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/batch_stage.h"
#include "tests/test_data_util.h"
#include "tests/test_util.h"

#define NUM_SAMPLES 8
#define BATCH 2
#define CROP 16

static char *dir;
static dataset *ds;

static void setup(void) {
  dir = tdata_tmpdir();
  const uint8_t vals[] = {0, 1, 2};
  for (int i = 0; i < NUM_SAMPLES; i++) {
    char a[512], b[512], ri[64], rl[64];
    snprintf(ri, sizeof ri, "train/image/s%02d.png", i);
    snprintf(rl, sizeof rl, "train/label/s%02d.png", i);
    tdata_write_pair(tdata_path(a, sizeof a, dir, ri), tdata_path(b, sizeof b, dir, rl), 24, 20,
                     vals, 3, (unsigned)i);
  }
  TRY_OK(dataset_open("synth", dir, "train", &ds));
}

static void teardown(void) {
  dataset_close(ds);
  tdata_rmrf(dir);
  free(dir);
}

TestSuite(batch_stage, .init = setup, .fini = teardown, .timeout = 60);

/* The fake device: the CPU's ops, counted pinned allocations and uploads. */
static int pinned_live, uploads, waits;

static dnl_status fake_pinned_alloc(size_t bytes, void **out) {
  pinned_live++;
  return cpu_backend()->host_alloc_pinned(bytes, out);
}

static void fake_pinned_free(void *p) {
  if (p)
    pinned_live--;
  cpu_backend()->host_free_pinned(p);
}

static dnl_status fake_upload(void *dst, const void *src, size_t bytes) {
  uploads++;
  return cpu_backend()->upload_async(dst, src, bytes);
}

static dnl_status fake_wait(void) {
  waits++;
  return DNL_OK;
}

static dnl_backend fake_device(void) {
  dnl_backend be = *cpu_backend();
  be.name = "fake device";
  be.device = DEVICE_CUDA;
  be.host_alloc_pinned = fake_pinned_alloc;
  be.host_free_pinned = fake_pinned_free;
  be.upload_async = fake_upload;
  be.upload_wait = fake_wait;
  pinned_live = uploads = waits = 0;
  return be;
}

static loader *make_loader(const dnl_backend *pinned, loader_pos start) {
  loader_config c;
  TRY_OK(loader_config_init(&c, ds, LOADER_TRAIN));
  c.augment.crop_w = c.augment.crop_h = CROP;
  c.batch_size = BATCH;
  c.workers = 2;
  c.seed = 77;
  c.start = start;
  c.pinned = pinned;
  loader *l;
  TRY_OK(loader_create(&c, &l));
  return l;
}

static const size_t pixels = (size_t)BATCH * CROP * CROP;

/* Batch k of a plain loader equals the staged batch's device data. */
static void expect_same_batch(const loader_batch *want, const staged_batch *got, long k) {
  cr_assert_eq(got->images.shape[0], BATCH);
  cr_assert_eq(got->images.shape[2], CROP);
  cr_assert(!memcmp(got->images.data, want->images, 3 * pixels * sizeof(float)),
            "images of batch %ld differ", k);
  cr_assert(!memcmp(got->labels, want->labels, pixels * sizeof(int32_t)),
            "labels of batch %ld differ", k);
}

Test(batch_stage, cpu_hands_out_the_loaders_memory) {
  loader *ld = make_loader(NULL, (loader_pos){0, 0});
  batch_stage st;
  TRY_OK(batch_stage_init(&st, cpu_backend(), ld, BATCH, CROP, CROP));
  cr_assert_eq(batch_stage_device_bytes(&st), 0);
  for (int k = 0; k < 3; k++) {
    staged_batch sb;
    TRY_OK(batch_stage_next(&st, &sb));
    TRY_OK(batch_stage_prefetch(&st));
    cr_assert_eq(sb.images.device, DEVICE_CPU);
    cr_assert_eq(sb.images.data, sb.host->images, "the CPU path must not copy the images");
    cr_assert_eq(sb.labels, sb.host->labels);
    loader_pos pos = batch_stage_tell(&st);
    cr_assert_eq(pos.epoch * (NUM_SAMPLES / BATCH) + pos.batch, k + 1);
  }
  batch_stage_free(&st);
  loader_destroy(ld);
}

Test(batch_stage, device_batches_arrive_in_order_through_two_buffers) {
  dnl_backend fake = fake_device();
  loader *ld = make_loader(&fake, (loader_pos){0, 0});
  cr_assert_gt(pinned_live, 0, "the loader's slots must come from host_alloc_pinned");
  loader *plain = make_loader(NULL, (loader_pos){0, 0});
  batch_stage st;
  TRY_OK(batch_stage_init(&st, &fake, ld, BATCH, CROP, CROP));
  cr_assert_eq(batch_stage_device_bytes(&st), 2 * pixels * (3 * sizeof(float) + sizeof(int32_t)));
  const float *seen[2] = {NULL, NULL};
  const long steps = NUM_SAMPLES / BATCH + 2; /* into the second epoch */
  for (long k = 0; k < steps; k++) {
    staged_batch sb;
    TRY_OK(batch_stage_next(&st, &sb));
    cr_assert_eq(sb.images.device, DEVICE_CUDA);
    cr_assert_neq(sb.images.data, sb.host->images, "device batches are uploaded copies");
    cr_assert_eq(sb.host->pos.epoch * (NUM_SAMPLES / BATCH) + sb.host->pos.batch, k);
    const loader_batch *want;
    TRY_OK(loader_next(plain, &want));
    expect_same_batch(want, &sb, k);
    seen[k % 2] = sb.images.data;
    if (k >= 2)
      cr_assert_neq(seen[0], seen[1], "two buffers take turns");
    TRY_OK(batch_stage_prefetch(&st));
    TRY_OK(batch_stage_prefetch(&st)); /* a second call starts nothing */
    cr_assert_eq(uploads, 2 * (int)(k + 2), "one image and one label upload per batch");
    /* the prefetched batch is not trained on yet: a checkpoint resumes there */
    loader_pos pos = batch_stage_tell(&st);
    cr_assert_eq(pos.epoch * (NUM_SAMPLES / BATCH) + pos.batch, k + 1);
    /* the upload into the other buffer left this batch alone */
    expect_same_batch(want, &sb, k);
  }
  cr_assert_eq(waits, steps);
  batch_stage_free(&st);
  loader_destroy(ld);
  loader_destroy(plain);
  cr_assert_eq(pinned_live, 0, "the loader frees its pinned slots");
}

Test(batch_stage, resuming_at_tell_continues_with_the_next_batch) {
  dnl_backend fake = fake_device();
  loader *ld = make_loader(&fake, (loader_pos){0, 0});
  batch_stage st;
  TRY_OK(batch_stage_init(&st, &fake, ld, BATCH, CROP, CROP));
  staged_batch sb;
  for (int k = 0; k < 3; k++) {
    TRY_OK(batch_stage_next(&st, &sb));
    TRY_OK(batch_stage_prefetch(&st));
  }
  const loader_pos at = batch_stage_tell(&st);
  TRY_OK(batch_stage_next(&st, &sb)); /* batch 3, the one after the checkpoint */
  float *want = malloc(3 * pixels * sizeof(float));
  cr_assert_not_null(want);
  memcpy(want, sb.images.data, 3 * pixels * sizeof(float));
  batch_stage_free(&st);
  loader_destroy(ld);

  loader *again = make_loader(&fake, at);
  TRY_OK(batch_stage_init(&st, &fake, again, BATCH, CROP, CROP));
  TRY_OK(batch_stage_next(&st, &sb));
  cr_assert(!memcmp(sb.images.data, want, 3 * pixels * sizeof(float)),
            "the resumed stage starts at another batch");
  free(want);
  batch_stage_free(&st);
  loader_destroy(again);
}

Test(batch_stage, batches_of_another_size_are_an_error) {
  loader *ld = make_loader(NULL, (loader_pos){0, 0});
  batch_stage st;
  TRY_OK(batch_stage_init(&st, cpu_backend(), ld, BATCH, CROP + 1, CROP));
  staged_batch sb;
  cr_assert_eq(batch_stage_next(&st, &sb), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "expected 2 x 17x16"), "%s", dnl_last_error());
  batch_stage_free(&st);
  cr_assert_eq(batch_stage_init(&st, cpu_backend(), ld, 0, CROP, CROP), DNL_ERR_ARG);
  loader_destroy(ld);
}
