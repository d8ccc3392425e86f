/* What the data-parallel tests (tests/test_dist_mpi.c on the CPU,
 * tests/test_cuda_dist.c on GPUs) share: their tiny run and the mpirun command. */
#ifndef DNL_TEST_MPI_UTIL_H
#define DNL_TEST_MPI_UTIL_H

/* Writes to path the config of the tiny run under dir: the network of
 * test_train.c on 64 px synthetic images (data under dir/synth, results under
 * dir/res), random resize (so that crops have ignored pixels and ranks
 * different loss weights), dropout, the aux head, a global batch of 4,
 * evaluations at 5 and 10 on 3 images (one rank gets two, the other one), an
 * attention image and a loss row per iteration; device cpu. */
void test_write_dist_config(const char *path, const char *dir);

/* "env ... extra_env mpirun <flags>" for a shell command line (a static
 * buffer). Open MPI's plugins stay loaded so that LeakSanitizer (make asan) can
 * name their frames, which tests/lsan.supp suppresses; the single-copy
 * mechanism needs ptrace rights that containers often lack. */
const char *test_mpirun_prefix(const char *extra_env);

#endif
