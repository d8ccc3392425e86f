/* What differs between the network a weight file was trained as and the one a
 * config builds, in the words of the config (depth, classes, head width, the
 * block's terms, the auxiliary head), read off the comparison of their
 * parameter names and shapes (SPEC 2 names). The two published block families
 * (nonlocalnowd, nonlocalbn) have the same names: what tells them apart is the
 * config's preset, not the file (docs/pretrained.md). */
#ifndef DNL_RUNNER_ARCH_DIFF_H
#define DNL_RUNNER_ARCH_DIFF_H

#include <stddef.h>

#include "lib/store/checkpoint.h"

/* "layer3: 6 residual units in the file, 23 in the network (ResNet-50, ResNet-101);
 * classes: 150 in the file, 19 in the network; ..." into buf; empty when the
 * report has no missing, unexpected or mismatched tensor. */
void arch_diff_describe(const checkpoint_report *rep, char *buf, size_t len);

#endif
