#include "tests/test_mpi_util.h"

#include <stdio.h>

#include "tests/test_tmpdir.h"

/* lr 0.01: at 0.04 this tiny run's first steps amplify the rounding differences
 * of a split batch (1e-6 relative by iteration 3) by 10 to 100 per iteration, to
 * 1e-3 of the loss by iteration 10 on an AMD EPYC, whatever the head order; at
 * 0.01 the losses agree within 2e-7 and the weights within 1e-6 */
void test_write_dist_config(const char *path, const char *dir) {
  char text[4096];
  snprintf(text, sizeof text,
           "name = \"tiny\";\n"
           "seed = 3;\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; width = 0.25;\n"
           "          planes = [8, 16, 16, 16]; head_width = 16; dropout = 0.1; aux = true; };\n"
           "block = { variant = \"dnl\"; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 4; crop = 64;\n"
           "         workers = 1; random_resize = true; brightness = 0; flip = true;\n"
           "         synth = { cue = \"global\"; train = 16; val = 4; size = 64; }; };\n"
           "solver = { iterations = 10; lr = 0.01; };\n"
           "loss = { ohem = false; aux_weight = 0.4; };\n"
           "eval = { every = 5; mode = \"single\"; limit = 3; };\n"
           "output = { dir = \"%s/res\"; log_every = 1; checkpoint_every = 0;\n"
           "           attention_images = 1; };\n",
           dir, dir);
  file_write_text(path, text);
}

const char *test_mpirun_prefix(const char *extra_env) {
  static char buf[1024];
  snprintf(buf, sizeof buf,
           "env OMPI_MCA_mca_base_component_disable_dlclose=1 "
           "PMIX_MCA_mca_base_component_disable_dlclose=1 %s mpirun --oversubscribe "
           "--allow-run-as-root --mca btl_vader_single_copy_mechanism none",
           extra_env);
  return buf;
}
