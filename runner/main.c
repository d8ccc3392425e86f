/* runner: the harness's command-line program. */
#include <stdio.h>
#include <string.h>

#include "lib/backend.h"
#include "lib/version.h"
#include "runner/cmd_data.h"

static void usage(FILE *f) {
  fprintf(f, "usage: runner <command> [options]\n"
             "commands:\n"
             "  version      print the program version and the backends of this build\n"
             "  data         synth: write the synthetic dataset; stats: check a dataset\n"
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
  if (!strcmp(cmd, "data"))
    return cmd_data(argc - 1, argv + 1);
  fprintf(stderr, "runner: unknown command '%s' (see runner help)\n", cmd);
  return 2;
}
