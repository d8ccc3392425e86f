/* `analysis table`: final mIoU and the final evaluation's block statistics per group
 * and dataset (mean +- std over seeds), the paired differences to a reference group,
 * and the paper's claims (analysis/table_claims.c). */
#include "analysis/table.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/commands.h"
#include "analysis/paper.h"
#include "analysis/stats.h"
#include "lib/store/results.h"

/* The final-evaluation statistics the table shows, with their markdown titles. */
static const struct {
  const char *name, *title, *format;
} shown_stats[] = {{"pair_region_ratio", "pair ratio", "%.2f"},
                   {"unary_cue_ratio", "unary cue ratio", "%.2f"},
                   {"gamma", "gamma", "%.3f"},
                   {"pair_contrib", "pair contrib", "%.3f"},
                   {"unary_contrib", "unary contrib", "%.3f"},
                   {"pair_far_ratio", "pair far ratio", "%.2f"}};
#define SHOWN_STATS 6

typedef struct table_row {
  const run_group *g;
  stats_summary s; /* final mIoU in % */
  int unfinished;
  bool has_paper;
  double paper;
  bool is_ref, has_ref; /* the row is the reference group / its dataset has one */
  paired_diff d;        /* mIoU difference to the reference (points) */
  stats_summary stat[SHOWN_STATS];
} table_row;

typedef struct table_options {
  bool paper, csv, claims;
  table_groups groups;
} table_options;

static const char *const usage_text =
    "usage: analysis table FILES... [--format md|csv] [--paper] [--ref GROUP] [--claims]\n"
    "                     [--claim-nl GROUP] [--claim-dnl GROUP] [--claim-pairwise GROUP]\n";

static int stat_index(const char *name) {
  for (int i = 0; i < RESULTS_EVAL_STATS; i++)
    if (!strcmp(results_eval_stat_names[i], name))
      return i;
  return -1;
}

void table_csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

void table_csv_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.6g", v);
}

/* Mean +- std of the group's final values of statistic `metric`. */
static stats_summary group_stat(const run_set *rs, const run_group *g, int metric, double *buf) {
  int n = 0;
  for (int i = 0; i < g->n; i++)
    if (run_final_metric(&rs->runs[g->runs[i]], metric, &buf[n]))
      n++;
  return stats_summarize(buf, n);
}

static dnl_status fill_row(const run_set *rs, const table_options *o, const run_group *g,
                           double *buf, table_row *r) {
  r->g = g;
  int n = stats_group_final_mious(rs, g, buf, &r->unfinished);
  for (int k = 0; k < n; k++)
    buf[k] *= 100.0;
  r->s = stats_summarize(buf, n);
  r->has_paper = paper_miou(g->dataset, g->preset, &r->paper, NULL);
  for (int k = 0; k < SHOWN_STATS; k++)
    r->stat[k] = group_stat(rs, g, stat_index(shown_stats[k].name), buf);
  const run_group *ref = run_set_find_group(rs, o->groups.ref, g->dataset);
  r->has_ref = ref != NULL;
  r->is_ref = ref == g;
  r->d = (paired_diff){0, NAN, NAN, NAN, NAN, NAN};
  return ref && ref != g ? paired_compare(rs, g, ref, METRIC_MIOU, &r->d) : DNL_OK;
}

static void print_csv(const table_row *rows, int n, const table_options *o) {
  printf("group,dataset,runs,unfinished,miou_mean,miou_std%s,ref,pairs,diff_mean,diff_sd,"
         "p_value,ci_low,ci_high",
         o->paper ? ",paper,diff" : "");
  for (int k = 0; k < SHOWN_STATS; k++)
    printf(",%s_mean,%s_std", shown_stats[k].name, shown_stats[k].name);
  putchar('\n');
  for (int i = 0; i < n; i++) {
    const table_row *r = &rows[i];
    table_csv_field(stdout, r->g->label);
    putchar(',');
    table_csv_field(stdout, r->g->dataset);
    printf(",%d,%d,", r->s.n, r->unfinished);
    if (r->s.n > 0)
      printf("%.4f", r->s.mean);
    putchar(',');
    if (r->s.n > 1)
      printf("%.4f", r->s.std);
    if (o->paper) {
      putchar(',');
      if (r->has_paper)
        printf("%.2f", r->paper);
      putchar(',');
      if (r->has_paper && r->s.n > 0)
        printf("%+.4f", r->s.mean - r->paper);
    }
    putchar(',');
    if (r->has_ref)
      table_csv_field(stdout, o->groups.ref);
    printf(",%d,", r->d.n);
    const double paired[] = {r->d.mean, r->d.sd, r->d.p, r->d.lo, r->d.hi};
    for (int k = 0; k < 5; k++) {
      if (k)
        putchar(',');
      table_csv_number(stdout, paired[k]);
    }
    for (int k = 0; k < SHOWN_STATS; k++) {
      putchar(',');
      table_csv_number(stdout, r->stat[k].mean);
      putchar(',');
      if (r->stat[k].n > 1)
        table_csv_number(stdout, r->stat[k].std);
    }
    putchar('\n');
  }
}

/* mean, or mean ± std with two or more values, in `format`; "-" without values */
static void print_summary(const stats_summary *s, const char *format) {
  if (s->n == 0) {
    printf("-");
    return;
  }
  printf(format, s->mean);
  if (s->n > 1) {
    printf(" ± ");
    printf(format, s->std);
  }
}

static void print_md_groups(const table_row *rows, int n, const table_options *o,
                            const bool *show) {
  printf("| group | dataset | mIoU (%%) | runs |%s", o->paper ? " paper (%) | difference |" : "");
  for (int k = 0; k < SHOWN_STATS; k++)
    if (show[k])
      printf(" %s |", shown_stats[k].title);
  printf("\n|---|---|---:|---:|%s", o->paper ? "---:|---:|" : "");
  for (int k = 0; k < SHOWN_STATS; k++)
    if (show[k])
      printf("---:|");
  putchar('\n');
  for (int i = 0; i < n; i++) {
    const table_row *r = &rows[i];
    printf("| %s | %s | ", r->g->label, r->g->dataset);
    print_summary(&r->s, "%.2f");
    printf(" | %d", r->s.n);
    if (r->unfinished)
      printf(" (+%d unfinished)", r->unfinished);
    printf(" |");
    if (o->paper) {
      if (r->has_paper)
        printf(" %.2f |", r->paper);
      else
        printf(" - |");
      if (r->has_paper && r->s.n > 0)
        printf(" %+.2f |", r->s.mean - r->paper);
      else
        printf(" - |");
    }
    for (int k = 0; k < SHOWN_STATS; k++)
      if (show[k]) {
        putchar(' ');
        print_summary(&r->stat[k], shown_stats[k].format);
        printf(" |");
      }
    putchar('\n');
  }
  bool any = false;
  for (int k = 0; k < SHOWN_STATS; k++)
    any = any || show[k];
  if (any)
    printf("\nBlock statistics of the final evaluation over the validation set, mean ± std over "
           "seeds: pair ratio = pairwise attention mass on the pixels of the query's own class / "
           "their share (1 = no preference); pair far ratio = the same outside the query's "
           "connected region; unary cue ratio = unary mass on the cue / the cue's share; "
           "contrib = norm of the term's output / norm of the block input (a ratio far from 1 "
           "with a contribution near 0 is not used by the network).\n");
}

static void print_md_paired(const table_row *rows, int n, const run_set *rs,
                            const table_options *o) {
  const char *ref = o->groups.ref;
  bool any = false;
  for (int i = 0; i < n; i++)
    any = any || (rows[i].has_ref && !rows[i].is_ref);
  printf("\n### Paired differences to `%s`\n\n", ref);
  if (any)
    printf("Final mIoU of each group minus `%s`'s, in points, over the seeds both ran "
           "(runs paired by seed within a dataset); sd: standard deviation of the "
           "differences; p: two-sided paired t-test; interval: bootstrap 95%% interval of the "
           "mean difference.\n\n| group | dataset | difference | sd | pairs | p | 95%% "
           "interval |\n|---|---|---:|---:|---:|---:|---:|\n",
           ref);
  for (int i = 0; i < n; i++) {
    const table_row *r = &rows[i];
    if (!r->has_ref || r->is_ref)
      continue;
    const paired_diff *d = &r->d;
    printf("| %s | %s | ", r->g->label, r->g->dataset);
    if (d->n == 0) {
      printf("- | - | 0 | - | - |\n");
      continue;
    }
    printf("%+.2f | ", d->mean);
    if (d->n > 1)
      printf("%.2f | %d | %.3g | [%+.2f, %+.2f] |\n", d->sd, d->n, d->p, d->lo, d->hi);
    else
      printf("- | 1 | - | - |\n");
  }
  for (int k = 0; k < rs->ndatasets; k++)
    if (!run_set_find_group(rs, ref, rs->datasets[k]))
      printf("%sNo `%s` runs in dataset %s: no paired differences there.\n", any ? "\n" : "", ref,
             rs->datasets[k]);
}

static int usage_error(const char *msg) {
  fprintf(stderr, "analysis table: %s\n%s", msg, usage_text);
  return 2;
}

/* Options into o and the file names into files; 0 or the exit status of a usage error. */
static int parse_args(int argc, char **argv, table_options *o, char **files, int *nfiles) {
  *o = (table_options){false, false, false, {"none", "nl", "dnl", "pairwise"}};
  const struct {
    const char *flag;
    const char **dst;
  } group_flags[] = {{"--ref", &o->groups.ref},
                     {"--claim-nl", &o->groups.nl},
                     {"--claim-dnl", &o->groups.dnl},
                     {"--claim-pairwise", &o->groups.pairwise}};
  *nfiles = 0;
  for (int i = 0; i < argc; i++) {
    bool matched = false;
    for (size_t k = 0; k < sizeof group_flags / sizeof group_flags[0] && !matched; k++)
      if (!strcmp(argv[i], group_flags[k].flag)) {
        if (i + 1 >= argc || !argv[i + 1][0]) {
          char msg[96];
          snprintf(msg, sizeof msg, "%s takes a group label", group_flags[k].flag);
          return usage_error(msg);
        }
        *group_flags[k].dst = argv[++i];
        matched = true;
      }
    if (matched)
      continue;
    if (!strcmp(argv[i], "--paper")) {
      o->paper = true;
    } else if (!strcmp(argv[i], "--claims")) {
      o->claims = true;
    } else if (!strcmp(argv[i], "--format")) {
      if (i + 1 >= argc || (strcmp(argv[i + 1], "md") && strcmp(argv[i + 1], "csv")))
        return usage_error("--format takes md or csv");
      o->csv = !strcmp(argv[++i], "csv");
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "analysis table: unknown option %s\n%s", argv[i], usage_text);
      return 2;
    } else {
      files[(*nfiles)++] = argv[i];
    }
  }
  return *nfiles ? 0 : usage_error("no result files given");
}

static dnl_status print_tables(const run_set *rs, const table_options *o) {
  table_row *rows = calloc((size_t)rs->ngroups, sizeof *rows);
  double *buf = calloc((size_t)rs->n, sizeof *buf);
  dnl_status s = rows && buf ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "table of %d groups", rs->ngroups);
  bool show[SHOWN_STATS] = {false};
  for (int i = 0; s == DNL_OK && i < rs->ngroups; i++) {
    s = fill_row(rs, o, &rs->groups[i], buf, &rows[i]);
    for (int k = 0; k < SHOWN_STATS; k++)
      show[k] = show[k] || rows[i].stat[k].n > 0;
  }
  if (s == DNL_OK && o->csv && o->claims) {
    s = table_print_claims(stdout, rs, &o->groups, true);
  } else if (s == DNL_OK && o->csv) {
    print_csv(rows, rs->ngroups, o);
  } else if (s == DNL_OK) {
    print_md_groups(rows, rs->ngroups, o, show);
    print_md_paired(rows, rs->ngroups, rs, o);
    if (o->claims || table_claims_apply(rs, &o->groups))
      s = table_print_claims(stdout, rs, &o->groups, false);
  }
  free(rows);
  free(buf);
  return s;
}

int analysis_table(int argc, char **argv) {
  char **files = calloc((size_t)argc + 1, sizeof *files);
  if (!files)
    return 1;
  table_options o;
  int nfiles = 0, rc = parse_args(argc, argv, &o, files, &nfiles);
  if (rc) {
    free(files);
    return rc;
  }
  run_set rs;
  if (run_set_load(&rs, files, nfiles) != DNL_OK || print_tables(&rs, &o) != DNL_OK) {
    fprintf(stderr, "analysis table: %s\n", dnl_last_error());
    rc = 1;
  }
  run_set_free(&rs);
  free(files);
  return rc;
}
