/* The analysis program's commands; each returns the process exit code. */
#ifndef DNL_ANALYSIS_COMMANDS_H
#define DNL_ANALYSIS_COMMANDS_H

/* analysis table FILES... [--format md|csv] [--paper] [--ref G] [--claims] [--claim-nl G]
 * [--claim-dnl G] [--claim-pairwise G] */
int analysis_table(int argc, char **argv);
/* analysis plot FILES... [-o DIR] */
int analysis_plot(int argc, char **argv);

#endif
