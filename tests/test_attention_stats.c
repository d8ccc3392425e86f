#include "runner/attention_stats.h"
#include "tests/test_util.h"

/* 4x4 map, left half class 1, right half class 2: columns 1 and 2 are boundary. */
static const uint8_t label[16] = {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2};

Test(attention_stats, unary_boundary_mass) {
  float map[16] = {0};
  map[1] = 0.5f; /* boundary */
  map[0] = 0.5f; /* interior */
  double mass, share;
  unary_boundary_mass(map, label, 4, 4, &mass, &share);
  cr_assert_float_eq(mass, 0.5, 1e-12);
  cr_assert_float_eq(share, 0.5, 1e-12);
}

Test(attention_stats, pairwise_region_mass_uses_connected_region) {
  /* class 1 in two components: columns 0 and 3 (column 1..2 class 2) */
  const uint8_t lab[16] = {1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1};
  float map[16];
  for (int i = 0; i < 16; i++)
    map[i] = 1.0f / 16;
  double mass, share;
  TRY_OK(pairwise_region_mass(map, lab, 4, 4, 0, &mass, &share));
  cr_assert_float_eq(mass, 0.25, 1e-6);
  cr_assert_float_eq(share, 0.25, 1e-12);
  cr_assert_eq(pairwise_region_mass(map, lab, 4, 4, 16, &mass, &share), DNL_ERR_ARG);
}

Test(attention_stats, downsample_nearest) {
  uint8_t out[4];
  labels_downsample(label, 4, 4, out, 2, 2);
  cr_assert_eq(out[0], 1);
  cr_assert_eq(out[1], 2);
  cr_assert_eq(out[2], 1);
  cr_assert_eq(out[3], 2);
}

Test(attention_stats, unary_cue_mass_is_the_mass_on_ignore_pixels) {
  /* the right column is the cue (255) */
  const uint8_t lab[16] = {0, 1, 1, 255, 0, 1, 1, 255, 0, 0, 0, 255, 0, 0, 0, 255};
  float map[16] = {0};
  map[3] = 0.6f;
  map[7] = 0.2f;
  map[0] = 0.2f;
  double mass, share;
  unary_cue_mass(map, lab, 4, 4, &mass, &share);
  cr_assert_float_eq(mass, 0.8, 1e-6);
  cr_assert_float_eq(share, 0.25, 1e-12);
}
