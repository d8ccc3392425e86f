/* The block of an authors' checkpoint (SPEC 7) against a config's. The two
 * published families (nonlocalnowd, nonlocalbn) have the same tensor names;
 * what tells them apart is the run configuration the checkpoints carry
 * (config_dict: network.model_name and the nonlocal section), read here and
 * turned into this project's block settings:
 *   nonlocalnowd: no scaling when nowd holds "nl"; whiten_type in_nostd -> in,
 *     ln_nostd -> ln, anything else it does not recognise (the published
 *     ["channel"]) -> none; with_gc -> unary term; with_nl -> pairwise term;
 *   nonlocalbn: scaling 1 / (sqrt(C') * temp); "channel" -> in, ln_nostd -> ln,
 *     [] -> none; with_gc -> unary term; always pairwise.
 * Settings the harness does not implement (downsample, whitening with the
 * standard deviation or by batch norm, the shared-embedding unary of
 * with_unary) are named as such. */
#ifndef DNL_RUNNER_PUBLISHED_BLOCK_H
#define DNL_RUNNER_PUBLISHED_BLOCK_H

#include <stddef.h>

#include "blocks/block.h"
#include "lib/weights/weight_file.h"

/* diff: empty when the file's block is the config's (or the file carries no
 * config_dict: then note says the family could not be checked), else what
 * differs ("block: the file's run is nonlocalnowd with whiten_type ["ln_nostd"]
 * (dnl, whitening ln, no scaling), the config's dnl, whitening none, no
 * scaling"). note may be NULL. */
dnl_status published_block_check(const weight_file *wf, const block_config *config_block,
                                 char *diff, size_t len, char *note, size_t note_len);

#endif
