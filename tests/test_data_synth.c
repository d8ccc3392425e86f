/* The synthetic dataset generator (data/synth.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/synth.h"
#include "tests/test_data_util.h"
#include "tests/test_util.h"

static char *dir;
static void setup(void) { dir = tdata_tmpdir(); }
static void teardown(void) {
  tdata_rmrf(dir);
  free(dir);
}

TestSuite(data_synth, .init = setup, .fini = teardown);

Test(data_synth, same_seed_same_files_other_seed_other_files) {
  synth_config c = synth_defaults();
  c.n_train = 3;
  c.n_val = 2;
  c.size = 64;
  c.seed = 5;
  char a[256], b[256], pa[512], pb[512];
  tdata_path(a, sizeof a, dir, "a");
  tdata_path(b, sizeof b, dir, "b");
  TRY_OK(synth_generate(&c, a));
  TRY_OK(synth_generate(&c, b));
  const char *files[] = {"train/image/000000.png", "train/label/000002.png", "val/image/000001.png",
                         "val/label/000001.png", "synth.txt"};
  for (int i = 0; i < 5; i++) {
    snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
    snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
    cr_assert(tdata_files_equal(pa, pb), "%s differs between two runs", files[i]);
  }
  c.seed = 6;
  tdata_path(b, sizeof b, dir, "c");
  TRY_OK(synth_generate(&c, b));
  snprintf(pa, sizeof pa, "%s/train/image/000000.png", a);
  snprintf(pb, sizeof pb, "%s/train/image/000000.png", b);
  cr_assert(!tdata_files_equal(pa, pb), "another seed gave the same image");
  /* the files are a dataset */
  dataset *ds;
  TRY_OK(dataset_open("synth", a, "train", &ds));
  cr_assert_eq(dataset_size(ds), 3);
  image img = {0}, lab = {0}, ri = {0}, rl = {0};
  TRY_OK(dataset_read(ds, 2, &img, &lab));
  TRY_OK(synth_render(&c, SYNTH_TRAIN, 2, &ri, &rl)); /* seed 6 now: must differ */
  c.seed = 5;
  TRY_OK(synth_render(&c, SYNTH_TRAIN, 2, &ri, &rl));
  cr_assert(!memcmp(img.data, ri.data, 64 * 64 * 3) && !memcmp(lab.data, rl.data, 64 * 64),
            "files must hold exactly the rendered sample");
  dataset_close(ds);
  /* a directory that holds a dataset is not overwritten */
  cr_assert(synth_generate(&c, a) == DNL_ERR_IO);
  cr_assert(strstr(dnl_last_error(), "already holds"), "%s", dnl_last_error());
  image_free(&img);
  image_free(&lab);
  image_free(&ri);
  image_free(&rl);
}

static bool pure(const uint8_t *rgb, int cls) {
  for (int k = 0; k < 3; k++)
    if (rgb[k] != (k == cls - 1 ? 255 : 0))
      return false;
  return true;
}

Test(data_synth, global_cue_far_stripe_sets_every_object_class) {
  synth_config c = synth_defaults();
  image img = {0}, lab = {0};
  const int s = 128;
  int sides[4] = {0};
  for (int i = 0; i < 40; i++) {
    TRY_OK(synth_render(&c, SYNTH_TRAIN, i, &img, &lab));
    cr_assert(img.w == s && img.h == s);
    /* the stripe: the ignore pixels, all one pure colour, 16 px along one side */
    int cls = 0, x0 = s, y0 = s, x1 = -1, y1 = -1, n_ignore = 0, n_obj = 0, n_bg = 0;
    for (int p = 0; p < s * s; p++) {
      int x = p % s, y = p / s;
      if (lab.data[p] != 255)
        continue;
      n_ignore++;
      for (int k = 1; k <= 3 && !cls; k++)
        cls = pure(img.data + 3 * p, k) ? k : 0;
      cr_assert(cls && pure(img.data + 3 * p, cls), "stripe pixel not pure R/G/B");
      x0 = x < x0 ? x : x0;
      y0 = y < y0 ? y : y0;
      x1 = x > x1 ? x : x1;
      y1 = y > y1 ? y : y1;
    }
    cr_assert_eq(n_ignore, 16 * s);
    int side = x1 - x0 == 15 ? (x0 == 0 ? 0 : 1) : (y0 == 0 ? 2 : 3);
    cr_assert((side < 2 && y0 == 0 && y1 == s - 1) || (side >= 2 && x0 == 0 && x1 == s - 1));
    sides[side]++;
    for (int p = 0; p < s * s; p++) {
      int x = p % s, y = p / s, v = lab.data[p];
      if (v == 255)
        continue;
      const uint8_t *rgb = img.data + 3 * p;
      cr_assert(rgb[0] == rgb[1] && rgb[1] == rgb[2], "grey outside the stripe");
      if (v == 0) {
        n_bg++;
        continue;
      }
      n_obj++;
      cr_assert_eq(v, cls, "object class %d but stripe class %d", v, cls);
      int dist = side == 0 ? x - 15 : side == 1 ? (s - 16) - x : side == 2 ? y - 15 : (s - 16) - y;
      cr_assert(dist >= 42, "object pixel %d px from the stripe", dist);
    }
    cr_assert(n_obj > 200 && n_bg > 0, "objects %d background %d", n_obj, n_bg);
  }
  for (int k = 0; k < 4; k++)
    cr_assert(sides[k] > 0, "stripe never on side %d", k);
  image_free(&img);
  image_free(&lab);
}

Test(data_synth, region_cue_markers_set_their_region_class) {
  synth_config c = synth_defaults();
  c.cue = SYNTH_CUE_REGION;
  image img = {0}, lab = {0};
  const int s = 128;
  for (int i = 0; i < 20; i++) {
    TRY_OK(synth_render(&c, SYNTH_VAL, i, &img, &lab));
    int markers = 0, classes_seen = 0;
    for (int p = 0; p < s * s; p++) {
      int v = lab.data[p];
      const uint8_t *rgb = img.data + 3 * p;
      if (v != 255) {
        cr_assert(v >= 1 && v <= 3, "region class %d", v);
        cr_assert(rgb[0] == rgb[1] && rgb[1] == rgb[2], "region pixels are grey");
        classes_seen |= 1 << v;
        continue;
      }
      int cls = pure(rgb, 1) ? 1 : pure(rgb, 2) ? 2 : pure(rgb, 3) ? 3 : 0;
      cr_assert(cls, "a marker pixel is not pure R/G/B");
      /* the marker sits inside a region of its own class (2 px guard) */
      int x = p % s, y = p / s;
      for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++) {
          int q = (y + dy) * s + x + dx;
          cr_assert(x + dx >= 0 && x + dx < s && y + dy >= 0 && y + dy < s);
          cr_assert(lab.data[q] == 255 || lab.data[q] == cls,
                    "marker of class %d touches region class %d", cls, lab.data[q]);
        }
      markers++;
    }
    cr_assert(markers >= 3 * 64 && markers <= 5 * 64, "%d marker pixels", markers);
    cr_assert(classes_seen != 0);
  }
  image_free(&img);
  image_free(&lab);
}

Test(data_synth, bad_settings_are_rejected) {
  synth_config c = synth_defaults();
  TRY_OK(synth_check(&c));
  c.size = 16;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "size"));
  c = synth_defaults();
  c.max_axis = 60;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "room"));
  c = synth_defaults();
  c.cue = SYNTH_CUE_REGION;
  c.max_regions = 20;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "regions"));
  c = synth_defaults();
  c.cue = SYNTH_CUE_REGION;
  c.marker = 40;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "marker"));
  c = synth_defaults();
  c.n_train = c.n_val = 0;
  cr_assert(synth_check(&c) == DNL_ERR_ARG);
}

/* Connected components (4-neighbours) of one label value; comp[p] = id + 1. */
static int components(const uint8_t *lab, int s, int value, int *comp) {
  int n = 0, *stack = malloc((size_t)s * s * sizeof *stack);
  memset(comp, 0, (size_t)s * s * sizeof *comp);
  for (int p = 0; p < s * s; p++) {
    if (lab[p] != value || comp[p])
      continue;
    int top = 0;
    stack[top++] = p;
    comp[p] = ++n;
    while (top) {
      int q = stack[--top], x = q % s, y = q / s;
      int nb[4] = {x ? q - 1 : -1, x < s - 1 ? q + 1 : -1, y ? q - s : -1, y < s - 1 ? q + s : -1};
      for (int k = 0; k < 4; k++)
        if (nb[k] >= 0 && lab[nb[k]] == value && !comp[nb[k]]) {
          comp[nb[k]] = n;
          stack[top++] = nb[k];
        }
    }
  }
  free(stack);
  return n;
}

Test(data_synth, match_cue_discs_come_in_far_pairs_and_one_marker_gives_the_class) {
  synth_config c = synth_defaults();
  c.cue = SYNTH_CUE_MATCH;
  image img = {0}, lab = {0};
  const int s = 128;
  int *comp = malloc((size_t)s * s * sizeof *comp);
  for (int i = 0; i < 30; i++) {
    TRY_OK(synth_render(&c, SYNTH_TRAIN, i, &img, &lab));
    int discs = 0, with_marker = 0;
    for (int v = SYNTH_MATCH_CLASS0; v < SYNTH_CLASSES; v++) {
      int n = components(lab.data, s, v, comp);
      for (int d = 1; d <= n; d++) {
        /* a disc: one tint (the same RGB up to noise) unless a pure marker of its class */
        long cnt = 0, markers = 0;
        double cx = 0, cy = 0;
        for (int p = 0; p < s * s; p++) {
          if (comp[p] != d)
            continue;
          cnt++, cx += p % s, cy += p / s;
          const uint8_t *rgb = img.data + 3 * p;
          if (pure(rgb, v - SYNTH_MATCH_CLASS0 + 1))
            markers++;
          else
            cr_assert(!(rgb[0] == rgb[1] && rgb[1] == rgb[2]), "a disc pixel is grey");
        }
        cr_assert(cnt > 100, "disc of %ld px", cnt);
        cr_assert(markers == 0 || markers == 36, "marker of %ld px (expected 6 x 6)", markers);
        with_marker += markers > 0;
        discs++;
      }
    }
    cr_assert(discs >= 4 && discs % 2 == 0, "image %d: %d discs (identities of 2 discs)", i, discs);
    cr_assert_eq(with_marker, discs / 2, "image %d: one marker per identity", i);
    for (int p = 0; p < s * s; p++)
      cr_assert(lab.data[p] == 0 || lab.data[p] >= SYNTH_MATCH_CLASS0, "class %d", lab.data[p]);
  }
  free(comp);
  image_free(&img);
  image_free(&lab);
}

Test(data_synth, both_cues_in_one_image) {
  synth_config c = synth_defaults();
  c.cue = SYNTH_CUE_BOTH;
  c.distance = 64;
  image img = {0}, lab = {0};
  const int s = 128;
  for (int i = 0; i < 20; i++) {
    TRY_OK(synth_render(&c, SYNTH_VAL, i, &img, &lab));
    int n_ignore = 0, far_cue = 0, matched = 0;
    for (int p = 0; p < s * s; p++) {
      n_ignore += lab.data[p] == 255;
      far_cue += lab.data[p] >= 1 && lab.data[p] <= 3;
      matched += lab.data[p] >= SYNTH_MATCH_CLASS0 && lab.data[p] < SYNTH_CLASSES;
    }
    cr_assert_eq(n_ignore, 16 * s, "only the stripe is ignore");
    cr_assert(far_cue > 0 && matched > 0, "image %d: %d stripe-cued, %d matched pixels", i, far_cue,
              matched);
  }
  image_free(&img);
  image_free(&lab);
}

Test(data_synth, cue_names_round_trip_and_bad_match_settings_are_rejected) {
  for (int k = SYNTH_CUE_GLOBAL; k <= SYNTH_CUE_BOTH; k++) {
    synth_cue cue;
    TRY_OK(synth_cue_parse(synth_cue_name((synth_cue)k), &cue));
    cr_assert_eq((int)cue, k);
  }
  synth_cue cue;
  cr_assert(synth_cue_parse("stripe", &cue) == DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "expected global, region, match or both"), "%s",
            dnl_last_error());
  synth_config c = synth_defaults();
  c.cue = SYNTH_CUE_MATCH;
  TRY_OK(synth_check(&c));
  c.max_identities = 9;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "identities"));
  c = synth_defaults();
  c.cue = SYNTH_CUE_BOTH;
  c.match_marker = 30;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "marker"));
  c = synth_defaults();
  c.cue = SYNTH_CUE_MATCH;
  c.match_distance = 170;
  cr_assert(synth_check(&c) == DNL_ERR_ARG && strstr(dnl_last_error(), "distance"));
}
