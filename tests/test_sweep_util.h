/* What the sweep tests share (tests/test_sweep_stages.c, test_sweep_workers.c,
 * test_sweep_slurm.c): a tiny base config, running shell command lines,
 * counting in outputs, comparing checkpoints. */
#ifndef DNL_TEST_SWEEP_UTIL_H
#define DNL_TEST_SWEEP_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Writes dir/base.cfg: a tiny network on 32 px synthetic images under
 * dir/synth, `iterations` iterations with a checkpoint every `ckpt_every`
 * (0: at the end) and a loss row per iteration. */
void sweep_test_base(const char *dir, int iterations, int ckpt_every);

/* Runs a shell command line (printf-style) with $R set to the runner
 * program; returns its exit status. */
int sweep_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How often what occurs in text. */
int sweep_test_count(const char *text, const char *what);

/* Whether two checkpoints hold the same bits in /<values>/NAME for every
 * NAME under /<names> of a (momentum: the trainable tensors; params: all)
 * that starts with prefix; *compared counts them. */
bool sweep_test_same_group(const char *a, const char *b, const char *names, const char *values,
                           const char *prefix, int *compared);

#endif
