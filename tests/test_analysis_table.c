/* `analysis table`'s paired view, final statistics and claims on small result files. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/store/results.h"
#include "tests/test_fake_runs.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

/* pair_region_ratio, pair_entropy, unary_cue_ratio, unary_boundary_ratio, unary_entropy,
 * gamma, pair_contrib, unary_contrib, pair_far_ratio of a final evaluation (far: NaN) */
static void stats_of(double *s, double pair_ratio, double cue_ratio, double gamma) {
  const double v[RESULTS_EVAL_STATS] = {pair_ratio, 0.9, cue_ratio, NAN, NAN, gamma, 0.1, NAN, NAN};
  memcpy(s, v, sizeof v);
}

typedef struct spec {
  const char *label;
  int seed;
  double miou, pair_ratio, cue_ratio, gamma;
  bool finished;
} spec;

/* none, nl, pairwise, dnl on synth (seeds 1-3, dnl also 4, pairwise only 1-2), one
 * unfinished nl run of seed 4; file names into files */
static void make_ablation(const char *dir, char *files, size_t len) {
  const spec runs[] = {
      {"none", 1, 0.50, NAN, NAN, NAN, true},     {"none", 2, 0.55, NAN, NAN, NAN, true},
      {"none", 3, 0.60, NAN, NAN, NAN, true},     {"nl", 1, 0.52, 1.0, NAN, 0.01, true},
      {"nl", 2, 0.58, 1.0, NAN, 0.02, true},      {"nl", 3, 0.61, 1.0, NAN, 0.03, true},
      {"nl", 4, 0.90, 5.0, NAN, 0.5, false},      {"pairwise", 1, 0.53, 1.5, NAN, 0.1, true},
      {"pairwise", 2, 0.57, 1.7, NAN, 0.2, true}, {"dnl", 1, 0.60, 1.0, 2.0, 0.1, true},
      {"dnl", 2, 0.67, 1.3, 3.0, 0.2, true},      {"dnl", 3, 0.69, 0.9, 4.0, 0.3, true},
      {"dnl", 4, 0.70, 1.0, 2.0, 0.1, true}};
  size_t n = 0;
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s_s%d", runs[i].label, runs[i].seed);
    fake_run f = {name,    runs[i].label, runs[i].label, "",
                  "synth", runs[i].seed,  runs[i].miou,  runs[i].finished};
    double s[RESULTS_EVAL_STATS];
    stats_of(s, runs[i].pair_ratio, runs[i].cue_ratio, runs[i].gamma);
    fake_run_write(dir, &f, strcmp(runs[i].label, "none") ? s : NULL, 2);
    n += (size_t)snprintf(files + n, len - n, "%s/%s.h5 ", dir, name);
  }
}

Test(analysis_table, paired_differences_statistics_and_claims) {
  char dir[64], files[4096], args[4400];
  tmpdir_make(dir, sizeof dir, "analysis_table");
  make_ablation(dir, files, sizeof files);
  char *out, *err;
  snprintf(args, sizeof args, "table %s", files);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  /* statistic columns; unary contrib is NaN in every run and left out */
  cr_assert(strstr(out, "| group | dataset | mIoU (%) | runs | pair ratio | unary cue ratio | "
                        "gamma | pair contrib |\n"),
            "%s", out);
  cr_assert(strstr(out, "| none | synth | 55.00 ± 5.00 | 3 | - | - | - | - |\n"), "%s", out);
  cr_assert(strstr(out, "| nl | synth | 57.00 ± 4.58 | 3 (+1 unfinished) | 1.00 ± 0.00 | - | "
                        "0.020 ± 0.010 | 0.100 ± 0.000 |\n"),
            "%s", out);
  cr_assert(strstr(out, "| dnl | synth | 66.50 ± 4.51 | 4 | 1.05 ± 0.17 | 2.75 ± 0.96 |"), "%s",
            out);
  /* nl - none: 2, 3, 1 points: sd 1, t = 2 sqrt(3) with 2 degrees of freedom, p = 0.0742 */
  cr_assert(strstr(out, "### Paired differences to `none`"), "%s", out);
  cr_assert(strstr(out, "| nl | synth | +2.00 | 1.00 | 3 | 0.0742 | [+1.00, +3.00] |\n"), "%s",
            out);
  cr_assert(strstr(out, "| pairwise | synth | +2.50 | 0.71 | 2 | 0.126 |"), "%s", out);
  /* dnl's seed 4 has no none run: 3 pairs */
  cr_assert(strstr(out, "| dnl | synth | +10.33 | 1.53 | 3 |"), "%s", out);
  cr_assert(!strstr(out, "| none | synth | +"), "the reference has no row: %s", out);

  /* claims: dnl - nl = 8, 9, 8 points; pair ratio pairwise - nl = 0.5, 0.7 (holds),
   * dnl - nl = 0, 0.3, -0.1 (not shown); dnl - none = 10, 12, 9 */
  cr_assert(strstr(out, "### Claims"), "%s", out);
  cr_assert(strstr(out, "- (a) DNL (`dnl`) > NL (`nl`) in mIoU: `dnl` - `nl` = +8.33 points "
                        "(sd 0.58, 3 pairs, p = 0.0016"),
            "%s", out);
  cr_assert(strstr(out, "`pairwise` - `nl` = +0.600 (sd 0.141, 2 pairs, p = 0.105"), "%s", out);
  cr_assert(strstr(out, "`dnl` - `nl` = +0.067 (sd 0.208, 3 pairs"), "%s", out);
  cr_assert(strstr(out, "): **holds: diff > 2 sd**; `dnl` - `nl` = +0.067"), "%s", out);
  cr_assert(strstr(out, "[-0.100, +0.300]): **not shown**\n"), "%s", out);
  cr_assert(strstr(out, "- (c) DNL (`dnl`) > `none` in mIoU (the ablation's baseline): `dnl` - "
                        "`none` = +10.33 points (sd 1.53, 3 pairs"),
            "%s", out);

  /* CSV: the groups with their paired columns, or the claims */
  snprintf(args, sizeof args, "table --format csv %s", files);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "\nnl,synth,3,1,57.0000,4.5826,none,3,2,1,0.0741799,1,3,1,0,,,0.02,0.01,"
                        "0.1,0,,,,\n"),
            "%s", out);
  snprintf(args, sizeof args, "table --format csv --claims %s", files);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "claim,dataset,metric,a,b,pairs,diff_mean,diff_sd,p_value,ci_low,"
                        "ci_high,verdict\n"),
            "%s", out);
  cr_assert(strstr(out, "\nb,synth,pair_region_ratio,pairwise,nl,2,0.6,0.141421,0.105137,0.5,0.7,"),
            "%s", out);
  cr_assert(strstr(out, ",holds: diff > 2 sd\n"), "%s", out);
  cr_assert(strstr(out, "\nc,synth,miou,dnl,none,3,"), "%s", out);
  tmpdir_remove(dir);
}

Test(analysis_table, other_reference_and_missing_groups_are_named) {
  char dir[64], files[4096], args[4400];
  tmpdir_make(dir, sizeof dir, "analysis_table");
  make_ablation(dir, files, sizeof files);
  char *out, *err;
  /* nl as the reference: none - nl = -2, -3, -1 */
  snprintf(args, sizeof args, "table --ref nl --claim-pairwise nope %s", files);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "### Paired differences to `nl`"), "%s", out);
  cr_assert(strstr(out, "| none | synth | -2.00 | 1.00 | 3 | 0.0742 | [-3.00, -1.00] |"), "%s",
            out);
  cr_assert(strstr(out, "`nope` - `nl`: not tested: no `nope` runs; `dnl` - `nl` ="), "%s", out);
  cr_assert(!strstr(out, "- (c)"), "the reference is nl: no third claim\n%s", out);

  /* a reference that does not exist: said, not failed; claims still printed */
  snprintf(args, sizeof args, "table --ref baseline %s", files);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "No `baseline` runs in dataset synth: no paired differences there."), "%s",
            out);
  cr_assert(strstr(out, "`dnl` - `baseline`: not tested: no `baseline` runs"), "%s", out);

  /* only none runs: no claims section unless asked for */
  char one[512];
  snprintf(one, sizeof one, "%s/none_s1.h5 %s/none_s2.h5", dir, dir);
  snprintf(args, sizeof args, "table %s", one);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(!strstr(out, "### Claims"), "%s", out);
  snprintf(args, sizeof args, "table --claims %s", one);
  cr_assert_eq(fake_run_analysis(dir, args, &out, &err), 0, "%s%s", out, err);
  cr_assert(strstr(out, "`dnl` - `nl`: not tested: no `dnl` runs"), "%s", out);

  cr_assert_eq(fake_run_analysis(dir, "table --ref", &out, &err), 2);
  cr_assert(strstr(err, "--ref takes a group label"), "%s", err);
  tmpdir_remove(dir);
}
