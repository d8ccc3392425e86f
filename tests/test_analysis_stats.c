/* The statistics behind `analysis table`'s paired view: incomplete beta, Student t,
 * paired t-test and bootstrap interval, against closed forms and published quantiles. */
#include <math.h>

#include "analysis/stats.h"
#include "tests/test_util.h"

/* I_x(a, b) for integer a, b: P(at least a successes in a + b - 1 trials of probability x) */
static double binomial_tail(double x, int a, int b) {
  int n = a + b - 1;
  double sum = 0.0;
  for (int j = a; j <= n; j++) {
    double c = 1.0;
    for (int i = 1; i <= j; i++)
      c = c * (n - j + i) / i;
    sum += c * pow(x, j) * pow(1.0 - x, n - j);
  }
  return sum;
}

Test(analysis_stats, incomplete_beta_matches_closed_forms) {
  const double xs[] = {0.0, 0.01, 0.2, 0.5, 0.77, 0.99, 1.0};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    double x = xs[i];
    cr_assert_float_eq(stats_incomplete_beta(x, 1.0, 1.0), x, 1e-12, "x = %g", x);
    cr_assert_float_eq(stats_incomplete_beta(x, 3.5, 1.0), pow(x, 3.5), 1e-12, "x = %g", x);
    cr_assert_float_eq(stats_incomplete_beta(x, 1.0, 2.5), 1.0 - pow(1.0 - x, 2.5), 1e-12, "x = %g",
                       x);
    for (int a = 1; a <= 7; a += 2)
      for (int b = 1; b <= 9; b += 4)
        cr_assert_float_eq(stats_incomplete_beta(x, a, b), binomial_tail(x, a, b), 1e-12,
                           "I_%g(%d, %d)", x, a, b);
  }
  cr_assert_float_eq(stats_incomplete_beta(0.5, 0.5, 0.5), 0.5, 1e-12);
  cr_assert_float_eq(stats_incomplete_beta(0.5, 40.0, 40.0), 0.5, 1e-12);
  /* I_x(1/2, 1/2) = (2 / pi) asin(sqrt(x)) */
  cr_assert_float_eq(stats_incomplete_beta(0.3, 0.5, 0.5), 2.0 / M_PI * asin(sqrt(0.3)), 1e-12);
  cr_assert(isnan(stats_incomplete_beta(1.5, 1.0, 1.0)));
  cr_assert(isnan(stats_incomplete_beta(0.5, 0.0, 1.0)));
}

Test(analysis_stats, student_t_cdf_matches_known_values) {
  /* df 1 is the Cauchy distribution, df 2 has a closed form */
  cr_assert_float_eq(stats_student_t_cdf(1.0, 1.0), 0.75, 1e-12);
  cr_assert_float_eq(stats_student_t_cdf(-1.0, 1.0), 0.25, 1e-12);
  cr_assert_float_eq(stats_student_t_cdf(0.0, 7.0), 0.5, 1e-12);
  for (double t = -6.0; t <= 6.0; t += 0.75)
    cr_assert_float_eq(stats_student_t_cdf(t, 2.0), 0.5 + t / (2.0 * sqrt(2.0 + t * t)), 1e-12,
                       "t = %g", t);
  /* published two-sided 5% and 1% critical values (t tables) */
  const struct {
    double df, t, p;
  } table[] = {{2, 4.302652730, 0.975},   {4, 2.776445105, 0.975}, {10, 2.228138852, 0.975},
               {30, 2.042272456, 0.975},  {5, 4.032142984, 0.995}, {20, 2.845339710, 0.995},
               {120, 1.979930405, 0.975}, {3, -3.182446305, 0.025}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    cr_assert_float_eq(stats_student_t_cdf(table[i].t, table[i].df), table[i].p, 1e-8,
                       "df %g, t %g: %.10f", table[i].df, table[i].t,
                       stats_student_t_cdf(table[i].t, table[i].df));
}

Test(analysis_stats, paired_t_test_p_value) {
  /* differences 2, 3, 1: mean 2, sd 1, t = 2 sqrt(3), df 2 */
  const double d[] = {2.0, 3.0, 1.0};
  double t = 2.0 * sqrt(3.0);
  cr_assert_float_eq(stats_t_test_p(d, 3), 1.0 - t / sqrt(2.0 + t * t), 1e-12);
  const double same[] = {0.5, 0.5, 0.5}, zero[] = {0.0, 0.0};
  cr_assert_eq(stats_t_test_p(same, 3), 0.0);
  cr_assert_eq(stats_t_test_p(zero, 2), 1.0);
  cr_assert(isnan(stats_t_test_p(d, 1)));
  /* symmetric around 0: p = 1 */
  const double sym[] = {-1.0, 1.0, -2.0, 2.0};
  cr_assert_float_eq(stats_t_test_p(sym, 4), 1.0, 1e-12);
}

Test(analysis_stats, bootstrap_interval_is_deterministic_and_sane) {
  const double d[] = {2.0, 3.0, 1.0, 2.5, 1.5};
  double lo, hi, lo2, hi2;
  stats_bootstrap_mean_ci(d, 5, 4000, 18, &lo, &hi);
  stats_bootstrap_mean_ci(d, 5, 4000, 18, &lo2, &hi2);
  cr_assert(lo == lo2 && hi == hi2, "the same seed gives the same interval");
  cr_assert(lo >= 1.0 && lo < 2.0 && hi > 2.0 && hi <= 3.0, "[%g, %g]", lo, hi);
  /* two values 0 and 1: resampled means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 */
  const double two[] = {0.0, 1.0};
  stats_bootstrap_mean_ci(two, 2, 10000, 3, &lo, &hi);
  cr_assert(lo == 0.0 && hi == 1.0, "[%g, %g]", lo, hi);
  const double same[] = {0.25, 0.25, 0.25};
  stats_bootstrap_mean_ci(same, 3, 100, 1, &lo, &hi);
  cr_assert(lo == 0.25 && hi == 0.25);
  stats_bootstrap_mean_ci(d, 1, 100, 1, &lo, &hi);
  cr_assert(isnan(lo) && isnan(hi));
}
