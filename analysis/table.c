/* `analysis table`: final mIoU per group and dataset, mean +- std over seeds. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/commands.h"
#include "analysis/paper.h"
#include "analysis/runset.h"
#include "analysis/stats.h"

typedef struct table_row {
  const run_group *g;
  stats_summary s; /* in % */
  int unfinished;
  bool has_paper;
  double paper;
} table_row;

static void usage_error(const char *msg) {
  fprintf(stderr, "analysis table: %s\nusage: analysis table FILES... [--format md|csv] "
                  "[--paper]\n", msg);
}

static void csv_field(const char *s) {
  if (!strpbrk(s, ",\"\n")) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (; *s; s++) {
    if (*s == '"')
      putchar('"');
    putchar(*s);
  }
  putchar('"');
}

static void print_csv(const table_row *rows, int n, bool paper) {
  printf("group,dataset,runs,unfinished,miou_mean,miou_std%s\n", paper ? ",paper,diff" : "");
  for (int i = 0; i < n; i++) {
    const table_row *r = &rows[i];
    csv_field(r->g->label);
    putchar(',');
    csv_field(r->g->dataset);
    printf(",%d,%d,", r->s.n, r->unfinished);
    if (r->s.n > 0)
      printf("%.4f", r->s.mean);
    putchar(',');
    if (r->s.n > 1)
      printf("%.4f", r->s.std);
    if (paper) {
      putchar(',');
      if (r->has_paper)
        printf("%.2f", r->paper);
      putchar(',');
      if (r->has_paper && r->s.n > 0)
        printf("%+.4f", r->s.mean - r->paper);
    }
    putchar('\n');
  }
}

static void print_md(const table_row *rows, int n, bool paper) {
  printf("| group | dataset | mIoU (%%) | runs |%s\n", paper ? " paper (%) | difference |" : "");
  printf("|---|---|---:|---:|%s\n", paper ? "---:|---:|" : "");
  for (int i = 0; i < n; i++) {
    const table_row *r = &rows[i];
    printf("| %s | %s | ", r->g->label, r->g->dataset);
    if (r->s.n == 0)
      printf("-");
    else if (r->s.n == 1)
      printf("%.2f", r->s.mean);
    else
      printf("%.2f ± %.2f", r->s.mean, r->s.std);
    printf(" | %d", r->s.n);
    if (r->unfinished)
      printf(" (+%d unfinished)", r->unfinished);
    printf(" |");
    if (paper) {
      if (r->has_paper)
        printf(" %.2f |", r->paper);
      else
        printf(" - |");
      if (r->has_paper && r->s.n > 0)
        printf(" %+.2f |", r->s.mean - r->paper);
      else
        printf(" - |");
    }
    putchar('\n');
  }
}

int analysis_table(int argc, char **argv) {
  bool paper = false, csv = false;
  char **files = calloc((size_t)argc + 1, sizeof *files);
  int nfiles = 0;
  if (!files)
    return 1;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--paper")) {
      paper = true;
    } else if (!strcmp(argv[i], "--format")) {
      if (i + 1 >= argc || (strcmp(argv[i + 1], "md") && strcmp(argv[i + 1], "csv"))) {
        usage_error("--format takes md or csv");
        free(files);
        return 2;
      }
      csv = !strcmp(argv[++i], "csv");
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "analysis table: unknown option %s\n", argv[i]);
      free(files);
      return 2;
    } else {
      files[nfiles++] = argv[i];
    }
  }
  if (nfiles == 0) {
    usage_error("no result files given");
    free(files);
    return 2;
  }
  run_set rs;
  if (run_set_load(&rs, files, nfiles) != DNL_OK) {
    fprintf(stderr, "analysis table: %s\n", dnl_last_error());
    run_set_free(&rs);
    free(files);
    return 1;
  }
  table_row *rows = calloc((size_t)rs.ngroups, sizeof *rows);
  double *vals = calloc((size_t)rs.n, sizeof *vals);
  if (!rows || !vals) {
    fprintf(stderr, "analysis table: out of memory\n");
    free(rows);
    free(vals);
    run_set_free(&rs);
    free(files);
    return 1;
  }
  for (int i = 0; i < rs.ngroups; i++) {
    table_row *r = &rows[i];
    r->g = &rs.groups[i];
    int n = stats_group_final_mious(&rs, r->g, vals, &r->unfinished);
    for (int k = 0; k < n; k++)
      vals[k] *= 100.0;
    r->s = stats_summarize(vals, n);
    r->has_paper = paper_miou(r->g->dataset, r->g->preset, &r->paper, NULL);
  }
  if (csv)
    print_csv(rows, rs.ngroups, paper);
  else
    print_md(rows, rs.ngroups, paper);
  free(rows);
  free(vals);
  run_set_free(&rs);
  free(files);
  return 0;
}
