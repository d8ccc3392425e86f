/* analysis: reads result files, draws plots, prints tables. */
#include <stdio.h>
#include <string.h>

#include "lib/version.h"

static void usage(FILE *f) {
  fprintf(f, "usage: analysis <command> [options]\n"
             "commands:\n"
             "  version      print the program version\n"
             "  help         this text\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
    printf("dnl analysis %s\n", dnl_version());
    return 0;
  }
  fprintf(stderr, "analysis: unknown command '%s' (see analysis help)\n", argv[1]);
  return 2;
}
