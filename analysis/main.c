/* analysis: reads result files, draws plots, prints tables. */
#include <stdio.h>
#include <string.h>

#include "analysis/commands.h"
#include "lib/core/version.h"

static void usage(FILE *f) {
  fprintf(f, "usage: analysis <command> [options]\n"
             "commands:\n"
             "  plot FILES... [-o DIR]      loss and mIoU curves, final mIoU bars, per-class\n"
             "                              IoU, attention maps, index.md (default DIR:\n"
             "                              plots/ beside the first file)\n"
             "  table FILES... [--format md|csv] [--paper] [--ref GROUP] [--claims]\n"
             "        [--claim-nl GROUP] [--claim-dnl GROUP] [--claim-pairwise GROUP]\n"
             "                              final mIoU and block statistics per group and\n"
             "                              dataset, mean +- std over seeds; differences to\n"
             "                              --ref (default none) paired by seed, with a\n"
             "                              paired t-test and a bootstrap interval; the\n"
             "                              paper's claims (--claims: always; with --format\n"
             "                              csv, the claims instead of the groups);\n"
             "                              --paper adds the published numbers\n"
             "  version      print the program version\n"
             "  help         this text\n"
             "Files that cannot be read are skipped with a warning; the exit status is\n"
             "non-zero only when no file was usable.\n");
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
  if (!strcmp(argv[1], "plot"))
    return analysis_plot(argc - 2, argv + 2);
  if (!strcmp(argv[1], "table"))
    return analysis_table(argc - 2, argv + 2);
  fprintf(stderr, "analysis: unknown command '%s' (see analysis help)\n", argv[1]);
  return 2;
}
