/* Small result files made with the writer (lib/store/results.h) for the tests of
 * the analysis program: fixed curves, chosen final mIoU and block statistics. */
#ifndef DNL_TEST_FAKE_RUNS_H
#define DNL_TEST_FAKE_RUNS_H

#include <stdbool.h>

#define FAKE_K 3 /* classes */
#define FAKE_IMG_H 24
#define FAKE_IMG_W 32
#define FAKE_FEAT_H 3
#define FAKE_FEAT_W 4
#define FAKE_NQ 2 /* query points per stored image */
#define FAKE_NA 2 /* stored images */

typedef struct fake_run {
  const char *run, *label, *variant, *preset, *dataset;
  int seed;
  double final_miou;
  bool finished;
} fake_run;

/* dir/<run>.h5: 100 iterations, train rows every 10; `evals` evaluations evenly up to
 * iteration 100, the last one with final_miou (earlier ones half of it); attention maps
 * for nl, unary and dnl. stats: the block statistics of the last evaluation (results_eval_stat
 * order; earlier rows get them times iter / 100), or NULL for none (NaN). */
void fake_run_write(const char *dir, const fake_run *f, const double *stats, int evals);

/* `$DNL_BIN/analysis args` run in dir; returns the exit status. */
int fake_run_analysis(const char *dir, const char *args, char **out, char **err);

#endif
