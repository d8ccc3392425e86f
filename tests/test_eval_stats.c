/* The whole-set attention statistics (runner/eval_stats.h) on hand-made maps. */
#include <math.h>
#include <string.h>

#include "runner/eval_stats.h"
#include "tests/test_util.h"

/* 4 x 4 labels: class 1 in the two left columns of rows 0-1 and in the two right
 * columns of rows 2-3 (two separate regions of one class), class 0 elsewhere,
 * one ignore (cue) pixel at the top right. */
static const uint8_t labels[16] = {1, 1, 0, 255, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1};

static eval_stats fresh(bool pair, bool un) {
  eval_stats es;
  memset(&es, 0, sizeof es);
  es.pairwise = pair;
  es.unary = un;
  es.cue = true;
  return es;
}

Test(eval_stats, uniform_maps_give_ratio_one_and_entropy_one) {
  eval_stats es = fresh(true, true);
  float rows[16], unary[16];
  for (int i = 0; i < 16; i++)
    rows[i] = unary[i] = 1.0f / 16;
  int q = 0; /* a class-1 pixel of the top-left region */
  TRY_OK(eval_stats_accumulate(&es, labels, 4, 4, &q, 1, rows, unary));
  eval_stats_means m;
  TRY_OK(eval_stats_finish(&es, NULL, &m));
  /* valid pixels 15, class 1 has 8: mass 8/16 over share 8/15 */
  cr_assert_float_eq(m.pair_region_ratio, (8.0 / 16) / (8.0 / 15), 1e-9);
  cr_assert_float_eq(m.pair_far_ratio, (4.0 / 16) / (4.0 / 15), 1e-9);
  cr_assert_float_eq(m.pair_entropy, 1.0, 1e-6);
  cr_assert_float_eq(m.unary_entropy, 1.0, 1e-6);
  cr_assert_float_eq(m.unary_cue_ratio, 1.0, 1e-6);
  cr_assert(isnan(m.gamma) && isnan(m.pair_contrib), "no term sizes were added");
  eval_stats_free(&es);
}

Test(eval_stats, attention_on_the_far_region_of_the_own_class) {
  eval_stats es = fresh(true, true);
  float rows[16] = {0}, unary[16] = {0};
  /* all mass on the other class-1 region: same class, outside the own region */
  rows[10] = rows[11] = rows[14] = rows[15] = 0.25f;
  unary[3] = 1.0f; /* all unary mass on the cue pixel */
  int q = 5;
  TRY_OK(eval_stats_accumulate(&es, labels, 4, 4, &q, 1, rows, unary));
  eval_stats_means m;
  TRY_OK(eval_stats_finish(&es, NULL, &m));
  cr_assert_float_eq(m.pair_region_ratio, 15.0 / 8, 1e-9);
  cr_assert_float_eq(m.pair_far_ratio, 15.0 / 4, 1e-9);
  cr_assert_float_eq(m.pair_entropy, log(4.0) / log(16.0), 1e-6);
  cr_assert_float_eq(m.unary_cue_ratio, 16.0, 1e-6);
  cr_assert_float_eq(m.unary_entropy, 0.0, 1e-9);
  eval_stats_free(&es);
}

Test(eval_stats, a_variant_without_terms_measures_nothing) {
  eval_stats es = fresh(false, false);
  eval_stats_means m;
  TRY_OK(eval_stats_finish(&es, NULL, &m));
  cr_assert(isnan(m.pair_region_ratio) && isnan(m.unary_cue_ratio) && isnan(m.unary_entropy));
  char buf[200];
  eval_stats_format(&m, buf, sizeof buf);
  cr_assert_str_eq(buf, "");
  eval_stats_free(&es);
}

Test(eval_stats, drawn_queries_are_class_balanced_and_the_same_for_an_image) {
  int a[6], b[6], c[6];
  cr_assert_eq(eval_stats_draw_queries(labels, 16, 7, false, a, 6), 6);
  cr_assert_eq(eval_stats_draw_queries(labels, 16, 7, false, b, 6), 6);
  for (int i = 0; i < 6; i++) {
    cr_assert_eq(a[i], b[i], "the draw depends on the image index only");
    cr_assert_neq(labels[a[i]], 255, "no query on the ignore pixel");
  }
  int ones = 0;
  for (int i = 0; i < 6; i++)
    ones += labels[a[i]] == 1;
  cr_assert_eq(ones, 3, "classes 0 and 1 in turn");
  /* objects only: class 0 is left out while another class is present */
  cr_assert_eq(eval_stats_draw_queries(labels, 16, 3, true, c, 6), 6);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(labels[c[i]], 1);
  const uint8_t empty[4] = {255, 255, 255, 255};
  cr_assert_eq(eval_stats_draw_queries(empty, 4, 0, false, c, 6), 0);
}
