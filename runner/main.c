/* runner: the harness's command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/backend.h"
#include "lib/core/omp_policy.h"
#include "lib/core/version.h"
#include "runner/cmd_blocks.h"
#include "runner/cmd_data.h"
#include "runner/cmd_import.h"
#include "runner/cmd_predict.h"
#include "runner/cmd_run.h"
#include "runner/cmd_sweep.h"

static void usage(FILE *f) {
  fprintf(f, "usage: runner <command> [options]\n"
             "commands:\n"
             "  version      print the program version and the backends of this build\n"
             "  data         synth: write the synthetic dataset; stats: check a dataset\n"
             "  blocks       list the context block variants, options and presets\n"
             "  train        train and evaluate one run (runner train CONFIG)\n"
             "  sweep        train and evaluate every run of a sweep (runner sweep SWEEP.cfg)\n"
             "  eval         evaluate a checkpoint\n"
             "  predict      label images (PNG) and logits of a checkpoint on image files\n"
             "  params       list the network's parameters, shapes and count\n"
             "  import       convert a PyTorch (.pth) or safetensors file for model.init\n"
             "  config       validate a config and print it resolved; --keys lists all keys\n"
             "  help         this text\n");
}

static int cmd_version(void) {
  printf("dnl runner %s\n", dnl_version());
  printf("backends: cpu");
  const dnl_backend *be;
  if (backend_get(DEVICE_CUDA, &be) == DNL_OK)
    printf(", cuda");
  else
    printf(" (cuda: %s)", dnl_last_error());
  printf("\n");
  return 0;
}

int main(int argc, char **argv) {
  omp_policy_reexec(argv);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version"))
    return cmd_version();
  if (!strcmp(cmd, "blocks"))
    return cmd_blocks(argc - 1, argv + 1);
  if (!strcmp(cmd, "data"))
    return cmd_data(argc - 1, argv + 1);
  if (!strcmp(cmd, "train"))
    return cmd_train(argc - 1, argv + 1);
  if (!strcmp(cmd, "sweep"))
    return cmd_sweep(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval"))
    return cmd_eval(argc - 1, argv + 1);
  if (!strcmp(cmd, "predict"))
    return cmd_predict(argc - 1, argv + 1);
  if (!strcmp(cmd, "params"))
    return cmd_params(argc - 1, argv + 1);
  if (!strcmp(cmd, "import"))
    return cmd_import(argc - 1, argv + 1);
  if (!strcmp(cmd, "config"))
    return cmd_config(argc - 1, argv + 1);
  fprintf(stderr, "runner: unknown command '%s' (see runner help)\n", cmd);
  return 2;
}
